#include "transport/pumped_channel.h"

#include <cerrno>
#include <cstdint>

#include "base/error.h"

namespace ferry {

PumpedChannel::PumpedChannel(std::string peer_name, size_t capacity)
    : Channel(std::move(peer_name)), down_(capacity), up_(capacity) {}

PumpedChannel::~PumpedChannel() = default;

// ---- The engine's side.

template <typename Ready>
void PumpedChannel::wait_locked(std::unique_lock<std::mutex>& lock, const char* doing, Ready ready) {
  auto since = std::chrono::steady_clock::now();
  while (!ready()) {
    lock.unlock();
    check_wait(since, doing);  // may throw: not under the lock
    lock.lock();
    ++engine_waiters_;
    engine_cv_.wait_for(lock, std::chrono::milliseconds(kAbortPollMs));
    --engine_waiters_;
  }
}

size_t PumpedChannel::read_available(void* buf, size_t len) {
  bool wake = false;
  size_t n = 0;
  {
    std::unique_lock lock(mutex_);
    wait_locked(lock, "sent nothing", [this] { return !down_.empty() || down_ended_ || failed_; });
    if (down_.empty() && !failure_.empty()) throw ConnectionError(failure_);
    n = down_.pop(buf, len);
    if (n > 0) wake_pump_locked(wake);  // it may be waiting for room
  }
  if (wake) wake_pump();
  return n;
}

size_t PumpedChannel::write_available(const iovec* iov, int count) {
  bool wake = false;
  size_t n = 0;
  {
    std::unique_lock lock(mutex_);
    wait_locked(lock, "stopped reading", [this] { return up_.room() > 0 || failed_; });
    if (!failure_.empty()) throw ConnectionError(failure_);
    if (failed_ || up_closed_) throw ConnectionError("connection to " + peer_name() + " lost");
    for (int i = 0; i < count; ++i) {
      size_t took = up_.push(iov[i].iov_base, iov[i].iov_len);
      n += took;
      if (took < iov[i].iov_len) break;
    }
    wake_pump_locked(wake);
  }
  if (wake) wake_pump();
  return n;
}

void PumpedChannel::close_write() { close_engine_side(false); }

void PumpedChannel::close_engine() { close_engine_side(true); }

void PumpedChannel::close_engine_side(bool finished) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    up_closed_ = true;
    engine_closed_ = engine_closed_ || finished;
    wake_pump_locked(wake);
  }
  if (wake) wake_pump();
}

void PumpedChannel::wake_pump_locked(bool& wake) {
  wake = pump_sleeping_;
  pump_sleeping_ = false;
}

void PumpedChannel::wake_pump() { waker_.wake(); }

// ---- The pump's side.

void PumpedChannel::clear_wake() { waker_.clear(); }

bool PumpedChannel::prepare_to_sleep() {
  std::lock_guard lock(mutex_);
  pump_sleeping_ = up_.empty() && !engine_closed_;
  return pump_sleeping_;
}

void PumpedChannel::woke() {
  std::lock_guard lock(mutex_);
  pump_sleeping_ = false;
}

size_t PumpedChannel::down_room() {
  std::lock_guard lock(mutex_);
  return down_.room();
}

size_t PumpedChannel::push_down(const void* data, size_t len) {
  std::lock_guard lock(mutex_);
  if (engine_closed_) return len;  // nobody will read it
  return down_.push(data, len);
}

void PumpedChannel::publish_down() {
  bool notify;
  {
    std::lock_guard lock(mutex_);
    notify = engine_waiters_ > 0 && !down_.empty();
  }
  if (notify) engine_cv_.notify_all();
}

void PumpedChannel::end_down() {
  {
    std::lock_guard lock(mutex_);
    down_ended_ = true;
  }
  engine_cv_.notify_all();
}

void PumpedChannel::fail(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    failed_ = true;
    if (failure_.empty()) failure_ = why;
  }
  engine_cv_.notify_all();
}

size_t PumpedChannel::pop_up(void* out, size_t len) {
  bool notify;
  size_t n;
  {
    std::lock_guard lock(mutex_);
    n = up_.pop(out, len);
    notify = n > 0 && engine_waiters_ > 0;  // it may be waiting for room
  }
  if (notify) engine_cv_.notify_all();
  return n;
}

bool PumpedChannel::up_ended() {
  std::lock_guard lock(mutex_);
  return up_closed_ && up_.empty();
}

bool PumpedChannel::engine_closed() {
  std::lock_guard lock(mutex_);
  return engine_closed_;
}

}  // namespace ferry
