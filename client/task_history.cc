#include "client/task_history.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "base/error.h"
#include "client/ferry_home.h"
#include "fs/unique_fd.h"

namespace ferry {
namespace {

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw FatalError("cannot create " + path + ": " + ec.message());
}

// The lines of `text` that parse as records, newest last; counts the rest.
void parse_lines(std::string_view text, std::vector<RunRecord>* runs, int* torn) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.empty()) continue;
    if (auto run = record_from_json(std::string(line))) runs->push_back(*run);
    else ++*torn;
  }
}

}  // namespace

std::string state_dir() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/ferry";
  }
  return user_home() + "/.local/state/ferry";
}

std::string history_file(const std::string& task) { return state_dir() + "/history/" + task + ".jsonl"; }

std::string run_folder(const std::string& task) {
  std::string folder = state_dir() + "/history/" + task;
  make_dirs(folder);
  return folder;
}

std::string time_text(int64_t when, const char* format, bool utc) {
  if (when <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(when);
  std::tm parts{};
  if (utc) ::gmtime_r(&t, &parts);
  else ::localtime_r(&t, &parts);
  char text[64];
  std::strftime(text, sizeof text, format, &parts);
  return text;
}

std::string record_to_json(const RunRecord& run) {
  nlohmann::json j = {{"start", run.start}, {"end", run.end},       {"exit_code", run.exit_code},
                      {"files", run.files}, {"bytes", run.bytes},   {"errors", run.errors},
                      {"log", run.log},     {"summary", run.summary}};
  if (!run.first_error.empty()) j["first_error"] = run.first_error;
  if (!run.hook.empty()) {
    j["hook"] = run.hook;
    j["hook_exit_code"] = run.hook_exit_code;
    if (!run.hook_error.empty()) j["hook_error"] = run.hook_error;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<RunRecord> record_from_json(const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("start") || !j.contains("exit_code")) return std::nullopt;
  try {
    RunRecord run;
    run.start = j.at("start").get<int64_t>();
    run.end = j.value("end", int64_t{0});
    run.exit_code = j.at("exit_code").get<int>();
    run.files = j.value("files", uint64_t{0});
    run.bytes = j.value("bytes", uint64_t{0});
    run.errors = j.value("errors", uint64_t{0});
    run.first_error = j.value("first_error", "");
    run.log = j.value("log", "");
    run.summary = j.value("summary", "");
    run.hook = j.value("hook", "");
    run.hook_exit_code = j.value("hook_exit_code", -1);
    run.hook_error = j.value("hook_error", "");
    return run;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

void append_run(const std::string& task, const RunRecord& run) {
  std::string path = history_file(task);
  make_dirs(state_dir() + "/history");
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));  // read: the last byte
  if (!fd.valid()) throw FatalError(errno_message("cannot open " + path, errno));
  // A torn line left by a crash must not swallow this one: start on a line of its own.
  std::string line = record_to_json(run) + "\n";
  if (struct stat st{}; ::fstat(fd.get(), &st) == 0 && st.st_size > 0) {
    char last = '\n';
    if (::pread(fd.get(), &last, 1, st.st_size - 1) == 1 && last != '\n') line.insert(line.begin(), '\n');
  }
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    throw FatalError(errno_message("cannot append to " + path, errno));
  }
}

std::vector<RunRecord> read_history(const std::string& task, int* torn_lines) {
  std::ifstream in(history_file(task), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<RunRecord> runs;
  *torn_lines = 0;
  parse_lines(text.str(), &runs, torn_lines);
  return runs;
}

LastRuns read_last_runs(const std::string& task) {
  LastRuns result;
  UniqueFd fd(::open(history_file(task).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return result;
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return result;
  // Read backwards a block at a time until both the newest run and the newest success are
  // known; a task that never succeeded costs one pass over its file.
  constexpr off_t kBlock = 64 * 1024;
  off_t end = st.st_size;
  std::string tail;  // bytes from `end` onwards not yet parsed (an incomplete first line)
  while (end > 0 && !(result.last && result.last_success)) {
    off_t start = std::max<off_t>(0, end - kBlock);
    std::string block(static_cast<size_t>(end - start), '\0');
    if (::pread(fd.get(), block.data(), block.size(), start) != static_cast<ssize_t>(block.size())) break;
    block += tail;
    // Everything after the first newline is whole lines (unless at the file's start).
    size_t cut = start == 0 ? 0 : block.find('\n');
    if (cut == std::string::npos) {
      tail = block;
      end = start;
      continue;
    }
    if (start != 0) ++cut;
    // Newest line first, each parsed only when still needed: a task whose last run succeeded
    // costs one parse however long its history.
    std::string_view lines = std::string_view(block).substr(cut);
    while (!lines.empty() && !(result.last && result.last_success)) {
      if (lines.back() == '\n') lines.remove_suffix(1);
      size_t begin = lines.rfind('\n');
      begin = begin == std::string_view::npos ? 0 : begin + 1;
      std::string_view line = lines.substr(begin);
      lines.remove_suffix(line.size());
      if (line.empty()) continue;
      std::optional<RunRecord> run = record_from_json(std::string(line));
      if (!run) {
        ++result.torn_lines;
        continue;
      }
      if (!result.last) result.last = *run;
      if (!result.last_success && run->succeeded()) result.last_success = *run;
    }
    tail = block.substr(0, cut);
    end = start;
  }
  return result;
}

void prune_run_files(const std::string& task, size_t keep) {
  std::error_code ec;
  std::vector<std::filesystem::path> runs;
  for (const auto& entry : std::filesystem::directory_iterator(run_folder(task), ec)) {
    if (entry.path().extension() == ".log") runs.push_back(entry.path());
  }
  if (runs.size() <= keep) return;
  std::sort(runs.begin(), runs.end());  // names are start times: oldest first
  for (size_t i = 0; i + keep < runs.size(); ++i) {
    std::filesystem::path summary = runs[i];
    summary.replace_extension(".json");
    std::filesystem::remove(runs[i], ec);
    std::filesystem::remove(summary, ec);
  }
}

}  // namespace ferry
