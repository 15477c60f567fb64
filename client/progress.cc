#include "client/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/plural.h"
#include "client/summary.h"

namespace ferry {
namespace {

std::string clock_text(double seconds) {
  auto s = static_cast<uint64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

size_t terminal_width() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 80;
}

}  // namespace

ProgressSnapshot ProgressSnapshot::of(const TransferStats& stats, double elapsed_s) {
  ProgressSnapshot p;
  p.listed = stats.files_total;
  p.files_sent = stats.files_transferred;
  p.bytes_done = stats.bytes_through;
  p.bytes_wanted = stats.bytes_wanted;
  p.listing_done = stats.listed_all;
  p.elapsed_s = elapsed_s;
  p.rate = elapsed_s > 0 ? static_cast<double>(p.bytes_done) / elapsed_s : 0;
  p.current = stats.current_file();
  if (p.listing_done) {
    p.percent = p.bytes_wanted > 0 ? 100.0 * static_cast<double>(std::min(p.bytes_done, p.bytes_wanted)) /
                                         static_cast<double>(p.bytes_wanted)
                                   : 100.0;
    uint64_t left = p.bytes_wanted > p.bytes_done ? p.bytes_wanted - p.bytes_done : 0;
    if (left == 0) p.eta_s = 0;
    else if (p.rate > 0) p.eta_s = static_cast<double>(left) / p.rate;
  }
  return p;
}

std::string ProgressSnapshot::line(size_t width) const {
  std::string text;
  if (!listing_done) {
    text = fmt::format("{} listed, {} sent, {} ({}/s)", listed, counted(files_sent, "file"), human_bytes(bytes_done),
                       human_bytes(static_cast<uint64_t>(rate)));
  } else {
    text = fmt::format("{:3.0f}% {} of {}, {}/s, {} left, {}", percent, human_bytes(bytes_done),
                       human_bytes(bytes_wanted), human_bytes(static_cast<uint64_t>(rate)),
                       eta_s < 0 ? std::string("?") : clock_text(eta_s), counted(files_sent, "file"));
  }
  if (!current.empty()) text += "  " + printable(current);
  // One line, never wrapped: a wrapped line cannot be redrawn with '\r'.
  if (text.size() + 1 > width) text = text.substr(0, width - 2) + "~";
  return text;
}

std::string ProgressSnapshot::json() const {
  nlohmann::json j = {{"listed", listed},
                      {"files_sent", files_sent},
                      {"bytes_done", bytes_done},
                      {"bytes_wanted", bytes_wanted},
                      {"listing_done", listing_done},
                      {"elapsed_s", elapsed_s},
                      {"bytes_per_s", rate},
                      {"current", current}};
  if (percent >= 0) j["percent"] = percent;
  if (eta_s >= 0) j["eta_s"] = eta_s;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Progress::Progress(const TransferStats& stats, bool line, bool json)
    : stats_(stats),
      line_(line && ::isatty(STDERR_FILENO) != 0),
      json_(json),
      start_(std::chrono::steady_clock::now()),
      last_json_(start_) {
  if (!line_ && !json_) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; })) show(false);
    show(true);
  });
}

Progress::~Progress() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Progress::show(bool last) {
  auto now = std::chrono::steady_clock::now();
  ProgressSnapshot p = ProgressSnapshot::of(stats_, std::chrono::duration<double>(now - start_).count());
  if (line_) {
    std::string text = "\r\x1b[K" + p.line(terminal_width()) + (last ? "\n" : "");
    (void)!::write(STDERR_FILENO, text.data(), text.size());
  }
  if (json_ && (last || now - last_json_ >= std::chrono::seconds(1))) {
    last_json_ = now;
    std::string text = p.json() + "\n";
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
}

}  // namespace ferry
