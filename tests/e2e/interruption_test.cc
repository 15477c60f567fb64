// What a backup must survive: a second run at the same time, a run cut off at any point, a full
// disk. Each test runs the real programs and checks the destination afterwards.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e/e2e.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string this_host() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

// A command started in the background; its output goes to `log`.
pid_t start(const std::string& command, const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string line = command + " >" + quote(log) + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t dead_pid() {
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  return gone;
}

}  // namespace

TEST_CASE("a second run into the same destination is refused, naming the run that holds it") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  write_random(src + "/big", 6 << 20, 1);
  // The first run is slowed down by its bandwidth limit, so it is surely still going.
  pid_t first = start(quote(kFerry) + " backup --bwlimit 2M " + quote(src) + " " + quote(dest), work / "first.log");
  std::string lock = dest + "/.ferry-state/lock";
  for (int i = 0; i < 200 && read_text(lock).find("pid=") == std::string::npos; ++i) ::usleep(20'000);
  std::string holder = read_text(lock);
  REQUIRE(holder.find("pid=") != std::string::npos);
  std::string holder_pid = holder.substr(holder.find("pid=") + 4);
  holder_pid = holder_pid.substr(0, holder_pid.find(' '));

  RunResult second = run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest));
  CHECK(second.code == 1);
  CHECK(second.err.find("another Ferry run is writing to " + dest) != std::string::npos);
  CHECK(second.err.find("right now (pid " + holder_pid + " on " + this_host() + ", started ") != std::string::npos);
  CHECK(wait_for(first) == 0);
  INFO(read_text(work / "first.log"));
  CHECK(compare(snapshot(src), snapshot(dest)) == "");  // the refused run changed nothing of it
  CHECK(read_text(lock).empty());                       // released by a run that finished
  CHECK(read_text(dest + "/.ferry-state/last-run").find("state=finished") == 0);
}

TEST_CASE("the lock of a run that died is taken over, and the next run says the last one did not finish") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  std::ofstream(src + "/file") << "data";
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);

  // What a run killed with SIGKILL leaves: its line in the lock file (the kernel dropped the
  // flock itself) and a marker saying it was running.
  std::string gone = std::to_string(dead_pid());
  std::string line = "host=" + this_host() + " pid=" + gone + " started=2026-01-01T00:00:00Z";
  std::ofstream(dest + "/.ferry-state/lock") << line << "\n";
  std::ofstream(dest + "/.ferry-state/last-run") << "state=running " << line << "\n";
  std::ofstream(src + "/file2") << "more";

  RunResult r = run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.err.find("the previous run into " + dest + " did not finish (state=running " + line +
                   "); this run completes it") != std::string::npos);
  CHECK(compare(snapshot(src), snapshot(dest)) == "");
  CHECK(read_text(dest + "/.ferry-state/last-run").find("state=finished") == 0);

  SUBCASE("a lock held through the kernel is never taken over, whatever its file says") {
    std::string me = std::to_string(::getpid());
    std::ofstream(dest + "/.ferry-state/lock") << "host=" << this_host() << " pid=" << me << " started=now\n";
    int held = ::open((dest + "/.ferry-state/lock").c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(held >= 0);
    REQUIRE(::flock(held, LOCK_EX) == 0);
    RunResult busy = run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest));
    CHECK(busy.code == 1);
    CHECK(busy.err.find("another Ferry run is writing to " + dest) != std::string::npos);
    CHECK(busy.err.find("right now (pid " + me + " on " + this_host() + ", started now)") != std::string::npos);
    ::close(held);
  }
}

TEST_CASE("a large file cut off mid-transfer is resumed: the next run does not send again what arrived") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  const size_t size = 48 << 20;
  write_random(src + "/big", size, 7);
  // The agent is killed after a second, while the limited link has moved about a third.
  std::string killed_agent = "--agent " + quote("timeout -s KILL 1 " + kAgent) + " --bwlimit 16M";

  auto partial_bytes = [](const std::string& root) {
    uintmax_t total = 0;
    for (const auto& e : fs::directory_iterator(root + "/.ferry-state/tmp")) total += e.file_size();
    return total;
  };
  auto check_resumed = [&](const RunResult& r, const std::string& copy) {
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(json_field(r.out, "bytes_matched") > 4 << 20);   // what arrived the first time
    CHECK(json_field(r.out, "bytes_literal") < static_cast<long long>(size) - (4 << 20));
    CHECK(compare(snapshot(src), snapshot(copy)) == "");
    CHECK(fs::is_empty(copy + "/.ferry-state/tmp"));
  };

  SUBCASE("backup") {
    RunResult cut = run(quote(kFerry) + " backup " + killed_agent + " " + quote(src) + " " + quote(dest));
    REQUIRE(cut.code == 4);
    CHECK_FALSE(fs::exists(dest + "/big"));
    REQUIRE(partial_bytes(dest) > 4 << 20);
    check_resumed(run(quote(kFerry) + " backup --json " + quote(src) + " " + quote(dest)), dest);
  }
  SUBCASE("restore") {
    REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
    std::string back = work / "back";
    RunResult cut = run(quote(kFerry) + " restore " + killed_agent + " " + quote(dest) + " " + quote(back));
    REQUIRE(cut.code == 4);
    CHECK_FALSE(fs::exists(back + "/big"));
    REQUIRE(partial_bytes(back) > 4 << 20);
    check_resumed(run(quote(kFerry) + " restore --json " + quote(dest) + " " + quote(back)), back);
  }
}
