#include "client/task_cli.h"

#include <fmt/core.h>

#include "client/snapshot_time.h"
#include "client/task_config.h"
#include "client/task_file_edit.h"
#include "client/task_runner.h"

namespace ferry {

void add_task_commands(CLI::App* app, TaskCommandLine* line) {
  line->task = app->add_subcommand("task", "named backups in FERRY_HOME/tasks.toml: add, list, run, history");
  line->task->require_subcommand(1);
  line->add = line->task->add_subcommand(
      "add", "add a task: ferry task add NAME SRC DEST [backup options] [--schedule WHEN]");
  line->add->add_option("NAME", line->name, "the task's name (letters, digits, - and _)")->required();
  line->add->add_option("--schedule", line->when, "hourly, daily, \"daily HH:MM\", weekly, or a systemd calendar expression");
  line->add->add_option("--on-failure", line->on_failure, "shell command run when a run fails");
  line->add->add_option("--on-success", line->on_success, "shell command run when a run succeeds");
  // SRC, DEST and the backup options are kept as typed and checked as `ferry backup` would.
  line->add->allow_extras();
  line->add->footer("SRC, DEST and any option of `ferry backup` follow NAME, in any order.");

  line->list = line->task->add_subcommand("list", "list the tasks");
  line->list->add_flag("--json", line->json, "print JSON");
  line->show = line->task->add_subcommand("show", "show a task: what it runs, its schedule, its last run");
  line->show->add_option("NAME", line->name, "the task")->required();
  line->remove = line->task->add_subcommand("remove", "remove a task from the tasks file (its history stays)");
  line->remove->add_option("NAME", line->name, "the task")->required();
  line->run = line->task->add_subcommand("run", "run a task now (or every task with --all), recording it in its history");
  line->run->add_option("NAME", line->name, "the task");
  line->run->add_flag("--all", line->all, "run every task, one after another");
  line->history = line->task->add_subcommand("history", "list a task's runs");
  line->history->add_option("NAME", line->name, "the task")->required();
  line->history->add_flag("--json", line->json, "print JSON");
  // For the scheduler's failure unit only.
  line->failed = line->task->add_subcommand("failed", "")->group("");
  line->failed->add_option("NAME", line->name, "the task")->required();

  line->schedule = app->add_subcommand("schedule", "install tasks' schedules in systemd (Linux) or launchd (macOS)");
  line->schedule->require_subcommand(1);
  line->schedule_install = line->schedule->add_subcommand("install", "write and enable the timer of each named task");
  line->schedule_remove = line->schedule->add_subcommand("remove", "disable and delete the timer of each named task");
  line->schedule_list = line->schedule->add_subcommand("list", "show each scheduled task, whether it is installed, its next run");
  for (CLI::App* cmd : {line->schedule_install, line->schedule_remove, line->schedule_list}) {
    if (cmd != line->schedule_list) {
      cmd->add_option("NAME", line->target.names, "the tasks");
      cmd->add_flag("--all", line->target.all, "every task with a schedule");
    }
    cmd->add_flag("--system", line->target.system, "system units (run as root) instead of the user's own");
    cmd->add_option("--dir", line->target.dir, "write the files into DIR and enable nothing (for packaging, or to read them)");
    cmd->add_option("--kind", line->target.kind, "systemd or launchd (default: this system's)")
        ->check(CLI::IsMember({"systemd", "launchd"}));
  }

  line->status = app->add_subcommand(
      "status", "each task's last result, last success and next run; exit 0 only when all are well (for monitors)");
  line->status->add_option("NAME", line->name, "only this task");
  line->status->add_flag("--json", line->json, "print JSON");
  line->status->add_option("--max-age", line->max_age,
                           "a last success older than this fails (30d, 12h; default: twice the schedule's interval, or 26h)");
}

std::optional<ExitCode> run_task_command(const TaskCommandLine& line) {
  if (line.add != nullptr && line.add->parsed()) {
    std::vector<std::string> words = line.add->remaining();
    std::string text = task_table_text(line.name, words, line.when, line.on_failure, line.on_success);
    append_task(tasks_file_path(), line.name, text);
    fmt::print("Added task {} to {}:\n\n{}", line.name, tasks_file_path(), text);
    if (!line.when.empty()) fmt::print("\nTo run it on its schedule: ferry schedule install {}\n", line.name);
    return ExitCode::kOk;
  }
  if (line.list->parsed()) return list_tasks(line.json);
  if (line.show->parsed()) return show_task(line.name);
  if (line.remove->parsed()) {
    remove_task(tasks_file_path(), line.name);
    fmt::print("Removed task {} from {} (its history stays; `ferry schedule remove {}` if it was scheduled)\n",
               line.name, tasks_file_path(), line.name);
    return ExitCode::kOk;
  }
  if (line.run->parsed()) {
    std::vector<Task> tasks = load_tasks(tasks_file_path());
    if (line.all == !line.name.empty()) throw FatalError("task run: name one task, or give --all", ExitCode::kUsage);
    if (!line.all) {
      const Task* task = find_task(tasks, line.name);
      if (task == nullptr) throw FatalError("no task " + line.name + " in " + tasks_file_path(), ExitCode::kUsage);
      return run_task(*task, /*echo=*/true);
    }
    ExitCode worst = ExitCode::kOk;
    for (const Task& task : tasks) {
      ExitCode code;
      try {
        code = run_task(task, true);
      } catch (const FatalError& e) {
        fmt::print(stderr, "ferry: {}\n", e.what());
        code = e.code();
      }
      if (worst == ExitCode::kOk) worst = code;
    }
    return worst;
  }
  if (line.history->parsed()) return show_history(line.name, line.json);
  if (line.failed->parsed()) {
    std::vector<Task> tasks = load_tasks(tasks_file_path());
    const Task* task = find_task(tasks, line.name);
    if (task == nullptr) throw FatalError("no task " + line.name + " in " + tasks_file_path(), ExitCode::kUsage);
    return record_unfinished_run(*task);
  }
  if (line.schedule_install->parsed() || line.schedule_remove->parsed()) {
    if (line.target.all == !line.target.names.empty()) {
      throw FatalError("schedule: name the tasks, or give --all", ExitCode::kUsage);
    }
    return line.schedule_install->parsed() ? install_schedules(line.target) : remove_schedules(line.target);
  }
  if (line.schedule_list->parsed()) return list_schedules(line.target);
  if (line.status->parsed()) {
    uint64_t max_age = 0;
    if (!line.max_age.empty()) {
      std::string error;
      max_age = parse_age(line.max_age, &error);
      if (!error.empty()) throw FatalError("--max-age: " + error, ExitCode::kUsage);
    }
    return show_status(line.name, line.json, max_age);
  }
  return std::nullopt;
}

}  // namespace ferry
