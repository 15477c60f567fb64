// Where per-file problems and notices go. The client prints them; the agent forwards them to
// the client as Message frames, so every message reaches the user on the client's stderr.
#pragma once

#include <atomic>
#include <mutex>
#include <cstdint>
#include <string>

#include "protocol/wire.h"

namespace ferry {

class Reporter {
 public:
  virtual ~Reporter() = default;
  // A message from this side. Thread-safe.
  virtual void report(wire::MessageLevel level, const std::string& text) = 0;
  // A message the peer sent us (the agent's warnings, as seen by the client).
  virtual void from_peer(wire::MessageLevel level, const std::string& text) = 0;
};

// Live counters, read by the progress line while the engine runs.
struct TransferStats {
  std::atomic<uint64_t> files_total{0};        // entries listed, the root excluded
  std::atomic<uint64_t> files_transferred{0};  // files whose data was sent
  std::atomic<uint64_t> bytes_total{0};        // sum of regular file sizes listed
  std::atomic<uint64_t> bytes_literal{0};      // file bytes that travelled as data
  std::atomic<uint64_t> bytes_matched{0};      // file bytes rebuilt from the receiver's basis
  std::atomic<uint64_t> bytes_compressed_raw{0};   // data bytes sent compressed, before...
  std::atomic<uint64_t> bytes_compressed_wire{0};  // ... and after compression
  std::atomic<uint64_t> errors{0};             // problems on this side
  std::atomic<uint64_t> vanished{0};           // source files that vanished or kept changing
  std::atomic<uint64_t> seal_mismatches{0};    // restored files whose content no longer matched the seal
  std::atomic<uint64_t> deleted{0};            // entries --delete took away
  std::atomic<uint64_t> kept_in_safety_net{0};  // deleted or replaced entries the safety net holds

  // For the progress line (this side's view): the sizes of the files whose data the receiver
  // asked for, how much of that has been read (sender) or rebuilt (receiver), whether the
  // listing is complete (the total then hardly grows), and the file under way.
  std::atomic<uint64_t> bytes_wanted{0};
  std::atomic<uint64_t> bytes_through{0};
  std::atomic<bool> listed_all{false};
  void set_current_file(const std::string& path) {
    std::lock_guard lock(current_mutex_);
    current_file_ = path;
  }
  std::string current_file() const {
    std::lock_guard lock(current_mutex_);
    return current_file_;
  }

 private:
  mutable std::mutex current_mutex_;
  std::string current_file_;
};

}  // namespace ferry
