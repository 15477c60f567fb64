// A Channel whose other end is a pump thread in this process: the client's SSH pump, which
// moves its bytes to and from the SSH exec channel (libssh must stay on one thread).
//
// It replaces a socketpair between the two threads. That hop cost a kernel copy and a system
// call per write and per read on both sides, about 1 s of CPU per GiB on these machines; here
// the bytes cross in memory under a lock, and a thread is woken only when it sleeps.
//
// Both directions are bounded. The pump stops taking SSH data while the engine's side is full,
// so a slow disk holds the remote back through TCP instead of filling the client's memory.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>

#include "platform/platform.h"
#include "transport/byte_ring.h"
#include "transport/channel.h"

namespace ferry {

class PumpedChannel : public Channel {
 public:
  // `capacity`: bytes each direction holds.
  PumpedChannel(std::string peer_name, size_t capacity);
  ~PumpedChannel() override;

  void close_write() override;
  // The engine is finished with the channel: the pump drops whatever still arrives.
  void close_engine();

  // ---- The pump's side; one thread calls these.

  // Readable when the engine wrote, read, closed its side or finished, while the pump was
  // about to sleep (see prepare_to_sleep). Reading it is clear_wake()'s job.
  int wake_fd() const { return waker_.fd(); }
  void clear_wake();
  // Says the pump will sleep in poll() unless the engine gave it work already: false if it did
  // (up data waiting, or the engine finished). While this holds, the engine's next action
  // makes wake_fd readable.
  bool prepare_to_sleep();
  // The poll returned: the engine need not wake the pump any more.
  void woke();

  // Bytes from the peer, for the engine. push_down takes at most down_room() bytes; the engine
  // sees them at once if it is reading, else at the next publish_down().
  size_t down_room();
  size_t push_down(const void* data, size_t len);
  void publish_down();
  // The peer sent its last byte: the engine reads what is queued, then end of stream.
  void end_down();
  // The connection is gone: the engine reads end of stream, its writes throw ConnectionError.
  // With `why` (the first one given wins), reads too throw ConnectionError(why) once the
  // queued bytes are read: the pump gave up on a silent peer, and the engine must say so,
  // not report a peer that closed the connection.
  void fail(const std::string& why = "");

  // Bytes the engine wrote, for the peer; 0 when none are waiting.
  size_t pop_up(void* out, size_t len);
  // The engine closed its writing side (or finished) and pop_up has returned all of it.
  bool up_ended();
  bool engine_closed();

 protected:
  size_t read_available(void* buf, size_t len) override;
  size_t write_available(const iovec* iov, int count) override;

 private:
  // close_write (finished = false) and close_engine (true).
  void close_engine_side(bool finished);
  // The engine waits until ready() (checked under the lock), or the idle deadline, or abort().
  template <typename Ready>
  void wait_locked(std::unique_lock<std::mutex>& lock, const char* doing, Ready ready);
  void wake_pump_locked(bool& wake);  // sets `wake` if the pump sleeps; call wake_pump() after unlocking
  void wake_pump();

  std::mutex mutex_;
  std::condition_variable engine_cv_;  // the engine waits here for data, or for room
  ByteRing down_;                      // peer → engine
  ByteRing up_;                        // engine → peer
  bool down_ended_ = false;
  bool up_closed_ = false;
  bool engine_closed_ = false;
  bool failed_ = false;
  std::string failure_;  // why the pump failed the channel, if it said
  int engine_waiters_ = 0;  // engine threads in engine_cv_.wait (a reader and a writer may both)
  bool pump_sleeping_ = false;
  platform::Waker waker_;
};

}  // namespace ferry
