// A fixed-size circular byte queue. Not thread-safe: its owner locks.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

namespace ferry {

class ByteRing {
 public:
  explicit ByteRing(size_t capacity) : buf_(capacity) {}

  size_t size() const { return size_; }
  size_t room() const { return buf_.size() - size_; }
  bool empty() const { return size_ == 0; }

  // Appends min(len, room()) bytes; returns how many.
  size_t push(const void* data, size_t len) {
    len = std::min(len, room());
    size_t tail = (head_ + size_) % buf_.size();
    size_t first = std::min(len, buf_.size() - tail);
    std::memcpy(buf_.data() + tail, data, first);
    std::memcpy(buf_.data(), static_cast<const char*>(data) + first, len - first);
    size_ += len;
    return len;
  }

  // Removes up to len bytes from the front into out; returns how many.
  size_t pop(void* out, size_t len) {
    len = std::min(len, size_);
    size_t first = std::min(len, buf_.size() - head_);
    std::memcpy(out, buf_.data() + head_, first);
    std::memcpy(static_cast<char*>(out) + first, buf_.data(), len - first);
    head_ = (head_ + len) % buf_.size();
    size_ -= len;
    return len;
  }

 private:
  std::vector<char> buf_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace ferry
