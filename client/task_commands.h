// The `ferry task ...`, `ferry schedule ...` and `ferry status` commands: what they print and
// what they decide. They read only local files (the tasks file, the history, the scheduler's
// unit folder); none of them connects anywhere except `task run`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"

namespace ferry {

ExitCode list_tasks(bool json);
ExitCode show_task(const std::string& name);
ExitCode show_history(const std::string& name, bool json);

// Exit 0 only when every task (or the one named) last succeeded, and its last success is
// younger than `max_age_s` (0: twice the schedule's interval, or 26 hours without one).
ExitCode show_status(const std::string& name, bool json, uint64_t max_age_s);

struct ScheduleTarget {
  std::vector<std::string> names;  // empty with `all`
  bool all = false;
  bool system = false;        // system units (root) instead of the user's
  std::string dir;            // write here and do not enable (tests, packaging)
  std::string kind;           // "systemd" or "launchd"; "" = this system's
};
ExitCode install_schedules(const ScheduleTarget& target);
ExitCode remove_schedules(const ScheduleTarget& target);
ExitCode list_schedules(const ScheduleTarget& target);

}  // namespace ferry
