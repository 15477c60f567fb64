// zstd on the wire, as one stream per session and direction: the context is kept across frames
// and files (as rsync does), so small files compress against what came before them. Each
// compressed frame ends with a zstd flush, so the receiver can decode it completely on arrival.
//
// Both ends must feed frames in the order they travel. The sender compresses only on its worker
// thread, and the receiver decodes on its one thread, so this holds without locks.
#pragma once

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

class StreamCompressor {
 public:
  explicit StreamCompressor(int level);
  ~StreamCompressor();
  StreamCompressor(const StreamCompressor&) = delete;
  StreamCompressor& operator=(const StreamCompressor&) = delete;

  // Appends the compressed form of head + body to *out, flushed so that it decodes on its own
  // (given everything compressed before it).
  void compress(std::string_view head, std::string_view body, std::string* out);

 private:
  void feed(std::string_view in, ZSTD_EndDirective mode, std::string* out);
  ZSTD_CCtx* ctx_;
  std::vector<char> scratch_;
};

class StreamDecompressor {
 public:
  StreamDecompressor();
  ~StreamDecompressor();
  StreamDecompressor(const StreamDecompressor&) = delete;
  StreamDecompressor& operator=(const StreamDecompressor&) = delete;

  // Decodes one flushed segment. Throws ProtocolError if it is corrupt, does not end where
  // the sender flushed, or would expand beyond max_out bytes (a decompression bomb).
  std::string_view decompress(std::string_view in, size_t max_out);

 private:
  ZSTD_DCtx* ctx_;
  std::string out_;
};

// zstd's level range, for validating --compress-level and the Open message.
int min_compress_level();
int max_compress_level();

}  // namespace ferry
