// A Channel over file descriptors: a socket (the local agent), or a pair of pipes (the agent's
// stdin and stdout under sshd).
#pragma once

#include <string>

#include "transport/channel.h"

namespace ferry {

class FdChannel : public Channel {
 public:
  // The fds are borrowed, and switched to non-blocking. peer_name appears in messages
  // ("connection to ferry-agent on host lost").
  FdChannel(int read_fd, int write_fd, std::string peer_name);

  // shutdown(SHUT_WR) on a socket; on a pipe, closes the write fd.
  void close_write() override;

 protected:
  size_t read_available(void* buf, size_t len) override;
  size_t write_available(const iovec* iov, int count) override;
  // Only into a pipe (the agent's stdout under sshd): splice needs a pipe on one side.
  size_t splice_available(int fd, uint64_t offset, size_t len) override;

  // read_available from any of our fds (a striped channel reads several).
  size_t read_from(int fd, void* buf, size_t len);
  // Switches fd to non-blocking and, if it is a pipe, gives it the larger buffer.
  static void prepare_read_fd(int fd);

 private:
  void wait(int fd, short events, const char* doing);

  int read_fd_;
  int write_fd_;
  bool write_is_pipe_;
};

}  // namespace ferry
