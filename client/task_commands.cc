#include "client/task_commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "client/child_process.h"
#include "client/ferry_home.h"
#include "client/schedule.h"
#include "client/summary.h"
#include "client/task_config.h"
#include "client/task_history.h"
#include "platform/platform.h"

namespace ferry {
namespace {

constexpr int64_t kDefaultMaxAge = 26 * 3600;

int64_t now() { return static_cast<int64_t>(::time(nullptr)); }

std::string local_time(int64_t when) { return time_text(when, "%Y-%m-%d %H:%M"); }

std::string age_text(int64_t seconds) {
  if (seconds < 120) return fmt::format("{} s", seconds);
  if (seconds < 2 * 3600) return fmt::format("{} min", seconds / 60);
  if (seconds < 2 * 86400) return fmt::format("{} h", seconds / 3600);
  return fmt::format("{} days", seconds / 86400);
}

std::vector<Task> tasks_named(const std::string& name) {
  std::vector<Task> tasks = load_tasks(tasks_file_path());
  if (name.empty()) return tasks;
  const Task* task = find_task(tasks, name);
  if (task == nullptr) throw FatalError("no task " + name + " in " + tasks_file_path() + " (`ferry task list` shows them)", ExitCode::kUsage);
  return {*task};
}

// A shell word that pastes back as the same argument.
std::string shell_word(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=:@,+-") ==
                           std::string::npos) {
    return word;
  }
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string command_line(const Task& task) {
  std::string text = "ferry backup";
  for (const std::string& arg : task.backup_args) text += " " + shell_word(arg);
  return text + " " + shell_word(task.source) + " " + shell_word(task.destination);
}

Schedule schedule_of(const Task& task) {
  std::string error;
  Schedule s = parse_schedule(task.schedule, &error);
  if (!error.empty()) throw FatalError(tasks_file_path() + ", task " + task.name + ": " + error, ExitCode::kUsage);
  return s;
}

// When a task runs next and how far apart its runs are: computed here for the named forms,
// asked of systemd for a calendar expression. next = -1: by hand, or not known here.
struct Forecast {
  int64_t next = -1;
  int64_t interval_s = 0;
};

Forecast forecast(const Task& task, int64_t at) {
  if (task.schedule.empty()) return {};
  Schedule schedule = schedule_of(task);
  if (schedule.interval_s > 0) return {next_run(schedule, at), schedule.interval_s};
  CalendarForecast calendar = forecast_calendar(schedule.calendar);
  return {calendar.next, calendar.longest_gap_s};
}

std::string next_run_text(const Task& task, const Forecast& when) {
  if (task.schedule.empty()) return "by hand";
  return when.next < 0 ? "per the calendar \"" + task.schedule + "\"" : local_time(when.next);
}


void warn_torn(const std::string& task, int torn) {
  if (torn > 0) {
    spdlog::warn("history of task {}: {} line(s) that do not parse were skipped (a crash while writing one?)", task, torn);
  }
}

nlohmann::json run_json(const RunRecord& run) { return nlohmann::json::parse(record_to_json(run)); }

// ---- Scheduler files

struct UnitFile {
  std::string path;
  std::string text;
};

std::string scheduler_kind(const ScheduleTarget& target) {
  return target.kind.empty() ? platform::native_scheduler() : target.kind;
}

std::string unit_dir(const ScheduleTarget& target) {
  if (!target.dir.empty()) return target.dir;
  if (scheduler_kind(target) == "launchd") return target.system ? "/Library/LaunchDaemons" : user_home() + "/Library/LaunchAgents";
  if (target.system) return "/etc/systemd/system";
  const char* config = std::getenv("XDG_CONFIG_HOME");
  return (config != nullptr && *config == '/' ? std::string(config) : user_home() + "/.config") + "/systemd/user";
}

std::vector<UnitFile> unit_files(const Task& task, const ScheduleTarget& target, const std::string& ferry_path) {
  std::string dir = unit_dir(target);
  Schedule schedule = schedule_of(task);
  if (scheduler_kind(target) == "launchd") {
    return {{dir + "/" + launchd_label(task.name) + ".plist", launchd_plist(task, schedule, ferry_path)}};
  }
  std::string base = dir + "/" + unit_name(task.name);
  std::vector<UnitFile> files = {{base + ".service", systemd_service_unit(task, ferry_path)},
                                 {base + ".timer", systemd_timer_unit(task, schedule)}};
  if (!task.on_failure.empty()) {
    files.push_back({dir + "/" + failure_unit_name(task.name) + ".service", systemd_failure_unit(task, ferry_path)});
  }
  return files;
}

void write_file(const std::string& path, const std::string& text) {
  std::string temp = path + ".new";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw FatalError("cannot write " + temp + " (is the folder writable?)");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) throw FatalError(errno_message("cannot write " + path, errno));
}

bool systemd_running() { return ::access("/run/systemd/system", F_OK) == 0; }

// The systemctl or launchctl commands that enable or disable `task`'s schedule.
std::vector<std::vector<std::string>> scheduler_commands(const Task& task, const ScheduleTarget& target, bool enable) {
  if (scheduler_kind(target) == "launchd") {
    std::string plist = unit_dir(target) + "/" + launchd_label(task.name) + ".plist";
    std::string domain = target.system ? "system" : "gui/" + std::to_string(::getuid());
    if (enable) return {{"launchctl", "bootstrap", domain, plist}};
    return {{"launchctl", "bootout", domain + "/" + launchd_label(task.name)}};
  }
  std::vector<std::string> systemctl = {"systemctl"};
  if (!target.system) systemctl.push_back("--user");
  auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> command = systemctl;
    command.insert(command.end(), args.begin(), args.end());
    return command;
  };
  std::string timer = unit_name(task.name) + ".timer";
  if (enable) return {with({"daemon-reload"}), with({"enable", "--now", timer})};
  return {with({"disable", "--now", timer}), with({"daemon-reload"})};
}

std::string joined(const std::vector<std::string>& command) {
  std::string text;
  for (const std::string& word : command) text += (text.empty() ? "" : " ") + word;
  return text;
}

// Runs the commands when the scheduler is there to take them; otherwise prints them.
void apply_or_print(const std::vector<std::vector<std::string>>& commands, const ScheduleTarget& target) {
  bool can_run = target.dir.empty() && (scheduler_kind(target) == "launchd" || systemd_running());
  if (can_run) {
    for (const auto& command : commands) {
      if (run_program(command) == 0) continue;
      fmt::print("`{}` failed; run it, and what follows, yourself:\n", joined(command));
      can_run = false;
      break;
    }
    if (can_run) return;
  } else {
    fmt::print("{}; to apply it, run:\n", target.dir.empty() ? "systemd is not running here" : "written only (--dir)");
  }
  for (const auto& command : commands) fmt::print("  {}\n", joined(command));
}

// The named tasks, or with --all every task that has a schedule. `removing`: a name no longer
// in the file is still taken, since its scheduler files may outlive it (`task remove` first).
std::vector<Task> target_tasks(const ScheduleTarget& target, bool removing = false) {
  std::vector<Task> all = load_tasks(tasks_file_path());
  std::vector<Task> chosen;
  if (target.all) {
    for (const Task& task : all) {
      if (!task.schedule.empty()) chosen.push_back(task);
    }
    return chosen;
  }
  for (const std::string& name : target.names) {
    const Task* task = find_task(all, name);
    if (task == nullptr && removing && valid_task_name(name)) {
      Task gone;
      gone.name = name;
      chosen.push_back(gone);
      continue;
    }
    if (task == nullptr) throw FatalError("no task " + name + " in " + tasks_file_path(), ExitCode::kUsage);
    chosen.push_back(*task);
  }
  return chosen;
}

}  // namespace

ExitCode list_tasks(bool json) {
  std::vector<Task> tasks = load_tasks(tasks_file_path());
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const Task& t : tasks) {
      out.push_back({{"name", t.name}, {"source", t.source}, {"destination", t.destination},
                     {"schedule", t.schedule}, {"backup_args", t.backup_args}, {"on_failure", t.on_failure},
                     {"on_success", t.on_success}});
    }
    fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return ExitCode::kOk;
  }
  if (tasks.empty()) {
    fmt::print("No tasks in {} (add one with `ferry task add NAME SRC DEST`)\n", tasks_file_path());
    return ExitCode::kOk;
  }
  fmt::print("{:<20} {:<16} {}\n", "TASK", "SCHEDULE", "SOURCE -> DESTINATION");
  for (const Task& t : tasks) {
    fmt::print("{:<20} {:<16} {} -> {}\n", t.name, t.schedule.empty() ? "by hand" : t.schedule, t.source, t.destination);
  }
  return ExitCode::kOk;
}

ExitCode show_task(const std::string& name) {
  Task task = tasks_named(name).front();
  fmt::print("task:        {} ({}, line {})\n", task.name, tasks_file_path(), task.line);
  fmt::print("runs:        {}\n", command_line(task));
  fmt::print("schedule:    {}\n", task.schedule.empty() ? "none (run with `ferry task run " + task.name + "`)" : task.schedule);
  if (!task.schedule.empty()) fmt::print("next run:    {}\n", next_run_text(task, forecast(task, now())));
  if (!task.on_failure.empty()) fmt::print("on failure:  {}\n", task.on_failure);
  if (!task.on_success.empty()) fmt::print("on success:  {}\n", task.on_success);
  LastRuns last = read_last_runs(task.name);
  if (last.last) {
    fmt::print("last run:    {} exit {}{}\n", local_time(last.last->start), last.last->exit_code,
               last.last->first_error.empty() ? "" : ": " + last.last->first_error);
    fmt::print("log:         {}\n", last.last->log);
  } else {
    fmt::print("last run:    never\n");
  }
  return ExitCode::kOk;
}

ExitCode show_history(const std::string& name, bool json) {
  Task task = tasks_named(name).front();
  int torn = 0;
  std::vector<RunRecord> runs = read_history(task.name, &torn);
  warn_torn(task.name, torn);
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const RunRecord& run : runs) out.push_back(run_json(run));
    fmt::print("{}\n", out.dump());
    return ExitCode::kOk;
  }
  if (runs.empty()) {
    fmt::print("Task {} has not run yet\n", task.name);
    return ExitCode::kOk;
  }
  fmt::print("{:<17} {:>9} {:>4} {:>9} {:>10} {:>6}  {}\n", "STARTED", "TOOK", "EXIT", "COPIED", "SIZE", "ERRORS", "");
  for (const RunRecord& run : runs) {
    std::string note = run.first_error;
    if (!run.hook_error.empty()) note += (note.empty() ? "" : "; ") + run.hook_error;
    fmt::print("{:<17} {:>9} {:>4} {:>9} {:>10} {:>6}  {}\n", local_time(run.start), age_text(run.end - run.start),
               run.exit_code, run.files, human_bytes(run.bytes), run.errors, note);
  }
  return ExitCode::kOk;
}

ExitCode show_status(const std::string& name, bool json, uint64_t max_age_s) {
  std::vector<Task> tasks = tasks_named(name);
  if (tasks.empty()) {
    fmt::print(stderr, "ferry: no tasks in {}: nothing is being backed up by schedule\n", tasks_file_path());
    return ExitCode::kFatal;
  }
  int64_t at = now();
  bool all_good = true;
  nlohmann::json out = nlohmann::json::array();
  if (!json) fmt::print("{:<20} {:<6} {:<17} {:<14} {:<17} {}\n", "TASK", "STATE", "LAST RUN", "LAST SUCCESS", "NEXT RUN", "");
  for (const Task& task : tasks) {
    LastRuns last = read_last_runs(task.name);
    warn_torn(task.name, last.torn_lines);
    Forecast when = forecast(task, at);
    int64_t max_age = static_cast<int64_t>(max_age_s);
    if (max_age == 0) max_age = when.interval_s > 0 ? 2 * when.interval_s : kDefaultMaxAge;
    std::string problem;
    if (!last.last) problem = "never ran";
    else if (!last.last->succeeded()) problem = fmt::format("last run failed (exit {}): {}", last.last->exit_code, last.last->first_error);
    else if (at - last.last_success->end > max_age) problem = "last success is older than " + age_text(max_age);
    bool good = problem.empty();
    all_good = all_good && good;
    int64_t success_age = last.last_success ? at - last.last_success->end : -1;
    if (json) {
      nlohmann::json entry = {{"task", task.name}, {"ok", good}, {"max_age_s", max_age},
                              {"last_success_age_s", success_age}, {"next_run", when.next}};
      if (last.last) entry["last_run"] = run_json(*last.last);
      if (!good) entry["problem"] = problem;
      out.push_back(entry);
      continue;
    }
    fmt::print("{:<20} {:<6} {:<17} {:<14} {:<17} {}\n", task.name, good ? "ok" : "FAIL",
               last.last ? local_time(last.last->start) : "never",
               success_age < 0 ? "never" : age_text(success_age) + " ago", next_run_text(task, when),
               problem);
  }
  if (json) fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return all_good ? ExitCode::kOk : ExitCode::kFatal;
}

ExitCode install_schedules(const ScheduleTarget& target) {
  std::vector<Task> tasks = target_tasks(target);
  std::string ferry_path = platform::executable_path();
  if (ferry_path.empty()) throw FatalError("cannot tell where this ferry program is, to name it in the schedule");
  for (const Task& task : tasks) {
    if (task.schedule.empty()) {
      throw FatalError("task " + task.name + " has no schedule: add schedule = \"daily 02:30\" (or hourly, weekly, a "
                       "systemd calendar expression) to it in " + tasks_file_path(),
                       ExitCode::kUsage);
    }
    Schedule schedule = schedule_of(task);
    if (scheduler_kind(target) == "systemd" && schedule.interval_s == 0 &&
        run_program({"systemd-analyze", "calendar", "--", schedule.calendar}, /*quiet=*/true) != 0) {
      throw FatalError("task " + task.name + ": systemd does not take the calendar expression \"" + task.schedule +
                       "\" (see `man systemd.time`)", ExitCode::kUsage);
    }
    std::error_code ec;
    std::filesystem::create_directories(unit_dir(target), ec);
    for (const UnitFile& file : unit_files(task, target, ferry_path)) {
      write_file(file.path, file.text);
      fmt::print("wrote {}\n", file.path);
    }
    apply_or_print(scheduler_commands(task, target, true), target);
  }
  return ExitCode::kOk;
}

ExitCode remove_schedules(const ScheduleTarget& target) {
  for (const Task& task : target_tasks(target, /*removing=*/true)) {
    ScheduleTarget for_listing = target;
    Task unscheduled = task;
    if (unscheduled.schedule.empty()) unscheduled.schedule = "daily";  // its files may still be there
    std::vector<UnitFile> files = unit_files(unscheduled, for_listing, "ferry");
    bool any = false;
    for (const UnitFile& file : files) any = any || ::access(file.path.c_str(), F_OK) == 0;
    if (!any) {
      fmt::print("task {} has no schedule installed in {}\n", task.name, unit_dir(target));
      continue;
    }
    apply_or_print(scheduler_commands(task, target, false), target);
    for (const UnitFile& file : files) {
      if (std::remove(file.path.c_str()) == 0) fmt::print("removed {}\n", file.path);
    }
    // A failure unit written when the task had on_failure, which it may no longer have.
    std::string failure = unit_dir(target) + "/" + failure_unit_name(task.name) + ".service";
    if (std::remove(failure.c_str()) == 0) fmt::print("removed {}\n", failure);
  }
  return ExitCode::kOk;
}

ExitCode list_schedules(const ScheduleTarget& target) {
  ScheduleTarget all = target;
  all.all = true;
  fmt::print("{:<20} {:<16} {:<10} {}\n", "TASK", "SCHEDULE", "INSTALLED", "NEXT RUN");
  for (const Task& task : target_tasks(all)) {
    if (task.schedule.empty()) continue;
    bool installed = false;
    for (const UnitFile& file : unit_files(task, target, "ferry")) installed = installed || ::access(file.path.c_str(), F_OK) == 0;
    fmt::print("{:<20} {:<16} {:<10} {}\n", task.name, task.schedule, installed ? "yes" : "no",
               next_run_text(task, forecast(task, now())));
  }
  return ExitCode::kOk;
}

}  // namespace ferry
