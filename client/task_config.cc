#include "client/task_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include "client/cli_options.h"
#include "client/ferry_home.h"
#include "client/usage_hints.h"

namespace ferry {
namespace {

// Keys of a task that are not backup options.
constexpr const char* kTaskKeys[] = {"source", "destination", "schedule", "on_failure", "on_success", "filter"};
// Backup options a task may not set: the task runner owns the output.
constexpr const char* kRunnerOwned[] = {"help", "json", "progress", "stats", "verbose", "dry-run"};

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

Task read_task(const std::string& path, const std::string& name, const toml::node& node,
               const BackupOptionNames& names) {
  const toml::table* table = node.as_table();
  if (table == nullptr) throw usage(where(path, node.source()) + ": tasks." + name + " is a table ([tasks." + name + "])");
  if (!valid_task_name(name)) {
    throw usage(where(path, node.source()) + ": task name \"" + name +
                "\": use letters, digits, '-' and '_' (at most 64; it names files and scheduler units)");
  }
  Task task;
  task.name = name;
  task.line = static_cast<int>(node.source().begin.line);
  if (table->contains("include") && table->contains("exclude")) {
    throw usage(where(path, node.source()) + ": task " + name +
                " has both include and exclude, whose order matters (the first rule that matches decides): "
                "write them as one list, filter = [\"+ PATTERN\", \"- PATTERN\", ...]");
  }
  for (const auto& [key_name, value] : *table) {
    std::string key(key_name.str());
    if (key == "source") task.source = string_key(path, key, value);
    else if (key == "destination") task.destination = string_key(path, key, value);
    else if (key == "schedule") task.schedule = string_key(path, key, value);
    else if (key == "on_failure") task.on_failure = string_key(path, key, value);
    else if (key == "on_success") task.on_success = string_key(path, key, value);
    else if (key == "filter") add_filter_args(path, value, &task.backup_args);
    else add_option_args(path, key_name, value, names, &task.backup_args);
  }
  for (const char* required : {"source", "destination"}) {
    if (!table->contains(required)) {
      throw usage(where(path, node.source()) + ": task " + name + " has no " + required);
    }
  }
  std::vector<std::string> command = task.backup_args;
  command.push_back(task.source);
  command.push_back(task.destination);
  if (std::string error = check_backup_command_line(command); !error.empty()) {
    throw usage(where(path, node.source()) + ": task " + name + ": " + error);
  }
  return task;
}

void write_replacing(const std::string& path, const std::string& text) {
  std::string temp = path + ".new";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw FatalError("cannot write " + temp);
  }
  try {
    (void)load_tasks(temp);
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
  if (struct stat st{}; ::stat(path.c_str(), &st) == 0) ::chmod(temp.c_str(), st.st_mode & 07777);
  if (std::rename(temp.c_str(), path.c_str()) != 0) throw FatalError("cannot replace " + path);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A line that opens a table: "[name]" or "[a.b]" after blanks, not "[[".
bool is_table_header(std::string_view line) {
  size_t start = line.find_first_not_of(" \t");
  return start != std::string_view::npos && line[start] == '[';
}

bool is_comment_or_blank(std::string_view line) {
  size_t start = line.find_first_not_of(" \t\r");
  return start == std::string_view::npos || line[start] == '#';
}

}  // namespace

bool valid_task_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && name.find_first_not_of(
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
      if (std::find(std::begin(kRunnerOwned), std::end(kRunnerOwned), name) != std::end(kRunnerOwned)) continue;
      bool flag = option->get_expected_max() == 0;
      (flag ? names.flags : names.with_value).push_back(name);
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

std::vector<Task> load_tasks(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return {};
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw usage(where(path, e.source()) + ": " + std::string(e.description()));
  }
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
  return tasks;
}

const Task* find_task(const std::vector<Task>& tasks, const std::string& name) {
  for (const Task& task : tasks) {
    if (task.name == name) return &task;
  }
  return nullptr;
}

std::string task_table_text(const std::string& name, const std::vector<std::string>& words,
                            const std::string& schedule, const std::string& on_failure,
                            const std::string& on_success) {
  if (!valid_task_name(name)) {
    throw usage("task name \"" + name + "\": use letters, digits, '-' and '_' (at most 64)");
  }
  if (std::string error = check_backup_command_line(words); !error.empty()) throw usage(error);

  // Walk the options as the command line gives them, keeping repeats and the filters' order.
  BackupOptionNames names = backup_option_names();
  std::map<std::string, std::string> short_to_long;
  {
    CLI::App app;
    TransferOptions o;
    std::string s, d;
    KeepRules k;
    int v = 0;
    for (const CLI::Option* option : add_backup_command(&app, &o, &s, &d, &k, &v)->get_options()) {
      if (option->get_lnames().empty()) continue;
      for (const std::string& short_name : option->get_snames()) short_to_long[short_name] = option->get_lnames()[0];
    }
  }
  std::vector<std::pair<std::string, std::string>> given;  // option, value ("" for a flag)
  std::vector<std::string> positional;
  bool options_ended = false;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string arg = words[i];
    std::string option, value;
    bool has_value = false;
    if (arg == "--" && !options_ended) {
      options_ended = true;
      continue;
    }
    if (options_ended || arg.empty() || arg[0] != '-' || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    if (arg.starts_with("--")) {
      size_t eq = arg.find('=');
      option = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) value = arg.substr(eq + 1), has_value = true;
    } else if (arg.size() == 2 && arg[0] == '-' && short_to_long.count(arg.substr(1))) {
      option = short_to_long[arg.substr(1)];
    } else {
      throw usage("task add: write \"" + arg + "\" as its long option (--name or --name=value)");
    }
    if (std::find(std::begin(kRunnerOwned), std::end(kRunnerOwned), option) != std::end(kRunnerOwned)) {
      throw usage("task add: --" + option + " is the task runner's to set, not a task's");
    }
    bool is_flag = contains(names.flags, option);
    if (!has_value && !is_flag) {
      if (i + 1 >= words.size()) throw usage("task add: --" + option + " needs a value");
      value = words[++i];
      has_value = true;
    }
    given.emplace_back(option, has_value ? value : "");
  }

  if (positional.size() != 2) throw usage("task add NAME SRC DEST [backup options]: give one SRC and one DEST");
  toml::table task;
  task.insert("source", positional[0]);
  task.insert("destination", positional[1]);
  auto given_any = [&](const char* option) {
    return std::any_of(given.begin(), given.end(), [&](const auto& g) { return g.first == option; });
  };
  bool both_filters = given_any("include") && given_any("exclude");
  std::map<std::string, int> counts;
  for (const auto& [option, value] : given) ++counts[option];
  toml::array filter;
  for (const auto& [option, value] : given) {
    std::string key = to_key(option);
    if (both_filters && (option == "include" || option == "exclude")) {
      filter.push_back((option == "include" ? "+ " : "- ") + value);
      continue;
    }
    bool integer = !value.empty() && value.size() < 18 && value.find_first_not_of("0123456789") == std::string::npos;
    auto as_node = [&](toml::array* into) {
      if (integer) into->push_back(static_cast<int64_t>(std::stoll(value)));
      else into->push_back(value);
    };
    if (value.empty() && contains(names.flags, option)) {
      task.insert_or_assign(key, true);
    } else if (counts[option] > 1 || option == "exclude" || option == "include" || option == "exclude-from") {
      if (!task.contains(key)) task.insert(key, toml::array{});
      as_node(task[key].as_array());
    } else if (integer) {
      task.insert_or_assign(key, static_cast<int64_t>(std::stoll(value)));
    } else {
      task.insert_or_assign(key, value);
    }
  }
  if (!filter.empty()) task.insert("filter", std::move(filter));
  if (!schedule.empty()) task.insert("schedule", schedule);
  if (!on_failure.empty()) task.insert("on_failure", on_failure);
  if (!on_success.empty()) task.insert("on_success", on_success);

  // source and destination first, then the rest as toml++ writes them (sorted by key).
  std::ostringstream text;
  text << "[tasks." << name << "]\n";
  for (const char* first : {"source", "destination"}) {
    text << toml::toml_formatter(toml::table{{first, *task[first].value<std::string>()}}) << "\n";
    task.erase(first);
  }
  text << toml::toml_formatter(task) << "\n";
  return text.str();
}

void append_task(const std::string& path, const std::string& name, const std::string& table_text) {
  std::vector<Task> tasks = load_tasks(path);
  if (const Task* existing = find_task(tasks, name)) {
    throw usage("task " + name + " already exists (" + path + ", line " + std::to_string(existing->line) +
                "): remove it first (`ferry task remove " + name + "`) or edit the file");
  }
  std::string text = read_text(path);
  if (!text.empty() && !text.ends_with("\n")) text += "\n";
  if (!text.empty() && !text.ends_with("\n\n")) text += "\n";
  text += table_text;
  if (std::string dir = path.substr(0, path.rfind('/')); !dir.empty()) ::mkdir(dir.c_str(), 0700);
  write_replacing(path, text);
}

void remove_task(const std::string& path, const std::string& name) {
  std::vector<Task> tasks = load_tasks(path);
  const Task* task = find_task(tasks, name);
  if (task == nullptr) throw usage("no task " + name + " in " + path);
  std::string text = read_text(path);
  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  size_t first = static_cast<size_t>(task->line - 1);
  if (first >= lines.size() || !is_table_header(lines[first])) {
    throw usage("task " + name + " is not written as a [tasks." + name + "] table (" + path + ", line " +
                std::to_string(task->line) + "): remove it by hand");
  }
  size_t next = first + 1;
  while (next < lines.size() && !is_table_header(lines[next])) ++next;
  // Comments just above the next table belong to it.
  size_t last = next;
  while (last > first + 1 && is_comment_or_blank(lines[last - 1]) && next < lines.size()) --last;
  // And the blank lines that separated this table from what came before go with it.
  while (first > 0 && is_comment_or_blank(lines[first - 1]) && lines[first - 1].find('#') == std::string::npos) --first;
  lines.erase(lines.begin() + static_cast<long>(first), lines.begin() + static_cast<long>(last));
  std::string out;
  for (const std::string& line : lines) out += line;
  write_replacing(path, out);
}

}  // namespace ferry
