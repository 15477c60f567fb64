// The weak checksum of the rsync algorithm: two running sums over a window, updatable in O(1)
// as the window slides one byte. Cheap enough to compute at every offset of a file; weak enough
// that every hit is confirmed by the strong hash.
//
// s1 = sum(x_i + kCharOffset), s2 = sum of the running s1 values, both mod 2^16; the digest is
// s2 << 16 | s1. The offset (31, as in librsync) keeps runs of zero bytes from all hashing to 0.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry {

class RollingChecksum {
 public:
  static constexpr uint32_t kCharOffset = 31;

  void reset() {
    s1_ = 0;
    s2_ = 0;
    count_ = 0;
  }

  // Appends bytes to the window. Computed in closed form over the block (SSSE3 on x86-64, as
  // rsync does), not byte by byte: signing and re-synchronising after each match call this on
  // every block, so it is the delta engine's hottest loop after the rolling itself.
  void update(const uint8_t* data, size_t len);

  // Slides the window one byte: `out` leaves at the front, `in` enters at the back.
  void rotate(uint8_t out, uint8_t in) {
    s1_ += static_cast<uint32_t>(in) - out;
    s2_ += s1_ - static_cast<uint32_t>(count_) * (out + kCharOffset);
  }

  uint32_t digest() const { return (s2_ << 16) | (s1_ & 0xffff); }

  static uint32_t of(const uint8_t* data, size_t len) {
    RollingChecksum c;
    c.update(data, len);
    return c.digest();
  }

 private:
  uint32_t s1_ = 0;
  uint32_t s2_ = 0;
  size_t count_ = 0;
};

}  // namespace ferry
