// A reliable byte stream over file descriptors: a socket, or a pair of pipes (the agent's
// stdin and stdout). This is the only transport the engine knows; SSH is turned into one of
// these by the client's ssh pump, so common/ never links libssh.
//
// Every wait has a deadline: a peer that sends nothing (not even a keepalive) for
// idle_timeout, or stops reading for as long, ends the session with a ConnectionError
// instead of hanging. abort() wakes any thread blocked here, from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <sys/types.h>
#include <sys/uio.h>

#include "transport/throttle.h"

namespace ferry {

class FdChannel {
 public:
  // The fds are borrowed, and switched to non-blocking. peer_name appears in messages
  // ("connection to ferry-agent on host lost").
  FdChannel(int read_fd, int write_fd, std::string peer_name);

  // Reads at least one byte; returns 0 at end of stream.
  size_t read_some(void* buf, size_t len);
  void write_all(const void* buf, size_t len);
  // Gathers two buffers into one write where possible (frame header + payload).
  void write_two(const void* a, size_t a_len, const void* b, size_t b_len);

  void set_idle_timeout(std::chrono::seconds t) { idle_timeout_ms_ = static_cast<int>(t.count() * 1000); }
  // Caps the rate of writes (bytes per second, 0 = none). Call before any thread writes.
  void set_rate_limit(uint64_t bytes_per_second);
  void abort() { aborted_ = true; }
  bool aborted() const { return aborted_; }
  // Tells the peer we will write no more (shutdown(SHUT_WR) on a socket, close on a pipe).
  void close_write();

  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }
  const std::string& peer_name() const { return peer_name_; }

 private:
  void wait(int fd, short events, const char* doing);
  ssize_t write_throttled(const iovec* iov, int count);

  int read_fd_;
  int write_fd_;
  std::string peer_name_;
  int idle_timeout_ms_ = 60'000;
  std::atomic<bool> aborted_{false};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::unique_ptr<Throttle> throttle_;
};

}  // namespace ferry
