#include "transport/fd_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"
#include "platform/platform.h"

namespace ferry {
namespace {

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

bool is_pipe(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

}  // namespace

FdChannel::FdChannel(int read_fd, int write_fd, std::string peer_name)
    : Channel(std::move(peer_name)), read_fd_(read_fd), write_fd_(write_fd), write_is_pipe_(is_pipe(write_fd)) {
  set_nonblocking(write_fd_);
  if (read_fd_ != write_fd_) prepare_read_fd(read_fd_);
  else set_nonblocking(read_fd_);
  if (write_is_pipe_) platform::enlarge_pipe(write_fd_);
}

void FdChannel::prepare_read_fd(int fd) {
  set_nonblocking(fd);
  // sshd connects the agent through pipes, whose default 64 KiB buffer makes sshd and the
  // agent take turns every 64 KiB. A larger pipe lets both run at once, where it can be had.
  if (is_pipe(fd)) platform::enlarge_pipe(fd);
}

void FdChannel::wait(int fd, short events, const char* doing) {
  auto since = std::chrono::steady_clock::now();
  while (true) {
    check_wait(since, doing);
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, kAbortPollMs);
    if (rc > 0) return;
    if (rc < 0 && errno != EINTR) throw ConnectionError(errno_message("poll", errno));
  }
}

size_t FdChannel::read_available(void* buf, size_t len) { return read_from(read_fd_, buf, len); }

size_t FdChannel::read_from(int fd, void* buf, size_t len) {
  while (true) {
    ssize_t n = ::read(fd, buf, len);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait(fd, POLLIN, "sent nothing");
      continue;
    }
    if (errno == ECONNRESET) return 0;
    throw ConnectionError(errno_message("reading from " + peer_name(), errno));
  }
}

size_t FdChannel::write_available(const iovec* iov, int count) {
  while (true) {
    ssize_t n = ::writev(write_fd_, iov, count);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait(write_fd_, POLLOUT, "stopped reading");
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET) throw ConnectionError("connection to " + peer_name() + " lost");
    throw ConnectionError(errno_message("writing to " + peer_name(), errno));
  }
}

size_t FdChannel::splice_available(int fd, uint64_t offset, size_t len) {
  if (!write_is_pipe_) return 0;
  // EAGAIN with room in the pipe is usually a race (the reader drained the pipe between the
  // splice and the poll), so it is retried; a file that keeps refusing is finished with copies.
  int refusals_with_room = 0;
  while (true) {
    ssize_t n = platform::splice_file_to_pipe(fd, offset, write_fd_, len);
    if (n > 0) return static_cast<size_t>(n);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{write_fd_, POLLOUT, 0};
      if (::poll(&p, 1, 0) == 0) {
        wait(write_fd_, POLLOUT, "stopped reading");
        continue;
      }
      if (++refusals_with_room <= 8) continue;
      return 0;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) throw ConnectionError("connection to " + peer_name() + " lost");
    return 0;  // end of file (truncated under us), or a file system that cannot splice
  }
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
