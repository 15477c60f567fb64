// A heap buffer that starts on a page boundary: what files are read into.
//
// Why it matters: on the AMD EPYC machines we run on, the kernel copies into user memory at a
// third of its usual speed when the destination starts a few bytes (1 to about 31) past the
// source's position within a page: 256 KiB reads from tmpfs run at about 6 GB/s into a
// page-aligned buffer and about 1.8 GB/s into one 16 bytes past a page. glibc's malloc returns
// large blocks exactly 16 bytes past a page boundary, so every std::vector read buffer sat on
// the slow side. File reads here start at multiples of the buffer size, so page alignment is
// what keeps destination and source in step; slot_for() does it for reads that start mid-page.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>

namespace ferry {

inline constexpr size_t kPageBytes = 4096;

class PageBuffer {
 public:
  PageBuffer() = default;
  explicit PageBuffer(size_t size)
      : data_(static_cast<char*>(::operator new(size, std::align_val_t{kPageBytes}))), size_(size) {}

  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  uint8_t* bytes() { return reinterpret_cast<uint8_t*>(data_.get()); }
  size_t size() const { return size_; }

  // Where a read of file bytes from `file_offset` goes: from the same place within a page as
  // that offset, to the end of the buffer. Reads that do not start at a page multiple (a block
  // in the middle of a basis) stay in step this way.
  std::span<char> slot_for(uint64_t file_offset) {
    size_t skew = static_cast<size_t>(file_offset % kPageBytes);
    return {data() + skew, size_ - skew};
  }

 private:
  struct Free {
    void operator()(char* p) const { ::operator delete(p, std::align_val_t{kPageBytes}); }
  };
  std::unique_ptr<char, Free> data_;
  size_t size_ = 0;
};

}  // namespace ferry
