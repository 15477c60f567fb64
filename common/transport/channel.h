// A reliable byte stream to the peer: what the engine reads and writes, and all it knows of the
// connection. Two kinds exist: FdChannel (a socket, or the agent's stdin and stdout) and
// PumpedChannel (memory shared with the client's SSH pump), so common/ never links libssh.
//
// What every kind shares lives here: byte counts, the rate limit on writes, abort(), and the
// idle deadline: a peer that sends nothing (not even a keepalive) for idle_timeout, or stops
// reading for as long, ends the session with a ConnectionError instead of hanging.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <sys/uio.h>

#include "transport/throttle.h"

namespace ferry {

class Channel {
 public:
  explicit Channel(std::string peer_name);
  virtual ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Reads at least one byte; returns 0 at end of stream.
  size_t read_some(void* buf, size_t len);
  void write_all(const void* buf, size_t len) { write_two(buf, len, nullptr, 0); }
  // Gathers two buffers into one write where possible (frame header + payload).
  void write_two(const void* a, size_t a_len, const void* b, size_t b_len);
  // Writes `len` bytes of file `fd` from `offset`, which the caller has also read into `bytes`
  // (it hashed them). Where the channel can, the kernel moves the file's pages without a copy
  // (splice); whatever it cannot move, `bytes` supplies.
  void write_file_range(int fd, uint64_t offset, const void* bytes, size_t len);
  // Tells the peer we will write no more.
  virtual void close_write() = 0;

  // Safe to call while another thread (the client's SSH pump) reads it.
  void set_idle_timeout(std::chrono::seconds t) { idle_timeout_ms_ = static_cast<int>(t.count() * 1000); }
  std::chrono::milliseconds idle_timeout() const { return std::chrono::milliseconds(idle_timeout_ms_.load()); }
  // The message for a peer that `doing` ("sent nothing", "stopped reading") for the whole idle
  // timeout: the one error of a stalled link, whichever thread notices it first.
  std::string idle_error(const char* doing) const;
  // Caps the rate of writes (bytes per second, 0 = none). Call before any thread writes.
  void set_rate_limit(uint64_t bytes_per_second);
  // Wakes any thread blocked here, from any thread; it throws ConnectionError.
  void abort() { aborted_ = true; }
  bool aborted() const { return aborted_; }

  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }
  const std::string& peer_name() const { return peer_name_; }

 protected:
  // Reads at least one byte, waiting as long as the idle deadline allows; 0 at end of stream.
  virtual size_t read_available(void* buf, size_t len) = 0;
  // Writes at least one byte of the buffers, waiting likewise; returns how many it wrote.
  virtual size_t write_available(const iovec* iov, int count) = 0;
  // Moves at least one byte of the file range into the channel without copying it, waiting
  // like write_available; returns how many, or 0 if this channel or this file cannot.
  virtual size_t splice_available(int /*fd*/, uint64_t /*offset*/, size_t /*len*/) { return 0; }

  // How long a blocked wait sleeps between checks for abort(): short enough that a failure on
  // another thread ends the session promptly, long enough to cost nothing.
  static constexpr int kAbortPollMs = 200;
  // For the waits of subclasses: throws if aborted, or if the idle timeout has passed since
  // `since`, when the wait began ("… sent nothing for 60 s"). Measured on the clock, not by
  // counting sleeps: a wait woken early again and again (the other direction's traffic
  // notifies the same condition) must not stretch the deadline.
  void check_wait(std::chrono::steady_clock::time_point since, const char* doing) const;

 private:
  std::string peer_name_;
  std::atomic<int> idle_timeout_ms_{60'000};
  std::atomic<bool> aborted_{false};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::unique_ptr<Throttle> throttle_;
};

}  // namespace ferry
