// The sender's half of the rsync algorithm: scan the new file with the rolling checksum and
// describe it as block references into the receiver's basis plus literal bytes. No IO: bytes
// are fed in, operations come out through a sink (librsync's shape).
//
// Work per offset is capped: with many blocks sharing one weak checksum (a VM image full of
// identical blocks), at most kMaxProbes candidates are compared, so the scan stays linear in
// the file size whatever the signature holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/page_buffer.h"
#include "delta/signature.h"

namespace ferry {

class DeltaSink {
 public:
  virtual ~DeltaSink() = default;
  // Blocks [first, first + count) of the basis, in order.
  virtual void copy(uint64_t first, uint64_t count) = 0;
  virtual void literal(const uint8_t* data, size_t len) = 0;
};

// A run of matched blocks is handed to the sink before it covers more than this, instead of
// once it ends: in a large file that barely changed, one run can be most of the file, and the
// receiver should rebuild it while the scan goes on, not after. An eighth of the basis (at least
// 8 MiB) keeps that overlap and costs at most about eight more COPY operations per file.
uint64_t max_copy_run_bytes(uint64_t basis_size);

class DeltaEncoder {
 public:
  static constexpr int kMaxProbes = 16;
  // Literal bytes are handed to the sink in pieces of at most this size.
  static constexpr size_t kMaxLiteral = 128 * 1024;

  // sig must outlive the encoder.
  DeltaEncoder(const Signature& sig, DeltaSink& sink);
  DeltaEncoder(const DeltaEncoder&) = delete;
  DeltaEncoder& operator=(const DeltaEncoder&) = delete;

  // The new file goes in, in order, either copied (feed) or read straight into the encoder's
  // window: space(n) returns room for n bytes, commit(k) takes the first k of them. Reading in
  // place saves a copy of every byte and keeps the window small enough to stay in cache.
  void feed(const uint8_t* data, size_t len);
  uint8_t* space(size_t len);
  void commit(size_t len);
  // The new file holds a hole of `length` bytes here, which the caller sends apart (FileHole):
  // everything fed before it goes to the sink now, as at the end of a file, and the scan starts
  // afresh with the next byte fed, which lies `length` bytes further on in the file.
  void hole(uint64_t length);
  void finish();

  uint64_t literal_bytes() const { return literal_bytes_; }
  uint64_t matched_bytes() const { return matched_bytes_; }

 private:
  void scan(bool at_end);
  bool find_match(uint32_t weak, const uint8_t* window, uint32_t len, uint64_t* block);
  void emit_literal_until(size_t end);
  void emit_copy(uint64_t block);
  void flush_copy();

  const Signature& sig_;
  DeltaSink& sink_;
  std::vector<uint32_t> bucket_head_;  // weak hash bucket -> first block + 1 (0: empty)
  std::vector<uint32_t> next_in_bucket_;
  uint32_t bucket_mask_ = 0;

  // Bytes fed and not yet emitted. buf_[buf_len_] always sits at the same place within a page
  // as the next byte fed sits in the file, so reads into space() run at full speed.
  PageBuffer buf_;
  size_t buf_len_ = 0;
  uint64_t fed_ = 0;          // the offset in the new file of the next byte fed
  size_t pos_ = 0;            // start of the current window in buf_
  size_t literal_start_ = 0;  // first byte in buf_ not yet emitted
  RollingChecksum rolling_;
  bool rolling_valid_ = false;
  uint64_t expected_next_ = 0;  // block after the last match: tried first
  bool have_run_ = false;
  uint64_t run_first_ = 0, run_count_ = 0;
  uint64_t max_run_blocks_ = 1;
  uint64_t literal_bytes_ = 0, matched_bytes_ = 0;
};

// Where a copy of blocks [first, first + count) lies in a basis; false if it does not lie
// inside it (a hostile or corrupt delta). Checked without overflow.
bool copy_extent(uint64_t basis_size, uint32_t block_size, uint64_t first, uint64_t count, uint64_t* offset,
                 uint64_t* length);

}  // namespace ferry
