// Pipes and sockets without Linux's extras (posix and darwin backends): no pipe resizing, no
// splice (the caller copies), and close-on-exec set by fcntl, since neither system has
// SOCK_CLOEXEC in POSIX.1-2008. SIGPIPE is ignored by both programs' main().
#include <sys/socket.h>

#include <cerrno>

#include "platform/platform.h"
#include "platform/portable.h"

namespace ferry::platform {

void enlarge_pipe(int) {}

ssize_t splice_file_to_pipe(int, uint64_t, int, size_t) {
  errno = ENOSYS;
  return -1;
}

int stream_socketpair(int sv[2]) {
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
  set_close_on_exec(sv[0]);
  set_close_on_exec(sv[1]);
  return 0;
}

int stream_socket(int family, bool nonblocking) {
  int fd = ::socket(family, SOCK_STREAM, 0);
  if (fd < 0) return fd;
  set_close_on_exec(fd);
  if (nonblocking) set_nonblocking(fd);
  return fd;
}

}  // namespace ferry::platform
