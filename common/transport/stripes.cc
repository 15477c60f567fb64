#include "transport/stripes.h"

#include <cstring>

#include "base/error.h"

namespace ferry {
namespace {

constexpr char kMagic[8] = {'\x89', 'F', 'S', 'T', 'R', 'I', 'P', 'E'};

}  // namespace

std::string StripePreamble::encode() const {
  std::string out(kMagic, sizeof(kMagic));
  out.append(reinterpret_cast<const char*>(token.data()), token.size());
  out.push_back(static_cast<char>(index));
  out.push_back(static_cast<char>(count));
  return out;
}

StripePreamble StripePreamble::decode(const uint8_t* bytes, size_t len) {
  if (len != kStripePreambleBytes || std::memcmp(bytes, kMagic, sizeof(kMagic)) != 0) {
    throw ProtocolError("a striped channel did not start with the stripe preamble (a client older than this "
                        "agent, or not Ferry's)");
  }
  StripePreamble p;
  std::memcpy(p.token.data(), bytes + sizeof(kMagic), kStripeTokenBytes);
  p.index = bytes[sizeof(kMagic) + kStripeTokenBytes];
  p.count = bytes[sizeof(kMagic) + kStripeTokenBytes + 1];
  if (p.count < 2 || p.count > kMaxStripes) {
    throw ProtocolError("stripe preamble for " + std::to_string(p.count) + " channels (2 to " +
                        std::to_string(kMaxStripes) + " are allowed)");
  }
  if (p.index >= p.count) {
    throw ProtocolError("stripe preamble for channel " + std::to_string(p.index) + " of " + std::to_string(p.count));
  }
  return p;
}

bool same_token(const StripeToken& a, const StripeToken& b) {
  uint8_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ |= static_cast<uint8_t>(a[i] ^ b[i]);
  return differ == 0;
}

void encode_chunk_header(uint32_t length, uint8_t out[kStripeChunkHeaderBytes]) {
  for (size_t i = 0; i < kStripeChunkHeaderBytes; ++i) out[i] = static_cast<uint8_t>(length >> (8 * i));
}

uint32_t decode_chunk_header(const uint8_t header[kStripeChunkHeaderBytes]) {
  uint32_t length = 0;
  for (size_t i = 0; i < kStripeChunkHeaderBytes; ++i) length |= static_cast<uint32_t>(header[i]) << (8 * i);
  if (length == 0 || length > kMaxStripeChunk) {
    throw ProtocolError("a stripe chunk of " + std::to_string(length) + " bytes (1 to " +
                        std::to_string(kMaxStripeChunk) + " are allowed)");
  }
  return length;
}

}  // namespace ferry
