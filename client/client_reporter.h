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
  void report(wire::MessageLevel level, const std::string& text) override { print(level, text, ""); }
  void from_peer(wire::MessageLevel level, const std::string& text) override {
    if (level == wire::MessageLevel::kError) ++peer_errors;
    print(level, text, "agent: ");
  }
  std::atomic<uint64_t> peer_errors{0};

 private:
  void print(wire::MessageLevel level, const std::string& text, const char* prefix) {
    switch (level) {
      case wire::MessageLevel::kError: spdlog::error("{}{}", prefix, text); break;
      case wire::MessageLevel::kWarning: spdlog::warn("{}{}", prefix, text); break;
      case wire::MessageLevel::kInfo: spdlog::info("{}{}", prefix, text); break;
    }
  }
};

}  // namespace ferry
