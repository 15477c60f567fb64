// When a task runs by itself, and the scheduler files that make it so: a systemd service and
// timer on Linux (Persistent=true: a run missed while the machine was off or asleep happens at
// the next boot), a launchd agent on macOS (launchd runs a calendar job missed during sleep at
// wake). Ferry writes the files; the system's own scheduler runs them, so nothing of Ferry's
// stays resident.
#pragma once

#include <cstdint>
#include <string>

#include "client/task_config.h"

namespace ferry {

struct Schedule {
  std::string text;        // as the task says it
  std::string calendar;    // systemd OnCalendar=
  int64_t interval_s = 0;  // 0 when not one of the named forms (a calendar expression)
  int hour = -1;           // the named forms' time of day, for launchd and for next_run
  int minute = -1;
  bool weekly = false;
};

// "hourly", "daily", "daily HH:MM", "weekly", or anything else as a systemd calendar expression
// (which only systemd can check: `ferry schedule install` does). "" with *error for a named
// form written wrong ("daily 25:00").
Schedule parse_schedule(const std::string& text, std::string* error);

// The next time (Unix seconds, local time zone) a named form fires after `now`; -1 for a
// calendar expression.
int64_t next_run(const Schedule& schedule, int64_t now);

// A calendar expression's next run and the longest gap among its next `runs` runs, as systemd
// itself computes them (`systemd-analyze calendar`); next = -1 where systemd is not there to ask.
struct CalendarForecast {
  int64_t next = -1;
  int64_t longest_gap_s = 0;
};
CalendarForecast forecast_calendar(const std::string& expression, int runs = 8);

// The unit and property-list texts, for `ferry_path` running `ferry task run NAME` with
// FERRY_HOME and XDG_STATE_HOME as they are now (the scheduled run must read the same tasks
// and write the same history as the shell that installed it).
std::string systemd_service_unit(const Task& task, const std::string& ferry_path);
std::string systemd_failure_unit(const Task& task, const std::string& ferry_path);
std::string systemd_timer_unit(const Task& task, const Schedule& schedule);
// Throws FatalError(kUsage) for a calendar expression launchd cannot say.
std::string launchd_plist(const Task& task, const Schedule& schedule, const std::string& ferry_path);

std::string unit_name(const std::string& task);   // ferry-NAME
std::string failure_unit_name(const std::string& task);  // ferry-NAME.on-failure
std::string launchd_label(const std::string& task);  // net.ferry.task.NAME

}  // namespace ferry
