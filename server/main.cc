// ferry-agent: the remote end of Ferry. `ferry-agent serve` speaks the protocol on stdin and
// stdout; the client starts it over SSH (or as a local child for a backup to a local disk).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "base/log.h"
#include "server/agent_session.h"

int main(int argc, char** argv) {
  CLI::App app{"ferry-agent: the remote end of ferry"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ferry-agent ") + FERRY_VERSION);
  ferry::AgentOptions options;
  std::string log_file;
  CLI::App* serve = app.add_subcommand("serve", "speak Ferry's protocol on stdin/stdout (started by ferry)");
  serve->add_option("--log", log_file, "also write a debug log to this file");
  serve->add_flag("-v,--verbose", options.verbosity, "log more to stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(ferry::ExitCode::kUsage);
  }
  // A peer that hangs up must surface as EPIPE and a clear message, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  // stdout carries protocol frames only: everything human goes to stderr (or --log).
  ferry::init_logging("ferry-agent", options.verbosity);
  if (!log_file.empty()) {
    try {
      ferry::add_log_file(log_file);
      spdlog::set_level(spdlog::level::debug);
    } catch (const std::exception& e) {
      spdlog::error("cannot open log file {}: {}", log_file, e.what());
    }
  }
  int code = static_cast<int>(ferry::serve(options));
  std::fflush(stderr);
  std::_Exit(code);
}
