#include "base/bytes.h"

#include <string>

#include "base/error.h"

namespace ferry {

void Encoder::varint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

uint8_t Decoder::u8(const char* field) {
  if (pos_ >= in_.size()) throw ProtocolError(std::string("truncated field ") + field);
  return static_cast<uint8_t>(in_[pos_++]);
}

uint64_t Decoder::varint(const char* field) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= in_.size()) throw ProtocolError(std::string("truncated field ") + field);
    auto byte = static_cast<uint8_t>(in_[pos_++]);
    if (shift == 63 && byte > 1) break;  // would overflow 64 bits
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw ProtocolError(std::string("varint too long in field ") + field);
}

uint64_t Decoder::varint_max(const char* field, uint64_t max) {
  uint64_t v = varint(field);
  if (v > max) {
    throw ProtocolError(std::string("field ") + field + " = " + std::to_string(v) +
                        " exceeds the limit " + std::to_string(max));
  }
  return v;
}

int64_t Decoder::svarint(const char* field) {
  uint64_t v = varint(field);
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

std::string_view Decoder::bytes(const char* field, size_t max_len) {
  size_t len = varint_max(field, max_len);
  return raw(field, len);
}

std::string_view Decoder::raw(const char* field, size_t len) {
  if (in_.size() - pos_ < len) {
    throw ProtocolError(std::string("truncated field ") + field + ": " + std::to_string(len) +
                        " bytes announced, " + std::to_string(in_.size() - pos_) + " present");
  }
  std::string_view v = in_.substr(pos_, len);
  pos_ += len;
  return v;
}

void Decoder::expect_end(const char* message_name) const {
  if (pos_ != in_.size()) {
    throw ProtocolError(std::to_string(in_.size() - pos_) + " unexpected trailing bytes in " +
                        message_name);
  }
}

}  // namespace ferry
