// A transfer as it goes: a line redrawn on the terminal (--progress) and one JSON object a
// second on stdout for GUIs and wrappers (--json-progress). Both read this side's TransferStats
// from a thread of their own; the transfer never waits for them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "engine/reporter.h"

namespace ferry {

// What the progress shows at one moment. Until the listing is complete only counts and a
// rate; then also the share done of what the receiver asked for, and the time left at the
// rate so far (-1: not known yet).
struct ProgressSnapshot {
  uint64_t listed = 0;
  uint64_t files_sent = 0;
  uint64_t bytes_done = 0;
  uint64_t bytes_wanted = 0;
  bool listing_done = false;
  double elapsed_s = 0;
  double rate = 0;       // bytes per second, over the whole run
  double percent = -1;   // of bytes_wanted, once the listing is done
  double eta_s = -1;
  std::string current;   // the file under way

  static ProgressSnapshot of(const TransferStats& stats, double elapsed_s);
  std::string line(size_t width) const;  // for the terminal, at most `width` columns
  std::string json() const;              // one line
};

class Progress {
 public:
  // `line`: redraw a line on stderr four times a second, when stderr is a terminal. `json`:
  // one JSON line a second on stdout, and a last one at the end.
  Progress(const TransferStats& stats, bool line, bool json);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

 private:
  void show(bool last);

  const TransferStats& stats_;
  bool line_;
  bool json_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_json_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ferry
