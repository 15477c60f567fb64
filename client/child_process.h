// Starting other programs: the backup child of a task run, its hooks, and the scheduler's
// own tools (systemctl, launchctl, systemd-analyze). posix_spawn only, no shell unless asked.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace ferry {

// This process's environment with `extra` set (replacing what it had under those names).
std::vector<std::string> environment_with(const std::vector<std::pair<std::string, std::string>>& extra);

// Starts argv[0] (a path, or a name looked up in PATH) with stdin from /dev/null, stdout to
// `out_fd` and stderr to `err_fd`. Returns the pid, or -1 with errno.
// With `own_group`, the child leads a process group of its own, so that it and everything it
// starts can be signalled together (a hook's shell and its curl).
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, int out_fd, int err_fd,
            bool own_group = false);

// A wait status as a shell reports it: the exit code, or 128 + the signal that ended it.
int exit_status(int wait_status);

// Runs argv to completion with this process's environment, its output to this process's
// stderr (or nowhere, `quiet`). Returns its exit status, or 127 when it could not be started.
int run_program(const std::vector<std::string>& argv, bool quiet = false);

// Runs argv to completion, its stdout into *output (at most `limit` bytes kept), its stderr to
// nowhere. Returns its exit status, or 127 when it could not be started.
int run_program_output(const std::vector<std::string>& argv, std::string* output, size_t limit = 64 * 1024);

}  // namespace ferry
