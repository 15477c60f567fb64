#include "transport/throttle.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <string_view>
#include <thread>

namespace ferry {

TokenBucket::TokenBucket(uint64_t bytes_per_second, Clock::time_point now)
    : rate_(static_cast<double>(bytes_per_second) * kHeadroom),
      capacity_(std::clamp(static_cast<double>(bytes_per_second) * kBurstSeconds, 1.0, 1024.0 * 1024)),
      min_write_(std::min(capacity_, std::max(512.0, rate_ / 200))),
      tokens_(capacity_),
      last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;
  tokens_ = std::min(capacity_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
  last_ = now;
}

size_t TokenBucket::take(size_t want, Clock::time_point now) {
  refill(now);
  if (want == 0) return 0;
  double need = std::min(static_cast<double>(want), min_write_);
  if (tokens_ < need) return 0;
  size_t granted = std::min(want, static_cast<size_t>(tokens_));
  tokens_ -= static_cast<double>(granted);
  return granted;
}

TokenBucket::Clock::duration TokenBucket::wait_time(Clock::time_point now) const {
  double have = tokens_ + rate_ * std::chrono::duration<double>(std::max(now - last_, Clock::duration::zero())).count();
  if (have >= min_write_) return Clock::duration::zero();
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>((min_write_ - have) / rate_)) +
         std::chrono::microseconds(1);
}

Throttle::Throttle(uint64_t bytes_per_second) : bucket_(bytes_per_second, TokenBucket::Clock::now()) {}

size_t Throttle::acquire(size_t want) {
  while (true) {
    auto now = TokenBucket::Clock::now();
    size_t granted = bucket_.take(want, now);
    if (granted > 0) return granted;
    std::this_thread::sleep_for(bucket_.wait_time(now));
  }
}

uint64_t parse_rate(std::string_view text, std::string* error) {
  error->clear();
  if (text == "0") return 0;  // no limit, as rsync reads it
  std::string_view s = text;
  if (s.ends_with("/s")) s.remove_suffix(2);
  // A bare number counts KiB, as rsync's does; a trailing B says the unit is bytes.
  double scale = 1024;
  if (!s.empty() && (s.back() == 'B' || s.back() == 'b')) {
    s.remove_suffix(1);
    scale = 1;
  }
  if (!s.empty()) {
    switch (std::toupper(static_cast<unsigned char>(s.back()))) {
      case 'K': scale = 1024.0; s.remove_suffix(1); break;
      case 'M': scale = 1024.0 * 1024; s.remove_suffix(1); break;
      case 'G': scale = 1024.0 * 1024 * 1024; s.remove_suffix(1); break;
      default: break;
    }
  }
  std::string number(s);
  char* end = nullptr;
  double value = number.empty() ? -1 : std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size() || !std::isfinite(value) || value <= 0) {
    *error = "not a rate: \"" + std::string(text) + "\" (use KiB per second, or a K, M or G suffix: 500, 500K, 10M, 1.5G; 0 for no limit)";
    return 0;
  }
  double rate = value * scale;
  if (rate < 1024) {
    *error = "rate " + std::string(text) + " is below the smallest limit, 1K (1024 bytes per second)";
    return 0;
  }
  if (rate > 1e15) {
    *error = "rate " + std::string(text) + " is too large";
    return 0;
  }
  return static_cast<uint64_t>(rate);
}

}  // namespace ferry
