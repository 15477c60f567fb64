// The token bucket behind --bwlimit, driven by a simulated clock: a writer that always wants
// more must get the limit over any window of a second or more, never above it.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <string>

#include "transport/throttle.h"

using namespace ferry;
using Clock = TokenBucket::Clock;

namespace {

struct Write {
  double at;  // seconds
  size_t bytes;
};

// A greedy writer for `seconds`: takes what it may, else sleeps exactly as told.
std::deque<Write> saturate(uint64_t rate, double seconds, size_t chunk) {
  Clock::time_point start{};
  Clock::time_point now = start;
  TokenBucket bucket(rate, now);
  std::deque<Write> writes;
  while (std::chrono::duration<double>(now - start).count() < seconds) {
    size_t got = bucket.take(chunk, now);
    if (got > 0) {
      writes.push_back({std::chrono::duration<double>(now - start).count(), got});
      now += std::chrono::microseconds(20);  // the write itself takes a little time
    } else {
      now += bucket.wait_time(now);
    }
  }
  return writes;
}

// The most bytes written in any window of `window` seconds.
double max_in_window(const std::deque<Write>& writes, double window) {
  double best = 0, sum = 0;
  size_t first = 0;
  for (size_t i = 0; i < writes.size(); ++i) {
    sum += static_cast<double>(writes[i].bytes);
    while (writes[i].at - writes[first].at >= window) sum -= static_cast<double>(writes[first++].bytes);
    best = std::max(best, sum);
  }
  return best;
}

}  // namespace

TEST_CASE("the bucket holds the average at the limit over any window of one second or more") {
  for (uint64_t rate : {uint64_t{2048}, uint64_t{500} << 10, uint64_t{10} << 20, uint64_t{1} << 30}) {
    CAPTURE(rate);
    std::deque<Write> writes = saturate(rate, 10.0, 256 * 1024);
    double total = 0;
    for (const Write& w : writes) total += static_cast<double>(w.bytes);
    CHECK(total / 10.0 <= static_cast<double>(rate));
    CHECK(total / 10.0 >= 0.975 * static_cast<double>(rate));  // and leaves little unused
    for (double window : {1.0, 2.0, 5.0}) {
      CAPTURE(window);
      CHECK(max_in_window(writes, window) <= static_cast<double>(rate) * window);
    }
  }
}

TEST_CASE("bytes the kernel did not take are not charged") {
  Clock::time_point now{};
  TokenBucket bucket(100 * 1024, now);
  size_t got = bucket.take(1 << 20, now);
  REQUIRE(got > 0);
  CHECK(bucket.take(1 << 20, now) == 0);  // empty now
  bucket.give_back(got);
  CHECK(bucket.take(1 << 20, now) == got);
}

TEST_CASE("rates parse as rsync reads them: K, M, G in powers of 1024") {
  std::string error;
  CHECK(parse_rate("500K", &error) == 500 * 1024);
  CHECK(parse_rate("10M", &error) == 10 * 1024 * 1024);
  CHECK(parse_rate("1.5G", &error) == 1536ull * 1024 * 1024);
  CHECK(parse_rate("2m", &error) == 2 * 1024 * 1024);
  CHECK(parse_rate("10MB/s", &error) == 10 * 1024 * 1024);
  CHECK(parse_rate("4096B", &error) == 4096);
  CHECK(parse_rate("500", &error) == 500 * 1024);  // a bare number is KiB, as in rsync
  CHECK(error.empty());
  CHECK(parse_rate("0", &error) == 0);  // no limit
  CHECK(error.empty());
  for (const char* bad : {"", "K", "fast", "-5M", "10X", "0.5K", "1000B", "0K", "1e30"}) {
    CAPTURE(bad);
    error.clear();
    CHECK(parse_rate(bad, &error) == 0);
    CHECK_FALSE(error.empty());
  }
}
