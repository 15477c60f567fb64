#include "delta/signature.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cmath>

#include "base/error.h"

namespace ferry {

SignatureShape signature_shape(uint64_t basis_size) {
  SignatureShape s;
  if (basis_size <= uint64_t{kMinBlock} * kMinBlock) {
    s.block_size = kMinBlock;
  } else {
    auto root = static_cast<uint64_t>(std::sqrt(static_cast<double>(basis_size)));
    s.block_size = static_cast<uint32_t>(std::min<uint64_t>(root & ~uint64_t{7}, kMaxBlock));
  }
  // rsync's rule: about 10 + 2*log2(size) - log2(block) bits, so the chance that some block of
  // the new file falsely matches stays small however large the file.
  int bits = 10 + 2 * static_cast<int>(std::bit_width(basis_size | 1)) -
             static_cast<int>(std::bit_width(uint64_t{s.block_size}));
  s.strong_len = std::clamp<uint32_t>(static_cast<uint32_t>((bits + 7) / 8), kMinStrongLen, kMaxStrongLen);
  return s;
}

uint64_t block_count_for(uint64_t basis_size, uint32_t block_size) {
  return block_size == 0 ? 0 : (basis_size + block_size - 1) / block_size;
}

uint32_t Signature::block_length(uint64_t index) const {
  uint64_t start = index * block_size;
  return static_cast<uint32_t>(std::min<uint64_t>(block_size, basis_size - start));
}

std::string signature_shape_problem(uint64_t basis_size, uint32_t block_size, uint32_t strong_len,
                                    uint64_t block_count) {
  if (basis_size > kMaxBasisBytes) return "basis size " + std::to_string(basis_size) + " too large";
  SignatureShape expected = signature_shape(basis_size);
  if (block_size != expected.block_size) {
    return "block size " + std::to_string(block_size) + " is not " + std::to_string(expected.block_size) +
           ", the one for a basis of " + std::to_string(basis_size) + " bytes";
  }
  if (strong_len != expected.strong_len) {
    return "strong hash length " + std::to_string(strong_len) + " is not " + std::to_string(expected.strong_len) +
           ", the one for a basis of " + std::to_string(basis_size) + " bytes";
  }
  if (block_count != block_count_for(basis_size, block_size)) {
    return std::to_string(block_count) + " blocks do not cover " + std::to_string(basis_size) + " bytes in blocks of " +
           std::to_string(block_size);
  }
  return {};
}

void strong_hash(const uint8_t* data, size_t size, uint8_t* out, uint32_t len) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits(data, size));
  FERRY_CHECK(len <= sizeof(c.digest));
  std::copy(c.digest, c.digest + len, out);
}

SignatureBuilder::SignatureBuilder(uint64_t basis_size)
    : SignatureBuilder(basis_size, signature_shape(basis_size)) {}

SignatureBuilder::SignatureBuilder(uint64_t basis_size, SignatureShape shape) {
  sig_.basis_size = basis_size;
  sig_.block_size = shape.block_size;
  sig_.strong_len = shape.strong_len;
  uint64_t count = block_count_for(basis_size, shape.block_size);
  sig_.weak.reserve(count);
  sig_.strong.reserve(count * shape.strong_len);
}

void SignatureBuilder::add_block(const uint8_t* data, size_t len) {
  sig_.weak.push_back(RollingChecksum::of(data, len));
  size_t at = sig_.strong.size();
  sig_.strong.resize(at + sig_.strong_len);
  strong_hash(data, len, sig_.strong.data() + at, sig_.strong_len);
}

void SignatureBuilder::feed(const uint8_t* data, size_t len) {
  fed_ += len;
  const size_t block = sig_.block_size;
  if (!partial_.empty()) {
    size_t take = std::min(len, block - partial_.size());
    partial_.insert(partial_.end(), data, data + take);
    data += take;
    len -= take;
    if (partial_.size() < block) return;
    add_block(partial_.data(), block);
    partial_.clear();
  }
  while (len >= block) {
    add_block(data, block);
    data += block;
    len -= block;
  }
  partial_.assign(data, data + len);
}

void SignatureBuilder::feed_zeros(uint64_t len) {
  fed_ += len;
  const size_t block = sig_.block_size;
  if (!partial_.empty()) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(len, block - partial_.size()));
    partial_.insert(partial_.end(), take, 0);
    len -= take;
    if (partial_.size() < block) return;
    add_block(partial_.data(), block);
    partial_.clear();
  }
  if (len >= block && zero_strong_.empty()) {
    std::vector<uint8_t> zeros(block, 0);
    zero_weak_ = RollingChecksum::of(zeros.data(), block);
    zero_strong_.resize(sig_.strong_len);
    strong_hash(zeros.data(), block, zero_strong_.data(), sig_.strong_len);
  }
  for (; len >= block; len -= block) {
    sig_.weak.push_back(zero_weak_);
    sig_.strong.insert(sig_.strong.end(), zero_strong_.begin(), zero_strong_.end());
  }
  partial_.assign(static_cast<size_t>(len), 0);
}

void Signature::append(const Signature& next) {
  FERRY_CHECK(next.block_size == block_size && next.strong_len == strong_len);
  FERRY_CHECK(basis_size % block_size == 0);  // this piece ended at a block boundary
  basis_size += next.basis_size;
  weak.insert(weak.end(), next.weak.begin(), next.weak.end());
  strong.insert(strong.end(), next.strong.begin(), next.strong.end());
}

Signature SignatureBuilder::finish() {
  sig_.basis_size = fed_;  // the basis may have changed size while read; describe what was read
  if (!partial_.empty()) add_block(partial_.data(), partial_.size());
  partial_.clear();
  return std::move(sig_);
}

}  // namespace ferry
