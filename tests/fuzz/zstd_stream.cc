// The receiver's zstd stream: segments (each prefixed here by a 2-byte little-endian length)
// decoded in order by one StreamDecompressor, as Compressed frames are. With the first byte
// odd, the segments are compressed first and must come back unchanged.
#include "compress/zstd_stream.h"

#include <string>

#include "base/error.h"
#include "fuzz_input.h"
#include "protocol/wire.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t mode = in.take_byte();
  StreamDecompressor decompressor;
  if (mode & 1) {
    StreamCompressor compressor(1 + (mode >> 1) % 5);
    while (!in.empty()) {
      size_t n = in.take_byte() | size_t{in.take_byte()} << 8;
      std::string_view segment = in.take(n);
      // A Compressed frame's payload always starts with its index: never empty. (An empty one
      // compresses to nothing, and zstd refuses a run of empty inputs as making no progress.)
      if (segment.empty()) continue;
      std::string wire;
      compressor.compress(segment.substr(0, 1), segment.substr(std::min<size_t>(1, segment.size())), &wire);
      if (decompressor.decompress(wire, wire::kMaxFramePayload) != segment) fuzz::property_failed();
    }
    return 0;
  }
  try {
    while (!in.empty()) {
      size_t n = in.take_byte() | size_t{in.take_byte()} << 8;
      decompressor.decompress(in.take(n), wire::kMaxFramePayload);
    }
  } catch (const ProtocolError&) {
  }
  return 0;
}
