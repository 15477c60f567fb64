// The waker as a self-pipe (posix and darwin backends): a byte written makes the read end
// readable; clear() drains it. Both ends never block, so a full pipe (already awake) is fine.
#include <unistd.h>

#include <cerrno>

#include "base/error.h"
#include "platform/platform.h"
#include "platform/portable.h"

namespace ferry::platform {

Waker::Waker() {
  int fds[2];
  if (::pipe(fds) != 0) throw ConnectionError(errno_message("cannot make a pipe to wake the connection's thread", errno));
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  for (int fd : fds) {
    set_close_on_exec(fd);
    set_nonblocking(fd);
  }
}

Waker::~Waker() {
  ::close(read_fd_);
  ::close(write_fd_);
}

void Waker::wake() {
  char one = 1;
  (void)!::write(write_fd_, &one, 1);  // EAGAIN: the pipe is full, so the poller wakes anyway
}

void Waker::clear() {
  char sink[64];
  while (::read(read_fd_, sink, sizeof sink) > 0) {
  }
}

}  // namespace ferry::platform
