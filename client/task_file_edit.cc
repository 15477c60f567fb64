#include "client/task_file_edit.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>
#include <utf8proc.h>

#include "base/log.h"
#include "client/child_process.h"
#include "client/cli_options.h"
#include "client/remote_spec.h"
#include "client/schedule.h"
#include "client/task_config.h"

namespace ferry {
namespace {

// Options that name a local file: a task added from a shell keeps them absolute, since its
// scheduled runs start in another folder.
constexpr const char* kPathOptions[] = {"exclude-from", "identity", "known-hosts", "known-volumes"};

FatalError usage(const std::string& text) { return FatalError(text, ExitCode::kUsage); }

std::string to_key(std::string option) {
  std::replace(option.begin(), option.end(), '-', '_');
  return option;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The long name of each short option of the backup command ("z" -> "compress").
std::map<std::string, std::string> short_option_names() {
  CLI::App app;
  TransferOptions o;
  std::string s, d;
  KeepRules k;
  int v = 0;
  std::map<std::string, std::string> names;
  for (const CLI::Option* option : add_backup_command(&app, &o, &s, &d, &k, &v)->get_options()) {
    if (option->get_lnames().empty()) continue;
    for (const std::string& short_name : option->get_snames()) names[short_name] = option->get_lnames()[0];
  }
  return names;
}

// A number as TOML should hold it: only for options that take one, and only written the one
// way a number is written ("007" stays the text it was typed as).
bool is_canonical_integer(const std::string& text) {
  std::string digits = text.starts_with("-") ? text.substr(1) : text;
  return !digits.empty() && digits.size() < 18 && digits.find_first_not_of("0123456789") == std::string::npos &&
         (digits == "0" || digits[0] != '0') && text != "-0";
}

// Whether `text` is UTF-8 throughout (utf8proc's decoder: no overlong forms, no surrogates).
bool valid_utf8(const std::string& text) {
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  for (utf8proc_ssize_t at = 0, size = static_cast<utf8proc_ssize_t>(text.size()); at < size;) {
    utf8proc_int32_t code = 0;
    utf8proc_ssize_t n = utf8proc_iterate(bytes + at, size - at, &code);
    if (n <= 0) return false;
    at += n;
  }
  return true;
}

std::string absolute_path(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.string();
}

// "key = value" as toml++ writes it.
std::string toml_line(const std::string& key, toml::node&& value) {
  toml::table one;
  one.insert(key, std::move(value));
  std::ostringstream text;
  text << toml::toml_formatter(one);
  return text.str() + "\n";
}

}  // namespace

std::string task_table_text(const std::string& name, const std::vector<std::string>& words,
                            const std::string& schedule, const std::string& on_failure,
                            const std::string& on_success) {
  if (!valid_task_name(name)) throw usage("task name \"" + name + "\": " + task_name_rule());
  if (!schedule.empty()) {
    std::string error;
    (void)parse_schedule(schedule, &error);
    if (!error.empty()) throw usage("--schedule: " + error);
    // A calendar expression is systemd's to check; where systemd-analyze is, a typo is caught
    // now, not at `schedule install` (or never, by `status`).
    if (Schedule parsed = parse_schedule(schedule, &error); parsed.interval_s == 0 &&
                                                           run_program({"systemd-analyze", "--version"}, true) == 0 &&
                                                           run_program({"systemd-analyze", "calendar", "--", schedule}, true) != 0) {
      throw usage("--schedule \"" + schedule + "\": neither hourly, daily, daily HH:MM nor weekly, and systemd does "
                  "not take it as a calendar expression (see `man systemd.time`)");
    }
  }
  if (std::string error = check_backup_command_line(words); !error.empty()) throw usage(error);

  // Walk the options as the command line gives them, keeping repeats and the filters' order.
  BackupOptionNames names = backup_option_names();
  std::map<std::string, std::string> short_to_long = short_option_names();
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
    if (runner_owned_option(option)) {
      throw usage("task add: --" + option + " is the task runner's to set, not a task's");
    }
    bool is_flag = contains(names.flags, option);
    if (!has_value && !is_flag) {
      if (i + 1 >= words.size()) throw usage("task add: --" + option + " needs a value");
      value = words[++i];
      has_value = true;
    }
    if (has_value && is_flag && !contains(names.with_value, option)) {
      // --checksum=true / --checksum=false, as CLI11 takes them.
      if (value == "false" || value == "off" || value == "0") {
        // As on the command line, the last word wins: --delete --delete=false is no --delete.
        std::erase_if(given, [&](const auto& g) { return g.first == option; });
        continue;
      }
      value.clear();
    }
    if (std::find(std::begin(kPathOptions), std::end(kPathOptions), option) != std::end(kPathOptions)) {
      value = absolute_path(value);
    }
    given.emplace_back(option, has_value ? value : "");
  }
  if (positional.size() != 2) throw usage("task add NAME SRC DEST [backup options]: give one SRC and one DEST");
  // TOML holds UTF-8 text only; toml++ would write other bytes as different characters, and a
  // destination that silently became another folder is how --delete loses data.
  std::vector<std::string> all_text = words;
  all_text.insert(all_text.end(), {schedule, on_failure, on_success});
  for (const std::string& word : all_text) {
    if (!valid_utf8(word)) {
      throw usage("task add: \"" + printable(word) + "\" is not UTF-8 text, which tasks.toml cannot hold; "
                  "rename the folder, or run this backup from a script instead of a task");
    }
  }
  for (std::string& place : positional) {
    if (!parse_location(place).remote) place = absolute_path(place);
  }

  // Patterns (include, exclude) and pattern files (exclude_from) are separate keys, so their
  // order relative to each other can be kept only if each kind comes in one run.
  auto is_pattern = [](const std::string& o) { return o == "include" || o == "exclude"; };
  int kind_changes = 0;
  std::string last_kind;
  bool any_include = false, any_exclude = false;
  for (const auto& [option, value] : given) {
    any_include = any_include || option == "include";
    any_exclude = any_exclude || option == "exclude";
    std::string kind = is_pattern(option) ? "pattern" : option == "exclude-from" ? "file" : "";
    if (kind.empty()) continue;
    if (!last_kind.empty() && kind != last_kind) ++kind_changes;
    last_kind = kind;
  }
  if (kind_changes > 1) {
    throw usage("task add: --exclude-from between --include/--exclude options: a task keeps the patterns and the "
                "files as two lists, so this order cannot be kept; write the task in " + tasks_file_path() +
                " by hand (filter = [...] and exclude_from apply in the order they are written)");
  }
  bool one_filter_list = any_include && any_exclude;

  // Each key once, in the order its option first appears; repeats and lists gather under it.
  std::vector<std::string> order;
  std::map<std::string, toml::array> lists;
  std::map<std::string, std::string> singles;
  std::map<std::string, int> counts;
  for (const auto& [option, value] : given) ++counts[option];
  for (const auto& [option, value] : given) {
    std::string key = one_filter_list && is_pattern(option) ? "filter" : to_key(option);
    if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
    bool integer = contains(names.integers, option) && is_canonical_integer(value);
    if (key == "filter") {
      lists[key].push_back((option == "include" ? "+ " : "- ") + value);
    } else if (value.empty() && contains(names.flags, option)) {
      singles[key] = "";
    } else if (counts[option] > 1 || is_pattern(option) || option == "exclude-from") {
      if (integer) lists[key].push_back(static_cast<int64_t>(std::stoll(value)));
      else lists[key].push_back(value);
    } else {
      singles[key] = value;
      if (integer) singles[key] = "#" + value;  // marked: written as a number
    }
  }

  std::string text = "[tasks." + name + "]\n";
  text += toml_line("source", toml::value<std::string>(positional[0]));
  text += toml_line("destination", toml::value<std::string>(positional[1]));
  for (const std::string& key : order) {
    if (lists.count(key)) {
      text += toml_line(key, std::move(lists[key]));
    } else if (singles[key].empty()) {
      text += toml_line(key, toml::value<bool>(true));
    } else if (singles[key][0] == '#') {
      text += toml_line(key, toml::value<int64_t>(std::stoll(singles[key].substr(1))));
    } else {
      text += toml_line(key, toml::value<std::string>(singles[key]));
    }
  }
  if (!schedule.empty()) text += toml_line("schedule", toml::value<std::string>(schedule));
  if (!on_failure.empty()) text += toml_line("on_failure", toml::value<std::string>(on_failure));
  if (!on_success.empty()) text += toml_line("on_success", toml::value<std::string>(on_success));
  return text;
}

namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// The file's real path: a tasks.toml that is a symlink (into a dotfiles repository, say) is
// rewritten where it lives, and stays a symlink.
std::string real_path_of(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) != nullptr) return resolved;
  // A link to a file not made yet: write where it points.
  std::error_code ec;
  std::filesystem::path target = std::filesystem::read_symlink(path, ec);
  if (ec) return path;
  return target.is_absolute() ? target.string() : (std::filesystem::path(path).parent_path() / target).string();
}

// One writer of tasks.toml at a time: two `task add`s at once must not each write the file
// they read, losing the other's task. The lock lives beside the file, in FERRY_HOME.
class TasksFileLock {
 public:
  explicit TasksFileLock(const std::string& path) {
    if (std::string dir = path.substr(0, path.rfind('/')); !dir.empty()) ::mkdir(dir.c_str(), 0700);
    std::string lock_path = path + ".lock";
    fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw FatalError(errno_message("cannot open " + lock_path, errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) throw FatalError(errno_message("cannot lock " + lock_path, errno));
    }
  }
  ~TasksFileLock() { ::close(fd_); }
  TasksFileLock(const TasksFileLock&) = delete;
  TasksFileLock& operator=(const TasksFileLock&) = delete;

 private:
  int fd_ = -1;
};

// Checks `text` as the tasks file it will be, then puts it in place atomically.
void write_tasks_file(const std::string& path, const std::string& text) {
  (void)load_tasks_text(text, path);  // errors name the file and line as the user knows them
  std::string target = real_path_of(path);
  std::string temp = target + ".XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0) throw FatalError(errno_message("cannot write beside " + target + " (is its folder writable?)", errno));
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  int error = errno;
  ::close(fd);
  if (!written) {
    std::remove(temp.c_str());
    throw FatalError(errno_message("cannot write " + target + " (is the disk full?)", error));
  }
  if (struct stat st{}; ::stat(target.c_str(), &st) == 0) ::chmod(temp.c_str(), st.st_mode & 07777);
  if (std::rename(temp.c_str(), target.c_str()) != 0) {
    error = errno;
    std::remove(temp.c_str());
    throw FatalError(errno_message("cannot replace " + target, error));
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r\n") == std::string_view::npos; }

}  // namespace

void append_task(const std::string& path, const std::string& name, const std::string& table_text) {
  TasksFileLock lock(path);
  std::vector<Task> tasks = load_tasks(path);
  for (const Task& existing : tasks) {
    if (strcasecmp(existing.name.c_str(), name.c_str()) != 0) continue;
    throw usage("task " + existing.name + " already exists (" + path + ", line " + std::to_string(existing.line) +
                ")" + (existing.name == name ? "" : ", and names that differ only in case would share files on a Mac") +
                ": remove it first (`ferry task remove " + existing.name + "`) or edit the file");
  }
  std::string text = read_text(path);
  if (!text.empty() && !text.ends_with("\n")) text += "\n";
  if (!text.empty() && !text.ends_with("\n\n")) text += "\n";
  text += table_text;
  write_tasks_file(path, text);
}

void remove_task(const std::string& path, const std::string& name) {
  TasksFileLock lock(path);
  std::string text = read_text(path);
  (void)load_tasks_text(text, path);  // a file that does not load is refused, naming where
  toml::table root = toml::parse(std::string_view(text), std::string_view(path));
  const toml::node* node = root["tasks"][name].node();
  const toml::table* table = node != nullptr ? node->as_table() : nullptr;
  if (table == nullptr) throw usage("no task " + name + " in " + path);

  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  // The table's lines, from its header to the end of its last value (which may be a list or a
  // string over several lines), as the parser saw them: never guessed from the text.
  size_t first = node->source().begin.line - 1;
  size_t last = first;
  for (const auto& [key, value] : *table) last = std::max<size_t>(last, value.source().end.line - 1);
  std::string_view header = first < lines.size() ? std::string_view(lines[first]) : std::string_view();
  if (first == 0 && header.starts_with(kByteOrderMark)) header.remove_prefix(kByteOrderMark.size());
  header.remove_prefix(std::min(header.size(), header.find_first_not_of(" \t")));
  if (last >= lines.size() || !header.starts_with("[")) {
    throw usage("task " + name + " is not written as a [tasks." + name + "] table (" + path + ", line " +
                std::to_string(first + 1) + "): remove it by hand");
  }
  // Comments around the table stay (they may be a banner, or about the next task); the blank
  // lines that separated it from what came before go with it.
  while (first > 0 && is_blank(lines[first - 1])) --first;
  bool keep_mark = first == 0 && text.starts_with(kByteOrderMark);
  lines.erase(lines.begin() + static_cast<long>(first), lines.begin() + static_cast<long>(last + 1));
  std::string out = keep_mark ? std::string(kByteOrderMark) : "";
  for (const std::string& line : lines) out += line;
  write_tasks_file(path, out);
}

}  // namespace ferry
