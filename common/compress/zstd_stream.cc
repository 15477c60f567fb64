#include "compress/zstd_stream.h"

#include <new>
#include <string>

#include "base/error.h"

namespace ferry {

namespace {
// zstd's window for the stream: 8 MiB keeps memory per session small (the decoder needs the
// whole window) while still reaching back across many small files.
constexpr int kWindowLog = 23;
}  // namespace

StreamCompressor::StreamCompressor(int level) : ctx_(ZSTD_createCCtx()) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(ctx_, ZSTD_c_windowLog, kWindowLog);
}

StreamCompressor::~StreamCompressor() { ZSTD_freeCCtx(ctx_); }

void StreamCompressor::compress(std::string_view head, std::string_view body, std::string* out) {
  feed(head, ZSTD_e_continue, out);
  feed(body, ZSTD_e_flush, out);
}

// zstd writes into scratch_, allocated once: growing *out by ZSTD_CStreamOutSize() (128 KiB)
// per call would zero that much memory for every small file's frame.
void StreamCompressor::feed(std::string_view in, ZSTD_EndDirective mode, std::string* out) {
  if (scratch_.empty()) scratch_.resize(ZSTD_CStreamOutSize());
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  while (true) {
    ZSTD_outBuffer output{scratch_.data(), scratch_.size(), 0};
    size_t left = ZSTD_compressStream2(ctx_, &output, &input, mode);
    if (ZSTD_isError(left)) throw FatalError(std::string("zstd compression failed: ") + ZSTD_getErrorName(left));
    out->append(scratch_.data(), output.pos);
    bool consumed = input.pos == input.size;
    if (mode == ZSTD_e_continue ? consumed : (consumed && left == 0)) return;
  }
}

StreamDecompressor::StreamDecompressor() : ctx_(ZSTD_createDCtx()) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  // Refuse streams that would need a larger window than any Ferry sender uses.
  ZSTD_DCtx_setParameter(ctx_, ZSTD_d_windowLogMax, kWindowLog);
}

StreamDecompressor::~StreamDecompressor() { ZSTD_freeDCtx(ctx_); }

std::string_view StreamDecompressor::decompress(std::string_view in, size_t max_out) {
  // One byte of room beyond the limit tells "exactly max_out" from "more than max_out".
  out_.resize(max_out + 1);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  ZSTD_outBuffer output{out_.data(), out_.size(), 0};
  while (true) {
    size_t rc = ZSTD_decompressStream(ctx_, &output, &input);
    if (ZSTD_isError(rc)) {
      throw ProtocolError(std::string("corrupt compressed data: ") + ZSTD_getErrorName(rc));
    }
    if (output.pos > max_out) throw ProtocolError("compressed frame expands beyond the frame size limit");
    // Done when all input is read and the decoder has nothing more to give for it.
    if (input.pos == input.size && output.pos < output.size) break;
  }
  return std::string_view(out_.data(), output.pos);
}

int min_compress_level() { return ZSTD_minCLevel() < -7 ? -7 : ZSTD_minCLevel(); }
int max_compress_level() { return ZSTD_maxCLevel(); }

}  // namespace ferry
