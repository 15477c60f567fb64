// Block signatures of a basis file: for each block, the rolling (weak) checksum and a truncated
// strong hash. The receiver computes one from its old version of a file; the sender matches its
// new version against it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "delta/rolling_checksum.h"

namespace ferry {

// Block size: the square-root rule (rsync's), so that signature and literal costs grow together:
// kMinBlock up to files of kMinBlock^2 bytes, then ~sqrt(size) rounded down to a multiple of 8,
// at most kMaxBlock.
inline constexpr uint32_t kMinBlock = 700;
inline constexpr uint32_t kMaxBlock = 128 * 1024;
// Strong hash bytes per block: enough that a false match in a file is unlikely (the whole-file
// hash catches the rest), never more than the 16 bytes XXH3-128 gives.
inline constexpr uint32_t kMinStrongLen = 4;
inline constexpr uint32_t kMaxStrongLen = 16;
// The most blocks a signature may have, on either side: a receiver never signs more, and a
// sender refuses a Want announcing more before it holds a single block. 8 Mi blocks of at most
// 4 + 16 bytes each bound a signature in memory to 160 MiB (a 1 TiB basis at the largest block).
inline constexpr uint64_t kMaxSignatureBlocks = uint64_t{1} << 23;
// A basis larger than this is not used for a delta (the file is sent whole): its blocks at the
// largest size would exceed kMaxSignatureBlocks.
inline constexpr uint64_t kMaxBasisBytes = kMaxSignatureBlocks * kMaxBlock;  // 1 TiB

struct SignatureShape {
  uint32_t block_size = 0;
  uint32_t strong_len = 0;
};

// The block size and strong hash length for a basis of `basis_size` bytes.
SignatureShape signature_shape(uint64_t basis_size);

struct Signature {
  uint64_t basis_size = 0;
  uint32_t block_size = 0;
  uint32_t strong_len = 0;
  std::vector<uint32_t> weak;    // one per block
  std::vector<uint8_t> strong;   // strong_len bytes per block

  uint64_t block_count() const { return weak.size(); }
  // Joins the signature of the piece that follows this one (signed separately, in this shape).
  void append(const Signature& next);
  uint32_t block_length(uint64_t index) const;
  const uint8_t* strong_of(uint64_t index) const { return strong.data() + index * strong_len; }
};

// Blocks needed for a basis of this size and block size.
uint64_t block_count_for(uint64_t basis_size, uint32_t block_size);

// "" if a signature's shape is one this side accepts from a peer, else why not: the block size
// and hash length must be the ones signature_shape() derives from the basis size, and the block
// count the one they give, so the count is bounded by kMaxSignatureBlocks. Checked before any
// allocation sized by the peer's numbers (rsync CVE-2024-12084, CVE-2026-53792).
std::string signature_shape_problem(uint64_t basis_size, uint32_t block_size, uint32_t strong_len,
                                    uint64_t block_count);

// The truncated strong hash of one block (XXH3-128, first `len` bytes of its canonical form).
void strong_hash(const uint8_t* data, size_t size, uint8_t* out, uint32_t len);

// Builds a signature from the basis fed in order, in chunks of any size.
class SignatureBuilder {
 public:
  explicit SignatureBuilder(uint64_t basis_size);
  // For one piece of a larger basis, in the whole basis's shape: pieces that start at block
  // boundaries can be signed on separate threads and joined with Signature::append.
  SignatureBuilder(uint64_t piece_size, SignatureShape shape);
  void feed(const uint8_t* data, size_t len);
  // `len` zero bytes (a hole in the basis), without reading or hashing them: every whole block
  // of zeros has one signature, computed once.
  void feed_zeros(uint64_t len);
  // Returns the signature; the bytes fed must add up to basis_size.
  Signature finish();

 private:
  void add_block(const uint8_t* data, size_t len);

  Signature sig_;
  std::vector<uint8_t> partial_;
  uint64_t fed_ = 0;
  std::vector<uint8_t> zero_strong_;  // a block of zeros' strong hash, once one is needed
  uint32_t zero_weak_ = 0;
};

}  // namespace ferry
