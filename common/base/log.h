// Logging to stderr through spdlog. stdout is reserved: the agent's stdout carries only
// protocol frames, and the client's carries only the --json summary.
#pragma once

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace ferry {

// verbosity: -1 = errors only (-q), 0 = warnings and errors, 1 = info (-v), 2 = debug (-vv), 3+ = trace (-vvv).
// program_name prefixes every line, so a user can tell the client's lines from the agent's.
void init_logging(const std::string& program_name, int verbosity);

// Also send log lines to a file (the agent's --log), down to debug level, without changing
// what reaches stderr.
void add_log_file(const std::string& path);

// Makes an arbitrary file name safe to print: control characters, backslashes and invalid
// UTF-8 become \xNN, so a hostile name cannot forge lines or terminal escapes in a log.
// Use it on every string the peer chose (its messages, errors, versions, names) before it is
// shown: a newline from the peer could otherwise forge a line such as "restore finished OK".
std::string printable(std::string_view bytes);

// The same, but keeps newlines and backslashes: for text of our own that spans lines, which may
// hold printable() pieces. Every log line passes through it, so no escape sequence reaches a
// terminal whatever a message holds.
std::string terminal_safe(std::string_view text);

}  // namespace ferry
