// Runs a shell command and captures its exit code, stdout and stderr.
#pragma once

#include <sys/types.h>

#include <string>

namespace ferry::test {

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

RunResult run(const std::string& command);
std::string quote(const std::string& s);  // for /bin/sh
std::string slurp(const std::string& path);  // a whole file's bytes; "" if it cannot be read
// Waits for a child this process forked; its exit code, or -1 if a signal ended it.
int exit_code_of(pid_t pid);

}  // namespace ferry::test
