// The command lines of `ferry task`, `ferry schedule` and `ferry status`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "client/task_commands.h"

namespace ferry {

struct TaskCommandLine {
  CLI::App* task = nullptr;
  CLI::App* add = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* run = nullptr;
  CLI::App* history = nullptr;
  CLI::App* failed = nullptr;
  CLI::App* schedule = nullptr;
  CLI::App* schedule_install = nullptr;
  CLI::App* schedule_remove = nullptr;
  CLI::App* schedule_list = nullptr;
  CLI::App* status = nullptr;

  std::string name;
  bool all = false;
  bool json = false;
  std::string when;
  std::string on_failure;
  std::string on_success;
  std::string max_age;
  ScheduleTarget target;
};

void add_task_commands(CLI::App* app, TaskCommandLine* line);

// Runs the command `line` parsed; nullopt when it was none of these.
std::optional<ExitCode> run_task_command(const TaskCommandLine& line);

}  // namespace ferry
