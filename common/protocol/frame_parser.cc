#include "protocol/frame_parser.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"

namespace ferry {

namespace {
// The buffer grows, when full, up to one largest frame: a frame is never split across its end.
constexpr size_t kMaxBufferBytes = wire::kFrameHeaderBytes + wire::kMaxFramePayload;
// Where it starts: a session's file list and control frames fit, and a fuzzer making a parser
// per input does not map and unmap 1 MiB each time (ASan serves that size with mmap).
constexpr size_t kMinBufferBytes = 64 * 1024;
}  // namespace

FrameHeader decode_frame_header(std::string_view header) {
  FERRY_CHECK(header.size() >= wire::kFrameHeaderBytes);
  const auto* h = reinterpret_cast<const unsigned char*>(header.data());
  auto type = static_cast<wire::MsgType>(h[0]);
  uint32_t length = uint32_t{h[1]} | uint32_t{h[2]} << 8 | uint32_t{h[3]} << 16 | uint32_t{h[4]} << 24;
  if (wire::msg_type_name(type) == nullptr) {
    throw ProtocolError("unknown message type " + std::to_string(h[0]));
  }
  if (length > wire::kMaxFramePayload) {
    throw ProtocolError(std::string(wire::msg_type_name(type)) + " frame of " + std::to_string(length) +
                        " bytes exceeds the limit of " + std::to_string(wire::kMaxFramePayload));
  }
  return {type, length};
}

void append_frame_header(wire::MsgType type, size_t length, std::string* out) {
  FERRY_CHECK(length <= wire::kMaxFramePayload);
  char h[wire::kFrameHeaderBytes] = {
      static_cast<char>(type), static_cast<char>(length & 0xff), static_cast<char>((length >> 8) & 0xff),
      static_cast<char>((length >> 16) & 0xff), static_cast<char>((length >> 24) & 0xff)};
  out->append(h, sizeof(h));
}

FrameParser::FrameParser()
    : buf_(std::make_unique_for_overwrite<char[]>(kMinBufferBytes)), capacity_(kMinBufferBytes) {}

std::span<char> FrameParser::space() {
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == capacity_ && capacity_ < kMaxBufferBytes) {
    size_t grown = std::min(capacity_ * 2, kMaxBufferBytes);
    auto bigger = std::make_unique_for_overwrite<char[]>(grown);
    std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    capacity_ = grown;
  }
  return {buf_.get() + end_, capacity_ - end_};
}

void FrameParser::commit(size_t n) {
  FERRY_CHECK(n <= capacity_ - end_);
  end_ += n;
}

size_t FrameParser::feed(std::string_view bytes) {
  std::span<char> room = space();
  size_t n = std::min(room.size(), bytes.size());
  std::memcpy(room.data(), bytes.data(), n);
  commit(n);
  return n;
}

FrameParser::MagicScan FrameParser::scan_magic() {
  const std::string_view magic = wire::kMagic;
  std::string_view have = pending();
  size_t at = have.find(magic);
  if (at != std::string_view::npos) {
    noise_.append(have.substr(0, at));
    begin_ += at + magic.size();
    return MagicScan::kFound;
  }
  // Keep a tail that could be the start of the magic; the rest is noise.
  size_t keep = std::min(have.size(), magic.size() - 1);
  noise_.append(have.substr(0, have.size() - keep));
  begin_ = end_ - keep;
  return noise_.size() > wire::kMaxNoiseBeforeMagic ? MagicScan::kTooMuchNoise : MagicScan::kNeedMore;
}

std::optional<Frame> FrameParser::next() {
  if (end_ - begin_ < wire::kFrameHeaderBytes) return std::nullopt;
  FrameHeader h = decode_frame_header(pending());
  if (end_ - begin_ - wire::kFrameHeaderBytes < h.length) return std::nullopt;
  Frame f{h.type, std::string_view(buf_.get() + begin_ + wire::kFrameHeaderBytes, h.length)};
  begin_ += wire::kFrameHeaderBytes + h.length;
  return f;
}

}  // namespace ferry
