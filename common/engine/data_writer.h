// How file contents leave the sender: as FileData and FileDelta frames, each wrapped in a
// Compressed frame when compression is on and the file is worth it. Used by the sender's one
// worker thread only, which keeps the zstd stream in the order the frames travel.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "compress/compress_policy.h"
#include "compress/zstd_stream.h"
#include "engine/reporter.h"
#include "engine/framing.h"

namespace ferry {

struct CompressionSettings {
  enum class Mode { kOff, kOn, kAuto };
  Mode mode = Mode::kOff;
  int level = 3;
  SkipCompressList skip;
};

class DataWriter {
 public:
  DataWriter(FrameWriter& out, const CompressionSettings& settings, TransferStats& stats);

  // Starts a file: decides from its name whether its data may be compressed.
  void begin_file(std::string_view path);
  // Sends one frame of the current file's data; `head` is the frame's small fixed part.
  void send(wire::MsgType type, std::string_view head, std::string_view body);
  // The same for a chunk of file data that is also bytes [offset, …) of file `fd` (-1: none): sent
  // uncompressed, the channel may move it from the file without a copy.
  void send_from_file(wire::MsgType type, std::string_view head, std::string_view body, int fd, uint64_t offset);
  // Pushes everything sent so far to the connection.
  void flush() { out_.flush(); }

 private:
  FrameWriter& out_;
  const CompressionSettings& settings_;
  TransferStats& stats_;
  std::unique_ptr<StreamCompressor> compressor_;
  AutoCompressPolicy auto_;
  bool file_compressible_ = false;
  bool file_tested_ = false;  // the first-chunks test has run for this file
  uint64_t file_raw_ = 0;
  uint64_t file_wire_ = 0;
  std::string buf_;
  std::chrono::steady_clock::time_point last_send_;
};

}  // namespace ferry
