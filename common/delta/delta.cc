#include "delta/delta.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "base/error.h"

namespace ferry {

uint64_t max_copy_run_bytes(uint64_t basis_size) {
  return std::max<uint64_t>(8 * 1024 * 1024, basis_size / 8);
}

DeltaEncoder::DeltaEncoder(const Signature& sig, DeltaSink& sink) : sig_(sig), sink_(sink) {
  if (sig.block_size > 0) max_run_blocks_ = std::max<uint64_t>(1, max_copy_run_bytes(sig.basis_size) / sig.block_size);
  uint64_t count = sig.block_count();
  FERRY_CHECK(count < (uint64_t{1} << 32) - 1);
  uint64_t buckets = std::bit_ceil(std::max<uint64_t>(count * 2, 16));
  bucket_mask_ = static_cast<uint32_t>(buckets - 1);
  bucket_head_.assign(buckets, 0);
  next_in_bucket_.assign(count, 0);
  // Insert in reverse so each chain lists blocks in file order.
  for (uint64_t i = count; i-- > 0;) {
    uint32_t b = sig.weak[i] & bucket_mask_;
    next_in_bucket_[i] = bucket_head_[b];
    bucket_head_[b] = static_cast<uint32_t>(i + 1);
  }
}

bool DeltaEncoder::find_match(uint32_t weak, const uint8_t* window, uint32_t len, uint64_t* block) {
  uint8_t strong[kMaxStrongLen];
  bool strong_done = false;
  auto check = [&](uint64_t i) {
    if (sig_.weak[i] != weak || sig_.block_length(i) != len) return false;
    if (!strong_done) {
      strong_hash(window, len, strong, sig_.strong_len);
      strong_done = true;
    }
    return std::memcmp(strong, sig_.strong_of(i), sig_.strong_len) == 0;
  };
  // The block after the last match first: files change locally, so runs of matches are common.
  if (expected_next_ > 0 && expected_next_ < sig_.block_count() && check(expected_next_)) {
    *block = expected_next_;
    return true;
  }
  int probes = 0;
  for (uint32_t i = bucket_head_[weak & bucket_mask_]; i != 0 && probes < kMaxProbes;
       i = next_in_bucket_[i - 1], ++probes) {
    if (check(i - 1)) {
      *block = i - 1;
      return true;
    }
  }
  return false;
}

void DeltaEncoder::flush_copy() {
  if (!have_run_) return;
  sink_.copy(run_first_, run_count_);
  have_run_ = false;
}

void DeltaEncoder::emit_literal_until(size_t end) {
  if (end <= literal_start_) return;
  flush_copy();
  const uint8_t* p = buf_.bytes() + literal_start_;
  size_t len = end - literal_start_;
  literal_bytes_ += len;
  while (len > 0) {
    size_t piece = std::min(len, kMaxLiteral);
    sink_.literal(p, piece);
    p += piece;
    len -= piece;
  }
  literal_start_ = end;
}

void DeltaEncoder::emit_copy(uint64_t block) {
  matched_bytes_ += sig_.block_length(block);
  if (have_run_ && run_first_ + run_count_ == block && run_count_ < max_run_blocks_) {
    ++run_count_;
  } else {
    flush_copy();
    have_run_ = true;
    run_first_ = block;
    run_count_ = 1;
  }
  expected_next_ = block + 1;
}

void DeltaEncoder::scan(bool at_end) {
  const size_t block = sig_.block_size;
  const uint64_t count = sig_.block_count();
  while (count > 0 && buf_len_ - pos_ >= block) {
    if (!rolling_valid_) {
      rolling_.reset();
      rolling_.update(buf_.bytes() + pos_, block);
      rolling_valid_ = true;
    }
    uint64_t match;
    if (find_match(rolling_.digest(), buf_.bytes() + pos_, static_cast<uint32_t>(block), &match)) {
      emit_literal_until(pos_);
      emit_copy(match);
      pos_ += block;
      literal_start_ = pos_;
      rolling_valid_ = false;
      continue;
    }
    if (buf_len_ - pos_ == block) break;  // sliding needs the next byte
    rolling_.rotate(buf_.bytes()[pos_], buf_.bytes()[pos_ + block]);
    ++pos_;
    if (pos_ - literal_start_ >= kMaxLiteral) emit_literal_until(pos_);
  }
  if (!at_end) return;
  // The basis's last block may be short; it can only match the very end of the new file.
  if (count > 0) {
    uint32_t last_len = sig_.block_length(count - 1);
    size_t at = buf_len_ >= last_len ? buf_len_ - last_len : 0;
    uint64_t match;
    if (last_len < block && at >= literal_start_ && buf_len_ >= last_len &&
        find_match(RollingChecksum::of(buf_.bytes() + at, last_len), buf_.bytes() + at, last_len, &match)) {
      emit_literal_until(at);
      emit_copy(match);
      literal_start_ = pos_ = buf_len_;
    }
  }
  emit_literal_until(buf_len_);
  flush_copy();
}

void DeltaEncoder::feed(const uint8_t* data, size_t len) {
  std::memcpy(space(len), data, len);
  commit(len);
}

uint8_t* DeltaEncoder::space(size_t len) {
  if (buf_.size() - buf_len_ >= len) return buf_.bytes() + buf_len_;
  // What is still needed starts at the first byte not emitted (or the window, if that is
  // earlier). It is at most a literal piece plus a block, so moving it to the front costs
  // little; moving only when more is dropped than kept makes that amortised O(1) per byte.
  size_t keep_from = std::min(literal_start_, pos_);
  size_t keep = buf_len_ - keep_from;
  size_t lead = static_cast<size_t>((fed_ - keep) % kPageBytes);  // keeps the page offsets in step
  if (keep_from >= lead + keep && buf_.size() - lead - keep >= len) {
    std::memmove(buf_.bytes() + lead, buf_.bytes() + keep_from, keep);
  } else {
    PageBuffer bigger(std::max(2 * buf_.size(), lead + keep + len));
    if (keep > 0) std::memcpy(bigger.bytes() + lead, buf_.bytes() + keep_from, keep);
    buf_ = std::move(bigger);
  }
  buf_len_ = lead + keep;
  pos_ = pos_ - keep_from + lead;
  literal_start_ = literal_start_ - keep_from + lead;
  return buf_.bytes() + buf_len_;
}

void DeltaEncoder::commit(size_t len) {
  FERRY_CHECK(len <= buf_.size() - buf_len_);
  buf_len_ += len;
  fed_ += len;
  scan(false);
}

void DeltaEncoder::hole(uint64_t length) {
  scan(true);
  pos_ = literal_start_ = buf_len_;
  rolling_valid_ = false;
  fed_ += length;
}

void DeltaEncoder::finish() { scan(true); }

bool copy_extent(uint64_t basis_size, uint32_t block_size, uint64_t first, uint64_t count, uint64_t* offset,
                 uint64_t* length) {
  uint64_t blocks = block_count_for(basis_size, block_size);
  if (block_size == 0 || count == 0 || first >= blocks || count > blocks - first) return false;
  *offset = first * block_size;
  uint64_t end = std::min(basis_size, (first + count) * block_size);
  *length = end - *offset;
  return true;
}

}  // namespace ferry
