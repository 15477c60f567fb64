// A program under test started in the background, so that a test can freeze it (SIGSTOP), find
// the processes it started, and bound how long it may run. Stopped only by its own pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace ferry::test {

class Background {
 public:
  // Runs `command` ("VAR=value … program args") through /bin/sh with `exec env`, so pid() is the
  // program's own (its children
  // are then the program's children); stdout and stderr go to `log`.
  Background(const std::string& command, const std::string& log);
  // SIGKILLs it (a stopped process too) and reaps it, if it is still there.
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  pid_t pid() const { return pid_; }
  // Waits at most `limit` for it to exit. Its exit code (128 + signal if killed), or -1 if it
  // was still running when the limit passed.
  int wait_for(std::chrono::duration<double> limit);
  // The pids of its direct children, from /proc/<pid>/task/*/children.
  std::vector<pid_t> children() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// True once `pid` has exited: no such process, or a zombie nobody reaped yet (its files,
// locks included, are closed either way).
bool process_gone(pid_t pid);

// Waits at most `limit` for process_gone(pid).
bool wait_gone(pid_t pid, std::chrono::duration<double> limit);

}  // namespace ferry::test
