// The bandwidth limit (--bwlimit): a token bucket in front of every write to the connection.
//
// rsync writes a block and then sleeps for as long as the block "cost", so its rate is an
// average of bursts. Here each write may take only what the bucket holds, and the bucket holds
// at most a hundredth of a second of traffic (1 %). It fills at 98.5 % of the limit
// (kHeadroom), so over any window of T >= 1 s at most 0.01 R + 0.985 R T <= 0.995 R T bytes go
// out: the limit holds for every such window, with what is left covering what SSH adds around
// our bytes (packet headers and MACs, about 0.2 %).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr double kHeadroom = 0.985;
  static constexpr double kBurstSeconds = 0.01;

  TokenBucket(uint64_t bytes_per_second, Clock::time_point now);

  // How many of `want` bytes may be written at `now` (at least one once the bucket is not
  // empty), and takes them from the bucket. Zero means: wait for wait_time(now).
  size_t take(size_t want, Clock::time_point now);
  // Returns bytes taken but not written.
  void give_back(size_t n) { tokens_ += static_cast<double>(n); }
  // How long until at least a write's worth of bytes is available.
  Clock::duration wait_time(Clock::time_point now) const;

  uint64_t capacity() const { return static_cast<uint64_t>(capacity_); }

 private:
  void refill(Clock::time_point now);

  double rate_;       // bytes per second the bucket fills at
  double capacity_;   // most bytes it holds: the largest burst
  double min_write_;  // wait for at least this much instead of trickling single bytes
  double tokens_;
  Clock::time_point last_;
};

// A TokenBucket with a real clock that sleeps; what FdChannel uses.
class Throttle {
 public:
  explicit Throttle(uint64_t bytes_per_second);
  // Blocks until some bytes may be written; returns how many (1..want).
  size_t acquire(size_t want);
  void give_back(size_t n) { bucket_.give_back(n); }

 private:
  TokenBucket bucket_;
};

// Parses a --bwlimit value as rsync reads one: a number of KiB per second, or of bytes with a
// K, M or G suffix (powers of 1024) or a B suffix; an optional trailing "/s" is allowed. "0"
// is no limit: returns 0 with *error empty. Returns 0 and sets *error when the text is not a
// rate.
uint64_t parse_rate(std::string_view text, std::string* error);

}  // namespace ferry
