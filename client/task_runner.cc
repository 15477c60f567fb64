#include "client/task_runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "client/child_process.h"
#include "client/schedule.h"
#include "client/task_history.h"
#include "fs/unique_fd.h"
#include "platform/platform.h"

namespace ferry {
namespace {

constexpr int kHookTimeoutSeconds = 600;
constexpr size_t kFirstErrorBytes = 500;

// What the signal handlers pass Ctrl-C or a scheduler's TERM on to, so that the runner still
// records how the run ended: the backup child (a pid), then the hook's process group (-pgid:
// the shell and whatever it started, a curl that hangs included).
volatile sig_atomic_t g_child = 0;

extern "C" void forward_signal(int signal_number) {
  if (g_child != 0) ::kill(static_cast<pid_t>(g_child), signal_number);
}

std::string lock_path(const std::string& task) { return state_dir() + "/history/" + task + ".lock"; }

std::string utc_id(int64_t when) { return time_text(when, "%Y-%m-%dT%H-%M-%SZ", /*utc=*/true); }
std::string local_time_text(int64_t when) { return time_text(when, "%Y-%m-%d %H:%M:%S"); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The hook's shell command, with its output in the run's log; bounded in time, since a hook
// that hangs must not keep the task's lock forever.
void run_hook(const Task& task, const std::string& which, const std::string& command, int exit_code,
              const std::string& summary, const std::string& log, int log_fd, RunRecord* run) {
  run->hook = which;
  std::string header = fmt::format("\nferry: running the task's {} hook: {}\n", which, command);
  (void)!::write(log_fd, header.data(), header.size());
  std::vector<std::string> env = environment_with({{"FERRY_TASK", task.name},
                                                   {"FERRY_EXIT_CODE", std::to_string(exit_code)},
                                                   {"FERRY_SUMMARY", summary},
                                                   {"FERRY_LOG", log}});
  pid_t pid = spawn({"/bin/sh", "-c", command}, env, log_fd, log_fd, /*own_group=*/true);
  if (pid < 0) {
    run->hook_error = errno_message("cannot start /bin/sh", errno);
    return;
  }
  g_child = -pid;
  int status = 0;
  for (int waited_ms = 0;; waited_ms += 100) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    if (waited_ms >= kHookTimeoutSeconds * 1000) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      run->hook_error = fmt::format("the hook did not finish in {} s and was stopped", kHookTimeoutSeconds);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  g_child = 0;
  run->hook_exit_code = exit_status(status);
  if (run->hook_error.empty() && run->hook_exit_code != 0) {
    run->hook_error = fmt::format("the {} hook exited with {}", which, run->hook_exit_code);
  }
  if (!run->hook_error.empty()) spdlog::warn("task {}: {} (its output is in {})", task.name, run->hook_error, log);
}

void maybe_run_hook(const Task& task, int exit_code, const std::string& summary, const std::string& log,
                    int log_fd, RunRecord* run) {
  if (exit_code != 0 && !task.on_failure.empty()) {
    run_hook(task, "on_failure", task.on_failure, exit_code, summary, log, log_fd, run);
  } else if (exit_code == 0 && !task.on_success.empty()) {
    run_hook(task, "on_success", task.on_success, exit_code, summary, log, log_fd, run);
  }
}

// What the summary says of the run, and the first thing the run complained about.
void take_summary(const std::string& summary_path, const std::string& output, RunRecord* run) {
  // The first line is the backup's summary (a retention run after it adds its own line).
  std::string text = read_file(summary_path);
  nlohmann::json j = nlohmann::json::parse(text.substr(0, text.find('\n')), nullptr, false);
  if (j.is_object()) {
    run->files = j.value("files_transferred", uint64_t{0});
    run->bytes = j.value("bytes_total", uint64_t{0});
    run->errors = j.value("errors", uint64_t{0});
    run->first_error = j.value("error", "");
  }
  if (run->first_error.empty() && run->exit_code != 0) {
    std::string first = output.substr(0, output.find('\n'));
    if (first.starts_with("ferry: ")) first = first.substr(7);
    run->first_error = first.empty() ? fmt::format("the backup exited with {} and said nothing", run->exit_code) : first;
  }
  if (run->first_error.size() > kFirstErrorBytes) run->first_error.resize(kFirstErrorBytes);
}

}  // namespace

ExitCode run_task(const Task& task, bool echo) {
  RunRecord run;
  run.start = static_cast<int64_t>(::time(nullptr));
  std::string folder = run_folder(task.name);

  // One run of a task at a time: the destination's lock would refuse the second anyway, but
  // only after connecting, and it would leave a failed run in the history.
  std::string lock_file = lock_path(task.name);
  UniqueFd lock(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid()) throw FatalError(errno_message("cannot open " + lock_file, errno));
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    long pid = 0;
    long long since = 0;
    std::istringstream(read_file(lock_file)) >> pid >> since;
    throw FatalError(fmt::format("task {} is already running (pid {}, started {}); this run is skipped", task.name,
                                 pid, local_time_text(since)),
                     ExitCode::kBusy);
  }
  std::string holder = fmt::format("{} {}\n", ::getpid(), run.start);
  if (::ftruncate(lock.get(), 0) != 0 || ::pwrite(lock.get(), holder.data(), holder.size(), 0) < 0) {
    throw FatalError(errno_message("cannot write " + lock_file, errno));
  }

  // Runs in one second: "..Z_002" sorts after "..Z.log", and "_010" after "_009" (pruning goes
  // by name, oldest first).
  std::string id = utc_id(run.start);
  for (int n = 2; ::access((folder + "/" + id + ".log").c_str(), F_OK) == 0; ++n) id = utc_id(run.start) + fmt::format("_{:03}", n);
  run.log = folder + "/" + id + ".log";
  run.summary = folder + "/" + id + ".json";
  UniqueFd log_fd(::open(run.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
  UniqueFd summary_fd(::open(run.summary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!log_fd.valid() || !summary_fd.valid()) throw FatalError(errno_message("cannot create the run's log in " + folder, errno));

  std::string self = platform::executable_path();
  if (self.empty()) throw FatalError("cannot tell where this ferry program is, to run the task's backup");
  std::vector<std::string> argv = {self, "backup", "--json"};
  argv.insert(argv.end(), task.backup_args.begin(), task.backup_args.end());
  argv.push_back(task.source);
  argv.push_back(task.destination);
  std::string header = fmt::format("ferry: task {} started {}\nferry:", task.name, local_time_text(run.start));
  for (size_t i = 1; i < argv.size(); ++i) header += " " + argv[i];
  header += "\n";
  (void)!::write(log_fd.get(), header.data(), header.size());

  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw FatalError(errno_message("pipe", errno));
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  ::fcntl(read_end.get(), F_SETFD, FD_CLOEXEC);
  ::fcntl(write_end.get(), F_SETFD, FD_CLOEXEC);
  struct sigaction forward{}, old_int{}, old_term{};
  forward.sa_handler = forward_signal;
  ::sigemptyset(&forward.sa_mask);
  ::sigaction(SIGINT, &forward, &old_int);
  ::sigaction(SIGTERM, &forward, &old_term);
  pid_t child = spawn(argv, environment_with({}), summary_fd.get(), write_end.get());
  if (child < 0) throw FatalError(errno_message("cannot start " + self, errno));
  g_child = child;
  write_end.reset();
  summary_fd.reset();

  // The child's messages: into the log, and to the terminal when someone is watching.
  std::string output;
  char buffer[16 * 1024];
  for (;;) {
    ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    (void)!::write(log_fd.get(), buffer, static_cast<size_t>(n));
    if (echo) (void)!::write(STDERR_FILENO, buffer, static_cast<size_t>(n));
    if (output.size() < 64 * 1024) output.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;

  run.exit_code = exit_status(status);
  run.end = static_cast<int64_t>(::time(nullptr));
  take_summary(run.summary, output, &run);
  // The handlers stay through the hook: a TERM now ends the hook, and the run is still recorded.
  maybe_run_hook(task, run.exit_code, run.summary, run.log, log_fd.get(), &run);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  append_run(task.name, run);
  prune_run_files(task.name);
  return static_cast<ExitCode>(run.exit_code);
}

ExitCode record_unfinished_run(const Task& task) {
  std::string lock_file = lock_path(task.name);
  UniqueFd lock(::open(lock_file.c_str(), O_RDWR | O_CLOEXEC));
  if (!lock.valid()) return ExitCode::kOk;  // the task never ran
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return ExitCode::kOk;  // a run is going on now
  long pid = 0;
  long long start = 0;
  std::istringstream(read_file(lock_file)) >> pid >> start;
  LastRuns last = read_last_runs(task.name);
  if (start == 0 || (last.last && last.last->start >= start)) return ExitCode::kOk;  // it recorded itself

  RunRecord run;
  run.start = start;
  run.end = static_cast<int64_t>(::time(nullptr));
  run.exit_code = static_cast<int>(ExitCode::kFatal);
  run.first_error = fmt::format(
      "the run (pid {}) ended without recording itself: it was killed or crashed (the system log may say why: "
      "journalctl --user -u {})",
      pid, unit_name(task.name));
  run.log = run_folder(task.name) + "/" + utc_id(start) + ".log";
  UniqueFd log_fd(::open(run.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!task.on_failure.empty()) {
    run_hook(task, "on_failure", task.on_failure, run.exit_code, "", run.log, log_fd.get(), &run);
  }
  append_run(task.name, run);
  return ExitCode::kOk;
}

}  // namespace ferry
