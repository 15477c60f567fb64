// Frames as bytes: [type:1][length:4 LE][payload], preceded once by the peer's magic. Sans-IO:
// the caller puts bytes in (read straight into space(), or copied with feed()) and takes whole
// frames out, so a Channel, a test, a fuzzer or another transport can drive it alike. The
// Channel adapter is engine/framing.h.
//
// Memory is bounded by the protocol, not by the peer: the buffer grows to one largest frame
// (header + wire::kMaxFramePayload) at most, a header announcing more is refused as soon as its five
// bytes are in, and the noise before the magic is capped at wire::kMaxNoiseBeforeMagic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/wire.h"

namespace ferry {

struct Frame {
  wire::MsgType type;
  std::string_view payload;  // points into the parser: valid until its next space() or feed()
};

struct FrameHeader {
  wire::MsgType type;
  uint32_t length;
};

// Validates a header's five bytes (a known type, length within the limit); throws
// ProtocolError naming what is wrong.
FrameHeader decode_frame_header(std::string_view header);
// Appends the header of a frame of `length` payload bytes; length must be within the limit.
void append_frame_header(wire::MsgType type, size_t length, std::string* out);

class FrameParser {
 public:
  FrameParser();

  // Room for the next bytes, never empty while next() is waiting for more: write up to its size,
  // then commit() how many were written. Moves buffered bytes (and grows the buffer when it is
  // full), which ends the last frame's life.
  std::span<char> space();
  void commit(size_t n);
  // Copies as much of `bytes` as there is room for and returns how many; take frames out and
  // feed the rest.
  size_t feed(std::string_view bytes);

  enum class MagicScan {
    kNeedMore,      // no magic yet: add bytes and scan again
    kFound,         // the magic is consumed; noise() holds what came before it
    kTooMuchNoise,  // more than wire::kMaxNoiseBeforeMagic bytes came without one
  };
  // Looks for the peer's magic in what is buffered. Bytes that cannot be part of it move to
  // noise(); a tail that could be its start stays buffered.
  MagicScan scan_magic();
  const std::string& noise() const { return noise_; }

  // The next whole frame, or nothing if more bytes are needed. Throws ProtocolError as soon as
  // a header is buffered that names an unknown type or announces too long a payload.
  std::optional<Frame> next();

  // The bytes buffered and not yet taken: at the end of the stream, the truncated frame.
  std::string_view pending() const { return {buf_.get() + begin_, end_ - begin_}; }

 private:
  // Left uninitialised: every byte is written (commit) before it is read.
  std::unique_ptr<char[]> buf_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
  std::string noise_;
};

}  // namespace ferry
