// FrameParser fed the input in pieces of input-chosen sizes: it must never read outside its
// buffer, never return a frame over the limit, and return exactly the frames the bytes hold,
// however they are cut.
#include "protocol/frame_parser.h"

#include <string>

#include "base/error.h"
#include "fuzz_input.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t mode = in.take_byte();
  const bool expect_magic = mode & 1;
  const size_t piece = 1 + (mode >> 1) * 97;  // 1 byte up to ~12 KiB at a time
  const std::string_view stream = in.rest();

  FrameParser parser;
  std::string reencoded;  // the frames taken, written again: must be the stream minus noise
  bool magic_found = !expect_magic;
  try {
    std::string_view left = stream;
    while (true) {
      if (!magic_found) {
        FrameParser::MagicScan scan = parser.scan_magic();
        if (scan == FrameParser::MagicScan::kTooMuchNoise) return 0;
        magic_found = scan == FrameParser::MagicScan::kFound;
      }
      if (magic_found) {
        while (std::optional<Frame> f = parser.next()) {
          if (f->payload.size() > wire::kMaxFramePayload) fuzz::property_failed();
          append_frame_header(f->type, f->payload.size(), &reencoded);
          reencoded.append(f->payload);
        }
      }
      if (left.empty()) break;
      size_t taken = parser.feed(left.substr(0, piece));
      if (taken == 0) fuzz::property_failed();  // a frame that fits the limit always fits the buffer
      left.remove_prefix(taken);
    }
  } catch (const ProtocolError&) {
    return 0;  // a refused header ends the session; nothing more to check
  }
  if (!magic_found) return 0;
  // What came before the magic, the magic, the frames and the truncated rest are the stream.
  std::string whole = expect_magic ? parser.noise() + std::string(wire::kMagic) : std::string();
  whole += reencoded;
  whole += parser.pending();
  if (whole != stream) fuzz::property_failed();
  return 0;
}
