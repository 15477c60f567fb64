// How the client shows problems: its own and the agent's messages on stderr (the agent's
// prefixed "agent: "), counting the agent's errors for the exit status.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "base/log.h"
#include "engine/reporter.h"

namespace ferry {

class ClientReporter : public Reporter {
 public:
  ClientReporter() = default;
  // A dry run's list ("would copy X", "would delete Y", from whichever side receives) is the
  // run's output, as rsync -n prints it: on stdout, without -v. Not with --json, whose stdout
  // is the summary alone.
  explicit ClientReporter(bool list_dry_run) : list_dry_run_(list_dry_run) {}

  void report(wire::MessageLevel level, const std::string& text) override { print(level, text, ""); }
  void from_peer(wire::MessageLevel level, const std::string& text) override {
    if (level == wire::MessageLevel::kError) ++peer_errors;
    print(level, text, "agent: ");
  }
  std::atomic<uint64_t> peer_errors{0};

 private:
  void print(wire::MessageLevel level, const std::string& text, const char* prefix) {
    if (list_dry_run_ && level == wire::MessageLevel::kInfo && text.starts_with("would ")) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fputc('\n', stdout);
      return;
    }
    switch (level) {
      case wire::MessageLevel::kError: spdlog::error("{}{}", prefix, text); break;
      case wire::MessageLevel::kWarning: spdlog::warn("{}{}", prefix, text); break;
      case wire::MessageLevel::kInfo: spdlog::info("{}{}", prefix, text); break;
    }
  }

  bool list_dry_run_ = false;
};

}  // namespace ferry
