#include "client/task_config.h"

#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include "client/cli_options.h"
#include "client/ferry_home.h"
#include "client/schedule.h"
#include "client/usage_hints.h"

namespace ferry {
namespace {

// Keys of a task that are not backup options.
constexpr const char* kTaskKeys[] = {"source", "destination", "schedule", "on_failure", "on_success", "filter"};
// Backup options a task may not set: the task runner owns the output.
constexpr const char* kRunnerOwned[] = {"help", "json", "progress", "json-progress", "stats", "verbose", "quiet", "dry-run"};


FatalError usage(const std::string& text) { return FatalError(text, ExitCode::kUsage); }

std::string where(const std::string& path, const toml::source_region& region) {
  return path + ":" + std::to_string(region.begin.line) + ":" + std::to_string(region.begin.column);
}

std::string to_key(std::string option) {
  std::replace(option.begin(), option.end(), '-', '_');
  return option;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// A scalar TOML value as the text an option takes; "" with *ok false for other kinds.
std::string option_value(const toml::node& node, bool* ok) {
  *ok = true;
  if (auto s = node.value<std::string>(); s && node.is_string()) return *s;
  if (node.is_integer()) return std::to_string(*node.value<int64_t>());
  *ok = false;
  return "";
}

// The backup arguments for one key of a task table.
void add_option_args(const std::string& path, const toml::key& key_name, const toml::node& node,
                     const BackupOptionNames& names, std::vector<std::string>* args) {
  std::string key(key_name.str());
  std::string option = key;
  std::replace(option.begin(), option.end(), '_', '-');
  bool flag = contains(names.flags, option), with_value = contains(names.with_value, option);
  if (flag && (node.is_boolean() || !with_value)) {
    if (!node.is_boolean()) {
      throw usage(where(path, node.source()) + ": " + key + " is true or false");
    }
    if (*node.value<bool>()) args->push_back("--" + option);
    return;
  }
  if (!with_value) {
    std::vector<std::string> known;
    for (const char* k : kTaskKeys) known.push_back(k);
    for (const auto& n : names.flags) known.push_back(to_key(n));
    for (const auto& n : names.with_value) known.push_back(to_key(n));
    std::string guess = nearest(key, known);
    throw usage(where(path, key_name.source()) + ": unknown key \"" + key + "\"" +
                (guess.empty() ? "" : "; did you mean \"" + guess + "\"?") +
                " (a task's keys are the backup command's long options with '_' for '-')");
  }
  std::vector<const toml::node*> values;
  if (const toml::array* list = node.as_array()) {
    for (const toml::node& item : *list) values.push_back(&item);
  } else {
    values.push_back(&node);
  }
  for (const toml::node* value : values) {
    bool ok = false;
    std::string text = option_value(*value, &ok);
    if (!ok) throw usage(where(path, value->source()) + ": " + key + " takes a string or a number");
    args->push_back("--" + option + "=" + text);
  }
}

// filter = ["- *.tmp", "+ keep/"]: rules in their order, for tasks that mix both kinds (the
// first rule that matches a name decides, and two separate lists would lose the order).
void add_filter_args(const std::string& path, const toml::node& node, std::vector<std::string>* args) {
  const toml::array* list = node.as_array();
  if (list == nullptr) throw usage(where(path, node.source()) + ": filter is a list of \"+ PATTERN\" or \"- PATTERN\"");
  for (const toml::node& item : *list) {
    std::optional<std::string> rule = item.value<std::string>();
    if (!item.is_string() || rule->size() < 3 || (!rule->starts_with("+ ") && !rule->starts_with("- "))) {
      throw usage(where(path, item.source()) + ": a filter rule is \"+ PATTERN\" (include) or \"- PATTERN\" (exclude)");
    }
    args->push_back(std::string(rule->starts_with("+") ? "--include=" : "--exclude=") + rule->substr(2));
  }
}

std::string string_key(const std::string& path, const std::string& key, const toml::node& node) {
  if (!node.is_string()) throw usage(where(path, node.source()) + ": " + key + " is a string");
  return *node.value<std::string>();
}

// The keys of a table in the order they are written: filter rules apply in order (the first
// that matches a name decides), and a task must mean what its file says, line by line.
std::vector<std::pair<const toml::key*, const toml::node*>> keys_in_file_order(const toml::table& table) {
  std::vector<std::pair<const toml::key*, const toml::node*>> keys;
  for (const auto& [key, value] : table) keys.emplace_back(&key, &value);
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    const toml::source_position &x = a.first->source().begin, &y = b.first->source().begin;
    return x.line != y.line ? x.line < y.line : x.column < y.column;
  });
  return keys;
}

Task read_task(const std::string& path, const std::string& name, const toml::node& node,
               const BackupOptionNames& names) {
  const toml::table* table = node.as_table();
  if (table == nullptr) throw usage(where(path, node.source()) + ": tasks." + name + " is a table ([tasks." + name + "])");
  if (!valid_task_name(name)) {
    throw usage(where(path, node.source()) + ": task name \"" + name + "\": " + task_name_rule());
  }
  Task task;
  task.name = name;
  task.line = static_cast<int>(node.source().begin.line);
  int pattern_lists = 0;
  for (const char* key : {"include", "exclude", "filter"}) pattern_lists += table->contains(key) ? 1 : 0;
  if (pattern_lists > 1) {
    throw usage(where(path, node.source()) + ": task " + name +
                " has more than one of include, exclude and filter, whose order matters (the first rule that "
                "matches decides): write them as one list, filter = [\"+ PATTERN\", \"- PATTERN\", ...]");
  }
  for (const auto& [key_name, value] : keys_in_file_order(*table)) {
    std::string key(key_name->str());
    if (key == "source") task.source = string_key(path, key, *value);
    else if (key == "destination") task.destination = string_key(path, key, *value);
    else if (key == "schedule") task.schedule = string_key(path, key, *value);
    else if (key == "on_failure") task.on_failure = string_key(path, key, *value);
    else if (key == "on_success") task.on_success = string_key(path, key, *value);
    else if (key == "filter") add_filter_args(path, *value, &task.backup_args);
    else add_option_args(path, *key_name, *value, names, &task.backup_args);
  }
  for (const char* required : {"source", "destination"}) {
    if (!table->contains(required)) {
      throw usage(where(path, node.source()) + ": task " + name + " has no " + required);
    }
  }
  if (!task.schedule.empty()) {
    std::string error;
    (void)parse_schedule(task.schedule, &error);
    if (!error.empty()) throw usage(where(path, (*table)["schedule"].node()->source()) + ": task " + name + ": " + error);
  }
  // An exclude_from file is read when the task runs, not here: a file that is missing today
  // fails that task's run, and does not stop every other task from listing or running.
  std::vector<std::string> command;
  for (const std::string& arg : task.backup_args) {
    if (!arg.starts_with("--exclude-from=")) command.push_back(arg);
  }
  command.push_back(task.source);
  command.push_back(task.destination);
  if (std::string error = check_backup_command_line(command); !error.empty()) {
    throw usage(where(path, node.source()) + ": task " + name + ": " + error);
  }
  return task;
}

}  // namespace

const char* task_name_rule() {
  return "a letter or digit, then letters, digits, '-' and '_', at most 64 (it names files and scheduler units)";
}

bool runner_owned_option(const std::string& option) {
  return std::find(std::begin(kRunnerOwned), std::end(kRunnerOwned), option) != std::end(kRunnerOwned);
}

bool valid_task_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0])) &&
         name.find_first_not_of(
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos;
}

BackupOptionNames backup_option_names() {
  CLI::App app;
  TransferOptions options;
  std::string src, dst;
  KeepRules keep;
  int verbosity = 0;
  CLI::App* backup = add_backup_command(&app, &options, &src, &dst, &keep, &verbosity);
  BackupOptionNames names;
  for (const CLI::Option* option : backup->get_options()) {
    for (const std::string& name : option->get_lnames()) {
      if (runner_owned_option(name)) continue;
      bool flag = option->get_expected_max() == 0;
      (flag ? names.flags : names.with_value).push_back(name);
      // CLI11 names a number's type INT or UINT, after a type name of our own ("N:INT in ...").
      if (std::string type = option->get_type_name(); type.find("INT") != std::string::npos) {
        names.integers.push_back(name);
      }
      // --compress is a flag that may also take a value (--compress=auto): either fits.
      if (flag && name == "compress") names.with_value.push_back(name);
    }
  }
  return names;
}

std::string check_backup_command_line(const std::vector<std::string>& args) {
  CLI::App app;
  TransferOptions options;
  std::string src, dst;
  KeepRules keep;
  int verbosity = 0;
  add_backup_command(&app, &options, &src, &dst, &keep, &verbosity);
  std::vector<std::string> argv_text = {"ferry", "backup"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_text) argv.push_back(arg.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  if (keep.any() && !options.snapshot) return "keep_* rules apply to snapshots: add snapshot = true";
  return "";
}

std::string tasks_file_path() { return ferry_home() + "/tasks.toml"; }

namespace {

toml::table parse_tasks_text(const std::string& text, const std::string& path) {
  try {
    return toml::parse(std::string_view(text), std::string_view(path));
  } catch (const toml::parse_error& e) {
    throw usage(where(path, e.source()) + ": " + std::string(e.description()));
  }
}

}  // namespace

std::vector<Task> load_tasks_text(const std::string& text, const std::string& path) {
  toml::table root = parse_tasks_text(text, path);
  BackupOptionNames names = backup_option_names();
  std::vector<Task> tasks;
  for (const auto& [key_name, node] : root) {
    std::string key(key_name.str());
    if (key != "tasks") {
      std::string guess = nearest(key, {"tasks"});
      throw usage(where(path, node.source()) + ": unknown key \"" + key + "\"" +
                  (guess.empty() ? "" : "; did you mean \"" + guess + "\"?") +
                  " (the file holds [tasks.NAME] tables)");
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) throw usage(where(path, node.source()) + ": tasks holds [tasks.NAME] tables");
    for (const auto& [name, task] : *table) tasks.push_back(read_task(path, std::string(name.str()), task, names));
  }
  std::sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) { return a.line < b.line; });
  // Names that differ only in case would share a history folder and scheduler unit on a Mac.
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (strcasecmp(tasks[i].name.c_str(), tasks[j].name.c_str()) == 0) {
        throw usage(path + ":" + std::to_string(tasks[i].line) + ": task " + tasks[i].name + " differs from task " +
                    tasks[j].name + " (line " + std::to_string(tasks[j].line) +
                    ") only in case; their history and schedule files would be one on a Mac: rename one");
      }
    }
  }
  return tasks;
}

std::vector<Task> load_tasks(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return {};
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw FatalError(errno_message("cannot read " + path, errno));
  return load_tasks_text(text.str(), path);
}

const Task* find_task(const std::vector<Task>& tasks, const std::string& name) {
  for (const Task& task : tasks) {
    if (task.name == name) return &task;
  }
  return nullptr;
}

}  // namespace ferry
