#include "transport/fd_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/error.h"

namespace ferry {
namespace {

// How often a blocked wait wakes to notice abort(); short enough that a failure on one
// thread ends the session promptly, long enough to cost nothing.
constexpr int kAbortPollMs = 200;

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// sshd connects the agent through pipes, whose default 64 KiB buffer makes sshd and the agent
// take turns every 64 KiB. A larger pipe lets both run at once. Best effort: the kernel caps
// it (fs.pipe-max-size), and it does not apply to sockets.
void enlarge_pipe(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) ::fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

}  // namespace

FdChannel::FdChannel(int read_fd, int write_fd, std::string peer_name)
    : read_fd_(read_fd), write_fd_(write_fd), peer_name_(std::move(peer_name)) {
  set_nonblocking(read_fd_);
  set_nonblocking(write_fd_);
  enlarge_pipe(read_fd_);
  enlarge_pipe(write_fd_);
}

void FdChannel::wait(int fd, short events, const char* doing) {
  int waited_ms = 0;
  while (true) {
    if (aborted_) throw ConnectionError("session aborted");
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, kAbortPollMs);
    if (rc > 0) return;
    if (rc < 0 && errno != EINTR) throw ConnectionError(errno_message("poll", errno));
    waited_ms += kAbortPollMs;
    if (waited_ms >= idle_timeout_ms_) {
      throw ConnectionError(peer_name_ + " " + doing + " for " + std::to_string(waited_ms / 1000) +
                            " s: the connection is dead or the peer is stuck (raise --timeout "
                            "for very slow links)");
    }
  }
}

size_t FdChannel::read_some(void* buf, size_t len) {
  while (true) {
    ssize_t n = ::read(read_fd_, buf, len);
    if (n >= 0) {
      bytes_read_ += static_cast<uint64_t>(n);
      return static_cast<size_t>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait(read_fd_, POLLIN, "sent nothing");
      continue;
    }
    if (errno == ECONNRESET) return 0;
    throw ConnectionError(errno_message("reading from " + peer_name_, errno));
  }
}

void FdChannel::set_rate_limit(uint64_t bytes_per_second) {
  throttle_ = bytes_per_second > 0 ? std::make_unique<Throttle>(bytes_per_second) : nullptr;
}

void FdChannel::write_all(const void* buf, size_t len) { write_two(buf, len, nullptr, 0); }

void FdChannel::write_two(const void* a, size_t a_len, const void* b, size_t b_len) {
  iovec iov[2] = {{const_cast<void*>(a), a_len}, {const_cast<void*>(b), b_len}};
  int first = 0;
  int count = b_len > 0 ? 2 : 1;
  while (first < count) {
    if (iov[first].iov_len == 0) {
      ++first;
      continue;
    }
    ssize_t n = throttle_ ? write_throttled(iov + first, count - first)
                          : ::writev(write_fd_, iov + first, count - first);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait(write_fd_, POLLOUT, "stopped reading");
        continue;
      }
      if (errno == EPIPE || errno == ECONNRESET) {
        throw ConnectionError("connection to " + peer_name_ + " lost");
      }
      throw ConnectionError(errno_message("writing to " + peer_name_, errno));
    }
    bytes_written_ += static_cast<uint64_t>(n);
    auto left = static_cast<size_t>(n);
    while (first < count && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < count) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
}

// One writev of at most what the throttle grants now.
ssize_t FdChannel::write_throttled(const iovec* iov, int count) {
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  size_t granted = throttle_->acquire(total);
  iovec limited[2];
  int used = 0;
  for (int i = 0; i < count && granted > 0; ++i) {
    limited[used] = iov[i];
    limited[used].iov_len = std::min(iov[i].iov_len, granted);
    granted -= limited[used].iov_len;
    ++used;
  }
  ssize_t n = ::writev(write_fd_, limited, used);
  size_t written = static_cast<size_t>(std::max<ssize_t>(n, 0));
  size_t offered = 0;
  for (int i = 0; i < used; ++i) offered += limited[i].iov_len;
  throttle_->give_back(offered - written);  // the kernel took less: those bytes are still to pay
  return n;
}

void FdChannel::close_write() {
  struct stat st {};
  if (::fstat(write_fd_, &st) == 0 && S_ISSOCK(st.st_mode)) {
    ::shutdown(write_fd_, SHUT_WR);
  } else if (write_fd_ != read_fd_) {
    ::close(write_fd_);
    write_fd_ = -1;
  }
}

}  // namespace ferry
