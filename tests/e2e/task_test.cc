// Tasks over the real sshd: a task added from the command line and one written by hand both
// run with `ferry task run`, keep their filters, and leave a history that `ferry status` judges;
// a failed run runs its on_failure hook with the documented environment; a second run of a task
// is refused while the first holds its lock; schedules are files systemd and launchd accept.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "e2e/e2e.h"
#include "support/background.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

// FERRY_HOME and the XDG state folder of one test, and `ferry` run with them.
struct TaskHome {
  explicit TaskHome(const TempDir& work) : home(work / "home"), state(work / "state") {
    fs::create_directories(home);
  }
  std::string ferry(const std::string& args) const {
    return "FERRY_HOME=" + quote(home) + " XDG_STATE_HOME=" + quote(state) + " " + quote(kFerry) + " " + args;
  }
  std::string tasks_file() const { return home + "/tasks.toml"; }
  std::string history(const std::string& task) const { return state + "/ferry/history/" + task + ".jsonl"; }

  std::string home;
  std::string state;
};

// The options that reach the test sshd, as `task add` takes them.
std::string connection_options() {
  return "-i " + quote(sshd().client_key()) + " --port " + std::to_string(sshd().port()) + " --known-hosts " +
         quote(sshd().known_hosts());
}

// The same, as keys of a hand-written task.
std::string connection_keys() {
  return "identity = \"" + sshd().client_key() + "\"\nport = " + std::to_string(sshd().port()) +
         "\nknown_hosts = \"" + sshd().known_hosts() + "\"\n";
}

void write_source(const std::string& src) {
  fs::create_directories(src + "/docs");
  std::ofstream(src + "/docs/report.txt") << "keep me";
  std::ofstream(src + "/docs/scratch.tmp") << "a temporary file";
  std::ofstream(src + "/build.log") << "a log";
  write_random(src + "/data.bin", 300 << 10, 5);
}

int count_lines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

// KEY=VALUE lines, as `env` prints them.
std::map<std::string, std::string> read_env(const std::string& path) {
  std::map<std::string, std::string> env;
  std::istringstream in(slurp(path));
  for (std::string line; std::getline(in, line);) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

}  // namespace

TEST_CASE("a task added on the command line and one written by hand both run; filters hold; status and history follow") {
  TempDir work;
  TaskHome t(work);
  std::string src = work / "src", dest_cli = work / "dest-cli", dest_hand = work / "dest-hand";
  write_source(src);
  sshd().trust_host_key();

  // By hand first, with a comment the command line's `task add` must keep.
  std::ofstream(t.tasks_file()) << "# The laptop's documents, every night.\n[tasks.hand]\nsource = \"" + src +
                                       "\"\ndestination = \"" + remote(dest_hand) + "\"\nexclude = [\"*.log\"]  # logs are rebuilt\n" +
                                       connection_keys();
  RunResult add = run(t.ferry("task add cli " + quote(src) + " " + quote(remote(dest_cli)) + " --exclude '*.tmp' " +
                              connection_options() + " --schedule 'daily 02:30'"));
  INFO(add.err);
  REQUIRE(add.code == 0);
  std::string file = slurp(t.tasks_file());
  CHECK(file.find("# The laptop's documents, every night.") != std::string::npos);
  CHECK(file.find("# logs are rebuilt") != std::string::npos);

  RunResult list = run(t.ferry("task list --json"));
  REQUIRE(list.code == 0);
  CHECK(list.out.find("\"name\":\"hand\"") != std::string::npos);
  CHECK(list.out.find("\"name\":\"cli\"") != std::string::npos);

  for (const char* name : {"cli", "hand"}) {
    RunResult r = run(t.ferry(std::string("task run ") + name));
    INFO(name << ": " << r.err);
    REQUIRE(r.code == 0);
  }
  // Each task's filter, and only its own.
  CHECK(fs::exists(dest_cli + "/docs/report.txt"));
  CHECK(fs::exists(dest_cli + "/build.log"));
  CHECK_FALSE(fs::exists(dest_cli + "/docs/scratch.tmp"));
  CHECK(fs::exists(dest_hand + "/docs/scratch.tmp"));
  CHECK_FALSE(fs::exists(dest_hand + "/build.log"));
  CHECK(slurp(dest_cli + "/data.bin") == slurp(src + "/data.bin"));

  // One history line per run, with what the run's summary said.
  std::string history = slurp(t.history("cli"));
  CHECK(count_lines(history) == 1);
  CHECK(json_field(history, "exit_code") == 0);
  CHECK(json_field(history, "files") == 3);  // report.txt, build.log, data.bin
  RunResult status = run(t.ferry("status"));
  INFO(status.out << status.err);
  CHECK(status.code == 0);
  RunResult again = run(t.ferry("task run cli"));
  REQUIRE(again.code == 0);
  CHECK(count_lines(slurp(t.history("cli"))) == 2);
  RunResult shown = run(t.ferry("task history cli --json"));
  REQUIRE(shown.code == 0);
  CHECK(shown.out.find("\"files\":0") != std::string::npos);  // the second run copied nothing

  // A task removed takes its table and nothing else.
  RunResult removed = run(t.ferry("task remove cli"));
  REQUIRE(removed.code == 0);
  file = slurp(t.tasks_file());
  CHECK(file.find("[tasks.cli]") == std::string::npos);
  CHECK(file.find("# logs are rebuilt") != std::string::npos);
  CHECK(file.find("[tasks.hand]") != std::string::npos);
}

TEST_CASE("a failed run fails status, runs on_failure with its environment, and a failing hook never hides the result") {
  TempDir work;
  TaskHome t(work);
  std::string src = work / "src", dest = work / "dest", env_file = work / "hook.env";
  write_source(src);
  sshd().trust_host_key();
  // Port 1 refuses the connection: exit 4.
  std::ofstream(t.tasks_file()) << "[tasks.broken]\nsource = \"" + src + "\"\ndestination = \"" + remote(dest) +
                                       "\"\nidentity = \"" + sshd().client_key() + "\"\nport = 1\nknown_hosts = \"" +
                                       sshd().known_hosts() + "\"\nschedule = \"hourly\"\non_failure = \"env > " +
                                       env_file + "; exit 7\"\non_success = \"touch " + (work / "success") + "\"\n";
  RunResult r = run(t.ferry("task run broken"));
  CHECK(r.code == 4);
  auto env = read_env(env_file);
  CHECK(env["FERRY_TASK"] == "broken");
  CHECK(env["FERRY_EXIT_CODE"] == "4");
  REQUIRE(!env["FERRY_SUMMARY"].empty());
  CHECK(json_field(slurp(env["FERRY_SUMMARY"]), "exit_code") == 4);
  CHECK_FALSE(fs::exists(work / "success"));

  std::string history = slurp(t.history("broken"));
  CHECK(json_field(history, "exit_code") == 4);
  CHECK(json_field(history, "hook_exit_code") == 7);
  CHECK(history.find("\"first_error\":\"") != std::string::npos);

  RunResult status = run(t.ferry("status --json"));
  CHECK(status.code != 0);
  CHECK(status.out.find("\"ok\":false") != std::string::npos);
  CHECK(status.out.find("last run failed (exit 4)") != std::string::npos);
}

TEST_CASE("status fails for a task whose last success is older than its max age, and for one that never ran") {
  TempDir work;
  TaskHome t(work);
  std::string src = work / "src";
  write_source(src);
  std::ofstream(t.tasks_file()) << "[tasks.local]\nsource = \"" + src + "\"\ndestination = \"" + (work / "dest") +
                                       "\"\nschedule = \"hourly\"\n";
  CHECK(run(t.ferry("status")).code != 0);  // never ran
  REQUIRE(run(t.ferry("task run local")).code == 0);
  CHECK(run(t.ferry("status")).code == 0);
  // A success three hours old is too old for an hourly task (twice its interval)...
  fs::remove(t.history("local"));
  long long old = static_cast<long long>(::time(nullptr)) - 3 * 3600;
  std::ofstream(t.history("local")) << "{\"start\":" << old << ",\"end\":" << old << ",\"exit_code\":0}\n";
  RunResult stale = run(t.ferry("status local"));
  CHECK(stale.code != 0);
  CHECK(stale.out.find("older than") != std::string::npos);
  // ...but not for a max age of a day.
  CHECK(run(t.ferry("status local --max-age 1d")).code == 0);

  // A torn last line (a crash mid-write) is skipped with a warning; the line before still counts.
  std::ofstream(t.history("local"), std::ios::app) << "{\"start\":17965";
  RunResult torn = run(t.ferry("status local --max-age 1d"));
  CHECK(torn.code == 0);
  CHECK(torn.err.find("do not parse were skipped") != std::string::npos);
  // And the next run's line starts on a line of its own.
  REQUIRE(run(t.ferry("task run local")).code == 0);
  RunResult history = run(t.ferry("task history local --json"));
  CHECK(count_lines(history.out) == 1);
  CHECK(history.out.find("},{") != std::string::npos);  // two runs read back
}

TEST_CASE("a second run of a task while the first holds its lock exits 5 naming the first, and records nothing") {
  TempDir work;
  TaskHome t(work);
  std::string src = work / "src";
  write_source(src);
  std::ofstream(t.tasks_file()) << "[tasks.busy]\nsource = \"" + src + "\"\ndestination = \"" + (work / "dest") + "\"\n";
  fs::create_directories(t.state + "/ferry/history");
  std::string lock_path = t.state + "/ferry/history/busy.lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(lock >= 0);
  REQUIRE(::flock(lock, LOCK_EX) == 0);
  std::string holder = std::to_string(::getpid()) + " " + std::to_string(::time(nullptr)) + "\n";
  REQUIRE(::write(lock, holder.data(), holder.size()) == static_cast<ssize_t>(holder.size()));

  RunResult second = run(t.ferry("task run busy"));
  CHECK(second.code == 5);
  CHECK(second.err.find("already running (pid " + std::to_string(::getpid())) != std::string::npos);
  CHECK_FALSE(fs::exists(work / "dest"));
  CHECK_FALSE(fs::exists(t.history("busy")));
  ::close(lock);
  CHECK(run(t.ferry("task run busy")).code == 0);
}

TEST_CASE("a run that never recorded itself is recorded by the failure unit's command, which runs on_failure once") {
  TempDir work;
  TaskHome t(work);
  std::string marker = work / "hook-ran";
  std::ofstream(t.tasks_file()) << "[tasks.killed]\nsource = \"" + (work / "src") + "\"\ndestination = \"" +
                                       (work / "dest") + "\"\non_failure = \"echo $FERRY_EXIT_CODE >> " + marker + "\"\n";
  // What a run killed mid-way leaves: its lock file naming it, no history line.
  fs::create_directories(t.state + "/ferry/history");
  std::ofstream(t.state + "/ferry/history/killed.lock") << "4242 " << ::time(nullptr) - 60 << "\n";
  REQUIRE(run(t.ferry("task failed killed")).code == 0);
  std::string history = slurp(t.history("killed"));
  CHECK(json_field(history, "exit_code") == 1);
  CHECK(history.find("ended without recording itself") != std::string::npos);
  CHECK(slurp(marker) == "1\n");
  // Said once: the second call finds the run recorded.
  REQUIRE(run(t.ferry("task failed killed")).code == 0);
  CHECK(count_lines(slurp(t.history("killed"))) == 1);
  CHECK(slurp(marker) == "1\n");
}

TEST_CASE("a misspelt key, a malformed file and a bad option value are refused with file, line and exit 2") {
  TempDir work;
  TaskHome t(work);
  std::ofstream(t.tasks_file()) << "[tasks.typo]\nsource = \"/a\"\ndestination = \"/b\"\nexlcude = [\"*.tmp\"]\n";
  RunResult typo = run(t.ferry("task list"));
  CHECK(typo.code == 2);
  CHECK(typo.err.find("tasks.toml:4:1: unknown key \"exlcude\"; did you mean \"exclude\"?") != std::string::npos);
  // A misspelt key must not let a run go ahead without the exclude.
  CHECK(run(t.ferry("task run typo")).code == 2);

  std::ofstream(t.tasks_file()) << "[tasks.bad]\nsource = \"/a\ndestination = \"/b\"\n";
  RunResult malformed = run(t.ferry("task list"));
  CHECK(malformed.code == 2);
  CHECK(malformed.err.find("tasks.toml:2:") != std::string::npos);

  std::ofstream(t.tasks_file()) << "[tasks.limit]\nsource = \"/a\"\ndestination = \"/b\"\nbwlimit = \"ten\"\n";
  RunResult value = run(t.ferry("task list"));
  CHECK(value.code == 2);
  CHECK(value.err.find("tasks.toml:1:1: task limit: --bwlimit") != std::string::npos);

  std::ofstream(t.tasks_file()) << "[tasks.mixed]\nsource = \"/a\"\ndestination = \"/b\"\ninclude = [\"x\"]\nexclude = [\"*\"]\n";
  RunResult mixed = run(t.ferry("task list"));
  CHECK(mixed.code == 2);
  CHECK(mixed.err.find("filter = [") != std::string::npos);
}

TEST_CASE("schedules: systemd units that systemd-analyze verify accepts, a launchd plist that parses, bad calendars refused") {
  TempDir work;
  TaskHome t(work);
  std::string src = work / "src";
  fs::create_directories(src);
  REQUIRE(run(t.ferry("task add nightly " + quote(src) + " " + quote(work / "dest") +
                      " --schedule 'daily 02:30' --on-failure 'echo failed'")).code == 0);
  REQUIRE(run(t.ferry("task add workdays " + quote(src) + " " + quote(work / "dest2") +
                      " --schedule 'Mon..Fri *-*-* 22:00'")).code == 0);
  REQUIRE(run(t.ferry("task add byhand " + quote(src) + " " + quote(work / "dest3"))).code == 0);
  std::string units = work / "units";
  // --all: every task with a schedule; the one run by hand is not an error.
  RunResult install = run(t.ferry("schedule install --all --kind systemd --dir " + quote(units)));
  INFO(install.out << install.err);
  REQUIRE(install.code == 0);
  CHECK_FALSE(fs::exists(units + "/ferry-byhand.timer"));
  for (const char* name : {"ferry-nightly.service", "ferry-nightly.timer", "ferry-nightly.on-failure.service",
                           "ferry-workdays.service", "ferry-workdays.timer"}) {
    CHECK(fs::exists(units + "/" + name));
  }
  std::string timer = slurp(units + "/ferry-nightly.timer");
  CHECK(timer.find("OnCalendar=*-*-* 02:30:00") != std::string::npos);
  CHECK(timer.find("Persistent=true") != std::string::npos);
  CHECK(slurp(units + "/ferry-nightly.service").find("OnFailure=ferry-nightly.on-failure.service") != std::string::npos);
  RunResult verify = run("systemd-analyze verify " + quote(units) + "/*.service " + quote(units) + "/*.timer");
  INFO(verify.out << verify.err);
  CHECK(verify.code == 0);
  // The service runs exactly this task with this FERRY_HOME.
  CHECK(slurp(units + "/ferry-nightly.service").find("task run -- nightly") != std::string::npos);
  CHECK(slurp(units + "/ferry-nightly.service").find("FERRY_HOME=" + t.home) != std::string::npos);

  std::string plists = work / "plists";
  REQUIRE(run(t.ferry("schedule install nightly --kind launchd --dir " + quote(plists))).code == 0);
  RunResult parsed = run("python3 -c 'import plistlib,sys; p=plistlib.load(open(sys.argv[1],\"rb\")); "
                         "print(p[\"Label\"], p[\"StartCalendarInterval\"][\"Hour\"], p[\"StartCalendarInterval\"][\"Minute\"], "
                         "\" \".join(p[\"ProgramArguments\"][1:]))' " +
                         quote(plists + "/net.ferry.task.nightly.plist"));
  INFO(parsed.err);
  CHECK(parsed.code == 0);
  CHECK(parsed.out == "net.ferry.task.nightly 2 30 task run -- nightly\n");
  // launchd has no calendar expressions.
  CHECK(run(t.ferry("schedule install workdays --kind launchd --dir " + quote(plists))).code == 2);

  std::ofstream(t.tasks_file(), std::ios::app) << "\n[tasks.never]\nsource = \"/a\"\ndestination = \"/b\"\nschedule = \"Mon..Fry 25:00\"\n";
  CHECK(run(t.ferry("schedule install never --kind systemd --dir " + quote(units))).code == 2);
  CHECK_FALSE(fs::exists(units + "/ferry-never.timer"));

  RunResult removed = run(t.ferry("schedule remove nightly --kind systemd --dir " + quote(units)));
  CHECK(removed.code == 0);
  CHECK_FALSE(fs::exists(units + "/ferry-nightly.timer"));
  CHECK_FALSE(fs::exists(units + "/ferry-nightly.on-failure.service"));
  CHECK(fs::exists(units + "/ferry-workdays.timer"));
}

TEST_CASE("the README's example tasks file loads, and each key means the option it names") {
  TempDir work;
  TaskHome t(work);
  std::string readme = slurp(std::string(FERRY_SOURCE_DIR) + "/README.md");
  size_t begin = readme.find("```toml\n");
  REQUIRE(begin != std::string::npos);
  begin += 8;
  std::ofstream(t.tasks_file()) << readme.substr(begin, readme.find("```", begin) - begin);
  RunResult shown = run(t.ferry("task show documents"));
  INFO(shown.err);
  REQUIRE(shown.code == 0);
  for (const char* option : {"--snapshot", "--keep-daily=7", "--keep-weekly=5", "--exclude=*.tmp", "--exclude=.cache/",
                             "--bwlimit=10M", "--compress=auto"}) {
    CHECK_MESSAGE(shown.out.find(option) != std::string::npos, option);
  }
  RunResult photos = run(t.ferry("task show photos"));
  REQUIRE(photos.code == 0);
  // The filter list keeps its order: the include first (shown as words a shell takes back).
  CHECK(photos.out.find("'--include=keep/*.tmp' '--exclude=*.tmp'") != std::string::npos);
}

TEST_CASE("a TERM from the scheduler reaches the backup, and the run is still recorded with its hook") {
  TempDir work;
  TaskHome t(work);
  std::string src = work / "src", marker = work / "hook";
  fs::create_directories(src);
  write_random(src + "/big.bin", 16 << 20, 9);  // about 16 s at the limit below
  std::ofstream(t.tasks_file()) << "[tasks.slow]\nsource = \"" + src + "\"\ndestination = \"" + (work / "dest") +
                                       "\"\nbwlimit = \"1M\"\non_failure = \"echo $FERRY_EXIT_CODE > " + marker + "\"\n";
  Background runner(t.ferry("task run slow"), work / "runner.log");
  // Wait until the backup child is moving data.
  for (int i = 0; i < 100 && runner.children().empty(); ++i) ::usleep(50 * 1000);
  REQUIRE_FALSE(runner.children().empty());
  ::usleep(500 * 1000);
  REQUIRE(::kill(runner.pid(), SIGTERM) == 0);
  CHECK(runner.wait_for(std::chrono::seconds(20)) == 143);
  std::string history = slurp(t.history("slow"));
  CHECK(json_field(history, "exit_code") == 143);
  CHECK(slurp(marker) == "143\n");
  CHECK_FALSE(fs::exists(work / "dest/big.bin"));  // never half-written under its name
}

TEST_CASE("a TERM during a hook ends the hook and everything it started, and the run is still recorded") {
  TempDir work;
  TaskHome t(work);
  std::string src = work / "src", started = work / "hook-started";
  write_source(src);
  // A hook whose shell waits on a child of its own, as a hook running curl against a dead host.
  std::ofstream(t.tasks_file()) << "[tasks.hooked]\nsource = \"" + src + "\"\ndestination = \"" + (work / "dest") +
                                       "\"\non_success = \"sleep 300 & echo $! > " + started + "; wait\"\n";
  Background runner(t.ferry("task run hooked"), work / "runner.log");
  for (int i = 0; i < 200 && slurp(started).empty(); ++i) ::usleep(50 * 1000);
  REQUIRE_FALSE(slurp(started).empty());
  pid_t sleeper = static_cast<pid_t>(std::stol(slurp(started)));
  REQUIRE(::kill(runner.pid(), SIGTERM) == 0);
  CHECK(runner.wait_for(std::chrono::seconds(20)) == 0);  // the run's own result: the backup succeeded
  CHECK(wait_gone(sleeper, std::chrono::seconds(5)));     // the hook's child went with it
  std::string history = slurp(t.history("hooked"));
  CHECK(json_field(history, "exit_code") == 0);
  CHECK(json_field(history, "hook_exit_code") == 143);
}

TEST_CASE("status --json answers for a task run by hand, whose next run is none") {
  TempDir work;
  TaskHome t(work);
  std::string src = work / "src";
  write_source(src);
  std::ofstream(t.tasks_file()) << "[tasks.manual]\nsource = \"" + src + "\"\ndestination = \"" + (work / "dest") + "\"\n";
  RunResult never = run(t.ferry("status --json"));
  INFO(never.err);
  CHECK(never.code == 1);  // never ran: not well, and not a usage error
  CHECK(json_field(never.out, "next_run") == -1);
  REQUIRE(run(t.ferry("task run manual")).code == 0);
  RunResult good = run(t.ferry("status --json"));
  CHECK(good.code == 0);
  CHECK(good.out.find("\"ok\":true") != std::string::npos);
}

TEST_CASE("a removed task's schedule can still be removed; tasks added at once are all kept") {
  TempDir work;
  TaskHome t(work);
  std::string src = work / "src", units = work / "units";
  fs::create_directories(src);
  REQUIRE(run(t.ferry("task add gone " + quote(src) + " " + quote(work / "dest") + " --schedule daily")).code == 0);
  REQUIRE(run(t.ferry("schedule install gone --kind systemd --dir " + quote(units))).code == 0);
  RunResult removed = run(t.ferry("task remove gone"));
  REQUIRE(removed.code == 0);
  RunResult unscheduled = run(t.ferry("schedule remove gone --kind systemd --dir " + quote(units)));
  INFO(unscheduled.out << unscheduled.err);
  CHECK(unscheduled.code == 0);
  CHECK_FALSE(fs::exists(units + "/ferry-gone.timer"));
  CHECK_FALSE(fs::exists(units + "/ferry-gone.service"));

  // Eight `task add`s at the same moment: each reads, changes and replaces the file under one
  // lock, so none writes over another's task.
  std::string adds;
  for (int i = 0; i < 8; ++i) {
    adds += t.ferry("task add t" + std::to_string(i) + " " + quote(src) + " " + quote(work / ("d" + std::to_string(i)))) +
            " >/dev/null 2>&1 & ";
  }
  REQUIRE(run(adds + "wait").code == 0);
  RunResult listed = run(t.ferry("task list --json"));
  for (int i = 0; i < 8; ++i) CHECK_MESSAGE(listed.out.find("\"t" + std::to_string(i) + "\"") != std::string::npos, i);
}
