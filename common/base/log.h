// Logging to stderr through spdlog. stdout is reserved: the agent's stdout carries only
// protocol frames, and the client's carries only the --json summary.
#pragma once

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace ferry {

// verbosity: 0 = warnings and errors, 1 = info (-v), 2 = debug (-vv), 3+ = trace (-vvv).
// program_name prefixes every line, so a user can tell the client's lines from the agent's.
void init_logging(const std::string& program_name, int verbosity);

// Also send log lines to a file (the agent's --log), at the current level.
void add_log_file(const std::string& path);

// Makes an arbitrary file name safe to print: control characters, backslashes and invalid
// UTF-8 become \xNN, so a hostile name cannot forge lines or terminal escapes in a log.
std::string printable(std::string_view bytes);

}  // namespace ferry
