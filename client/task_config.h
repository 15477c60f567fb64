// Tasks: named backups in FERRY_HOME/tasks.toml, one [tasks.NAME] table each.
//
// A task's keys are the backup command's long options with '-' spelt '_' (snapshot = true,
// exclude = ["*.tmp"], bwlimit = "10M", keep_daily = 7), plus source, destination, schedule,
// on_failure and on_success. A task is checked by turning it into the backup command line it
// stands for and parsing that with the real command's options, so a task can never mean
// something the command line would refuse, and an unknown key is an error, never ignored.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace ferry {

struct Task {
  std::string name;
  std::string source;
  std::string destination;
  std::string schedule;    // "" = run only by hand
  std::string on_failure;  // shell commands; "" = none
  std::string on_success;
  std::vector<std::string> backup_args;  // the options, as `ferry backup` takes them (no SRC, DEST)
  int line = 0;                          // where its table starts in the file
};

// The long options `ferry backup` has, without their dashes, and whether each is a flag.
struct BackupOptionNames {
  std::vector<std::string> with_value;
  std::vector<std::string> flags;
  std::vector<std::string> integers;  // with_value options that take a number (port, keep_daily)
};
BackupOptionNames backup_option_names();

// Parses `args` (options, then SRC and DEST) as `ferry backup` would. Returns "" or CLI11's
// complaint.
std::string check_backup_command_line(const std::vector<std::string>& args);

std::string tasks_file_path();  // FERRY_HOME/tasks.toml

// Reads and checks every task. A missing file is no tasks. A malformed file, an unknown key,
// or options the backup command refuses: FatalError(kUsage) naming file, line and column.
std::vector<Task> load_tasks(const std::string& path);
// The same for the file's text; `path` is only for messages.
std::vector<Task> load_tasks_text(const std::string& text, const std::string& path);
const Task* find_task(const std::vector<Task>& tasks, const std::string& name);

// Task names become file and unit names: a letter or digit, then letters, digits, '-' and '_',
// at most 64 (never a leading '-', which a scheduler's command line would take as an option).
bool valid_task_name(const std::string& name);
const char* task_name_rule();  // the rule above, for messages

// Options a task may not set, since the task runner owns the output (--json, --progress, ...).
bool runner_owned_option(const std::string& option);

}  // namespace ferry
