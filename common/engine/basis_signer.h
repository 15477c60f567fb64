// The receiver's second thread: reads the old version of each changed file (the basis) and
// sends its block signatures, while the receiver's main thread writes the files whose data has
// already arrived. rsync splits the same work between its generator and receiver processes;
// without the split, signing the next file and patching the previous one take turns.
//
// A Want that carries a signature must reach the sender as one unbroken run of frames (Want,
// then all its SigBlocks), so every thread that sends a Want holds `wire_order` while it does.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "fs/unique_fd.h"
#include "engine/framing.h"

namespace ferry {

// What the receiver needs to apply a delta against the basis it signed.
struct BasisShape {
  uint64_t size = 0;
  uint32_t block_size = 0;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
};

class BasisSigner {
 public:
  BasisSigner(FrameWriter& out, std::mutex& wire_order);
  ~BasisSigner();  // stops at once, within one chunk of a basis being read; queued files are dropped
  BasisSigner(const BasisSigner&) = delete;
  BasisSigner& operator=(const BasisSigner&) = delete;

  // Queues a file: its signature, or a plain Want if the basis cannot be read, goes out later.
  void sign(uint64_t index, UniqueFd basis, const struct stat& st);
  // The shape of the basis signed for `index`, once (nullopt: the Want went out plain, or the
  // index was never queued). Rethrows a failure of the signing thread.
  std::optional<BasisShape> take(uint64_t index);

 private:
  struct Job {
    uint64_t index;
    UniqueFd fd;
    struct stat st;
  };
  void run();
  void sign_one(Job& job);

  FrameWriter& out_;
  std::mutex& wire_order_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::condition_variable done_;
  std::unordered_set<uint64_t> pending_;  // queued or being signed
  std::unordered_map<uint64_t, BasisShape> signed_;
  std::exception_ptr failure_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace ferry
