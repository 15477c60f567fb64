#include "transport/channel.h"

#include <algorithm>

#include "base/error.h"

namespace ferry {

Channel::Channel(std::string peer_name) : peer_name_(std::move(peer_name)) {}

Channel::~Channel() = default;

std::string Channel::idle_error(const char* doing) const {
  return peer_name_ + " " + doing + " for " + std::to_string(idle_timeout_ms_ / 1000) +
         " s: the connection is dead or the peer is stuck (raise --timeout for very slow links)";
}

void Channel::check_wait(std::chrono::steady_clock::time_point since, const char* doing) const {
  if (aborted_) throw ConnectionError("session aborted");
  if (std::chrono::steady_clock::now() - since >= idle_timeout()) throw ConnectionError(idle_error(doing));
}

size_t Channel::read_some(void* buf, size_t len) {
  size_t n = read_available(buf, len);
  bytes_read_ += n;
  return n;
}

void Channel::set_rate_limit(uint64_t bytes_per_second) {
  throttle_ = bytes_per_second > 0 ? std::make_unique<Throttle>(bytes_per_second) : nullptr;
}

void Channel::write_two(const void* a, size_t a_len, const void* b, size_t b_len) {
  iovec iov[2] = {{const_cast<void*>(a), a_len}, {const_cast<void*>(b), b_len}};
  int first = 0;
  int count = b_len > 0 ? 2 : 1;
  while (first < count) {
    if (iov[first].iov_len == 0) {
      ++first;
      continue;
    }
    size_t n;
    if (!throttle_) {
      n = write_available(iov + first, count - first);
    } else {
      // At most what the throttle grants now; what the channel did not take is still to pay.
      size_t granted = throttle_->acquire(iov[first].iov_len + (first + 1 < count ? iov[first + 1].iov_len : 0));
      iovec limited[2];
      int used = 0;
      size_t offered = 0;
      for (int i = first; i < count && granted > 0; ++i) {
        limited[used] = iov[i];
        limited[used].iov_len = std::min(iov[i].iov_len, granted);
        granted -= limited[used].iov_len;
        offered += limited[used].iov_len;
        ++used;
      }
      n = write_available(limited, used);
      throttle_->give_back(offered - n);
    }
    bytes_written_ += n;
    while (first < count && n >= iov[first].iov_len) {
      n -= iov[first].iov_len;
      ++first;
    }
    if (first < count) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + n;
      iov[first].iov_len -= n;
    }
  }
}

void Channel::write_file_range(int fd, uint64_t offset, const void* bytes, size_t len) {
  size_t moved = 0;
  if (!throttle_) {  // the throttle meters writes; spliced bytes would pass it unmetered
    while (moved < len) {
      size_t n = splice_available(fd, offset + moved, len - moved);
      if (n == 0) break;  // cannot, or the file ended early: the caller's bytes finish it
      moved += n;
      bytes_written_ += n;
    }
  }
  write_all(static_cast<const char*>(bytes) + moved, len - moved);
}

}  // namespace ferry
