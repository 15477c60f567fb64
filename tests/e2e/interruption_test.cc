// What a backup must survive: a second run at the same time, a run cut off at any point, a full
// disk. Each test runs the real programs and checks the destination afterwards.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <random>

#include "e2e/e2e.h"
#include "support/background.h"
#include "support/mounted_disk.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

std::string this_host() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

// A command started in the background; its output goes to `log`.
// Starts `command` through /bin/sh in a process group of its own (the group's id is the pid
// returned), so that killing the group reaches the program itself: dash does not always exec
// the last command of `sh -c`, and killing only the shell would leave the run going on.
pid_t start(const std::string& command, const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    std::string line = command + " >" + quote(log) + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
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
  for (int i = 0; i < 200 && slurp(lock).find("pid=") == std::string::npos; ++i) ::usleep(20'000);
  std::string holder = slurp(lock);
  REQUIRE(holder.find("pid=") != std::string::npos);
  std::string holder_pid = holder.substr(holder.find("pid=") + 4);
  holder_pid = holder_pid.substr(0, holder_pid.find(' '));

  RunResult second = run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest));
  CHECK(second.code == 1);
  CHECK(second.err.find("another Ferry run is writing to " + dest) != std::string::npos);
  CHECK(second.err.find("right now (pid " + holder_pid + " on " + this_host() + ", started ") != std::string::npos);
  CHECK(exit_code_of(first) == 0);
  INFO(slurp(work / "first.log"));
  CHECK(compare(snapshot(src), snapshot(dest)) == "");  // the refused run changed nothing of it
  CHECK(slurp(lock).empty());                       // released by a run that finished
  CHECK(slurp(dest + "/.ferry-state/last-run").find("state=finished") == 0);
}

TEST_CASE("Ctrl-C stops a run with a message and status 130; the next run resumes it") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  write_random(src + "/big", 8 << 20, 4);
  Background ferry(quote(kFerry) + " backup --bwlimit 1M " + quote(src) + " " + quote(dest), work / "ferry.log");
  std::string lock = dest + "/.ferry-state/lock";
  for (int i = 0; i < 200 && slurp(lock).find("pid=") == std::string::npos; ++i) ::usleep(20'000);
  ::usleep(1'500'000);  // well into the big file
  REQUIRE(::kill(ferry.pid(), SIGINT) == 0);
  CHECK(ferry.wait_for(std::chrono::seconds(20)) == 130);
  std::string log = slurp(work / "ferry.log");
  INFO(log);
  CHECK(log.find("ferry: interrupted; every file already copied is complete") != std::string::npos);
  CHECK_FALSE(fs::exists(dest + "/big"));  // never half-written under its name

  RunResult again = run(quote(kFerry) + " backup --json " + quote(src) + " " + quote(dest));
  INFO(again.err);
  CHECK(again.code == 0);
  CHECK(again.err.find("did not finish") != std::string::npos);
  CHECK(json_field(again.out, "bytes_matched") > 0);  // what arrived before Ctrl-C was not sent again
  CHECK(compare(snapshot(src), snapshot(dest)) == "");
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
  CHECK(slurp(dest + "/.ferry-state/last-run").find("state=finished") == 0);

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
    // A restore into a folder being written is refused the same way, on the client's side.
    RunResult restore = run(quote(kFerry) + " restore " + quote(src) + " " + quote(dest));
    CHECK(restore.code == 1);
    CHECK(restore.err.find("another Ferry run is writing to " + dest + " right now (pid " + me) != std::string::npos);
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
  };

  SUBCASE("backup") {
    RunResult cut = run(quote(kFerry) + " backup " + killed_agent + " " + quote(src) + " " + quote(dest));
    REQUIRE(cut.code == 4);
    CHECK_FALSE(fs::exists(dest + "/big"));
    REQUIRE(partial_bytes(dest) > 4 << 20);
    check_resumed(run(quote(kFerry) + " backup --json " + quote(src) + " " + quote(dest)), dest);
    CHECK(fs::is_empty(dest + "/.ferry-state/tmp"));
  }
  SUBCASE("restore") {
    REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
    std::string back = work / "back";
    RunResult cut = run(quote(kFerry) + " restore " + killed_agent + " " + quote(dest) + " " + quote(back));
    REQUIRE(cut.code == 4);
    CHECK_FALSE(fs::exists(back + "/big"));
    REQUIRE(partial_bytes(back) > 4 << 20);
    check_resumed(run(quote(kFerry) + " restore --json " + quote(dest) + " " + quote(back)), back);
    // Kept while the restore was cut off (above), gone once it finished: nothing of Ferry's is
    // left among the user's files.
    CHECK_FALSE(fs::exists(back + "/.ferry-state"));
  }
}

namespace {

// The fault test's tree: large files (whole, delta, appended) and a few hundred small ones.
// Sized with the rate limit below so that a run lasts about a second and a half: long enough
// to cut at 20 points spread over it, short enough for 40 rounds of cut and complete runs.
void write_version(const std::string& root, int version) {
  for (int d = 0; d < 6; ++d) fs::create_directories(root + "/dir" + std::to_string(d));
  write_random(root + "/unchanged.bin", 20 << 20, 1);
  write_random(root + "/replaced.bin", 20 << 20, version == 1 ? 2 : 3);
  write_random(root + "/grown.bin", version == 1 ? 20 << 20 : 23 << 20, 4);  // the same bytes, longer
  {
    write_random(root + "/patched.bin", 20 << 20, 5);
    if (version == 2) {
      std::fstream f(root + "/patched.bin", std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(9 << 20);
      f << std::string(1 << 20, 'p');
    }
  }
  if (version == 2) write_random(root + "/new.bin", 15 << 20, 6);
  for (int i = 0; i < 300; ++i) {
    bool changed = version == 2 && i % 3 == 0;
    std::string path = root + "/dir" + std::to_string(i % 6) + "/f" + std::to_string(i);
    write_random(path, 1000 + static_cast<size_t>(i) * 131, static_cast<unsigned>(100 + i + (changed ? 1000 : 0)));
  }
  for (int i = 0; version == 2 && i < 50; ++i) {
    write_random(root + "/dir" + std::to_string(i % 6) + "/new" + std::to_string(i), 5000, static_cast<unsigned>(i));
  }
}

// Every regular file in `dest` must hold its content in one of the two versions; no file may
// be anything else (a mix, a truncated copy), and no temporary file may show among them.
std::string torn_files(const Snapshot& dest, const Snapshot& v1, const Snapshot& v2) {
  std::string problems;
  for (const auto& [path, node] : dest) {
    if (path.find(".ferry-") != std::string::npos) problems += "temporary file shown: " + path + "\n";
    if (node.type != 'f') continue;
    auto a = v1.find(path), b = v2.find(path);
    bool old_version = a != v1.end() && a->second.sha256 == node.sha256;
    bool new_version = b != v2.end() && b->second.sha256 == node.sha256;
    if (!old_version && !new_version) problems += "neither version: " + path + "\n";
  }
  return problems;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0; }

void wait_until_unlocked(const std::string& dest) {
  int fd = ::open((dest + "/.ferry-state/lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  for (int w = 0; w < 1000 && ::flock(fd, LOCK_EX | LOCK_NB) != 0; ++w) ::usleep(10'000);
  ::close(fd);
}

}  // namespace

TEST_CASE("runs killed at 20 points leave every file old or new, and the next run completes") {
  TempDir work;
  std::string v1 = work / "v1", src = work / "src", dest = work / "dest", pristine = work / "pristine";
  write_version(v1, 1);
  write_version(src, 2);
  Snapshot old_tree = snapshot(v1), new_tree = snapshot(src);
  sshd().trust_host_key();
  std::string home = work / "home";
  // The agent under sshd, wrapped so the test knows its pid and can kill it.
  std::string pid_file = work / "agent.pid", wrapper = work / "agent.sh";
  std::ofstream(wrapper) << "#!/bin/sh\necho $$ > " << quote(pid_file) << "\nexec " << quote(kAgent) << " \"$@\"\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  std::string options = " --bwlimit 60M --agent " + quote(wrapper);

  // The first version lands in dest uncut; then each round runs the second version into it.
  std::string first_run, new_run;
  bool restoring = false;
  SUBCASE("backup") {
    first_run = ferry_over_ssh("backup" + options, home) + " " + quote(v1) + " " + quote(remote(dest));
    new_run = ferry_over_ssh("backup" + options, home) + " " + quote(src) + " " + quote(remote(dest));
  }
  SUBCASE("restore") {
    std::string backup1 = work / "backup1", backup2 = work / "backup2";
    REQUIRE(run(quote(kFerry) + " backup " + quote(v1) + " " + quote(backup1)).code == 0);
    REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(backup2)).code == 0);
    first_run = ferry_over_ssh("restore" + options, home) + " " + quote(remote(backup1)) + " " + quote(dest);
    new_run = ferry_over_ssh("restore" + options, home) + " " + quote(remote(backup2)) + " " + quote(dest);
    restoring = true;
  }
  REQUIRE(run(first_run).code == 0);
  REQUIRE(compare(old_tree, snapshot(dest)) == "");
  REQUIRE(run("cp -a " + quote(dest) + " " + quote(pristine)).code == 0);

  // How long an uninterrupted run of the new version takes here, to spread the kills over it.
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run(new_run).code == 0);
  double full = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(compare(new_tree, snapshot(dest)) == "");

  // One run of the new version, killed after `delay` seconds. False if it finished first.
  auto killed_run = [&](bool kill_agent, double delay) {
    fs::remove(pid_file);
    pid_t client = start(new_run, work / "run.log");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(delay);
    while (std::chrono::steady_clock::now() < deadline) ::usleep(5'000);
    std::string agent_pid = slurp(pid_file);
    pid_t agent = agent_pid.empty() ? -1 : std::stoi(agent_pid);
    if (kill_agent && agent > 0) ::kill(agent, SIGKILL);
    else ::kill(-client, SIGKILL);
    int status = exit_code_of(client);
    // The program may have been the shell's child: gone only when its whole group is.
    for (int w = 0; ::kill(-client, 0) == 0 && w < 1000; ++w) ::usleep(10'000);
    // The agent of a killed client sees the connection end and exits; the next run needs its
    // lock, and the agent may only have been starting when its client died.
    ::usleep(200'000);
    if (agent <= 0 && !slurp(pid_file).empty()) agent = std::stoi(slurp(pid_file));
    for (int w = 0; agent > 0 && process_exists(agent) && w < 1000; ++w) ::usleep(10'000);
    wait_until_unlocked(dest);
    return status != 0;
  };
  auto reset = [&] {
    RunResult r = run("rm -rf " + quote(dest) + " && cp -a " + quote(pristine) + " " + quote(dest));
    INFO(r.err);
    REQUIRE(r.code == 0);
  };

  std::mt19937 rng(20261201);
  std::uniform_real_distribution<double> when(0.02, 0.8);
  double previous_fraction = 1;
  for (int i = 0; i < 20; ++i) {
    // Even rounds start again from the old backup; odd rounds go on from an early cut, so a cut
    // during a resume is exercised too (with only what the cut run left to do).
    bool go_on = i % 2 == 1 && previous_fraction < 0.5;
    if (!go_on) reset();
    bool kill_agent = rng() % 2 == 0;
    double fraction = when(rng) * (go_on ? 0.6 * (1.0 - previous_fraction) : 1.0);
    previous_fraction = fraction;
    bool killed = killed_run(kill_agent, fraction * full);
    INFO("round " << i << ": " << std::string(kill_agent ? "agent" : "client") << " killed after "
                  << fraction * full << " s of " << full);
    INFO(slurp(work / "run.log"));
    CHECK(torn_files(snapshot(dest), old_tree, new_tree) == "");
    // A run that finished before its kill tested nothing: the same round again, from the old
    // backup and sooner.
    for (int again = 0; !killed && again < 3; ++again) {
      reset();
      fraction /= 2;
      killed = killed_run(kill_agent, fraction * full);
      CHECK(torn_files(snapshot(dest), old_tree, new_tree) == "");
    }
    CHECK(killed);
  }

  RunResult last = run(new_run);
  INFO(last.err);
  CHECK(last.code == 0);
  CHECK(compare(new_tree, snapshot(dest)) == "");
  if (restoring) {
    CHECK_FALSE(fs::exists(dest + "/.ferry-state"));  // a finished restore leaves none
  } else {
    CHECK(fs::is_empty(dest + "/.ferry-state/tmp"));
  }
}

namespace {

// A tmpfs of `mib` MiB mounted for the test (root only), unmounted at the end.
class SmallDisk : public MountedDisk {
 public:
  SmallDisk(const std::string& path, int mib) : MountedDisk(path, tmpfs(path, mib)) {}
};

}  // namespace

namespace {

// Runs `act` in a child process while `command` runs; ends the child (by its pid) afterwards.
RunResult run_while(const std::string& command, const std::function<void()>& act) {
  pid_t child = ::fork();
  if (child == 0) {
    act();
    ::_exit(0);
  }
  RunResult r = run(command);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return r;
}

// An ext4 image on a loop device, mounted errors=remount-ro: trigger_error() makes the kernel
// record a file-system error, and the file system then refuses every write (EROFS), open
// files or not, as it does after a real disk error.
class Ext4Disk : public MountedDisk {
 public:
  Ext4Disk(const std::string& image_path, const std::string& path, int mib, const std::string& mkfs_options = "")
      : MountedDisk(path, image(image_path, mib, "mkfs.ext4 -q " + mkfs_options, path, "errors=remount-ro")) {}
  bool trigger_error() const {
    RunResult dev = run("basename $(findmnt -n -o SOURCE " + quote(path()) + ")");
    std::string name = dev.out.substr(0, dev.out.find('\n'));
    return run("echo ferry-test > /sys/fs/ext4/" + name + "/trigger_fs_error").code == 0;
  }
};

}  // namespace

TEST_CASE("a destination that turns read-only mid-run ends the run at once, with that cause") {
  if (!running_as_root()) {
    MESSAGE("skipped: mounting a file system needs root");
    return;
  }
  TempDir work;
  std::string src = work / "src", dest = work / "disk";
  fs::create_directories(src);
  for (int i = 0; i < 40; ++i) write_random(src + "/f" + std::to_string(100 + i), 64 << 10, static_cast<unsigned>(i));
  Ext4Disk disk(work / "disk.img", dest, 64);
  REQUIRE(disk.mounted());
  // 40 files of 64 KiB at 256 KiB/s: the error comes while most are still to be written.
  RunResult r = run_while(quote(kFerry) + " backup --bwlimit 256K " + quote(src) + " " + quote(dest), [&] {
    ::usleep(1'500'000);
    disk.trigger_error();
  });
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("the destination's file system became read-only") != std::string::npos);
  // One message, not one per file that could not be written.
  size_t lines = std::count(r.err.begin(), r.err.end(), '\n');
  CHECK(lines <= 2);
  // What is under a real name is whole.
  Snapshot source = snapshot(src), stored = snapshot(dest);
  size_t complete = 0;
  for (const auto& [path, entry] : stored) {
    if (path.empty() || path.starts_with(".ferry-state") || path == "lost+found") continue;
    CAPTURE(path);
    REQUIRE(source.count(path) == 1);
    CHECK(entry.sha256 == source.at(path).sha256);
    ++complete;
  }
  CHECK(complete < 40);  // the error came mid-run
}

TEST_CASE("times a destination cannot store are said once, stored as near as it can, and not resent") {
  if (!running_as_root()) {
    MESSAGE("skipped: mounting a file system needs root");
    return;
  }
  TempDir work;
  std::string src = work / "src", dest = work / "disk";
  SmallDisk source(src, 4);  // tmpfs: the source itself must hold 1800 and 2100
  REQUIRE(source.mounted());
  std::ofstream(src + "/ancient") << "1800";
  std::ofstream(src + "/future") << "2100";
  std::ofstream(src + "/now") << "today";
  auto set_mtime = [](const std::string& path, int64_t sec) {
    timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(sec), 0}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  };
  set_mtime(src + "/ancient", -5364662400);  // 1800-01-01
  set_mtime(src + "/future", 4102444800);    // 2100-01-01
  // 128-byte inodes: seconds only, from 1901-12-13 to 2038-01-19 (as XFS without bigtime).
  Ext4Disk disk(work / "disk.img", dest, 32, "-I 128");
  REQUIRE(disk.mounted());
  RunResult first = run(quote(kFerry) + " backup --json " + quote(src) + " " + quote(dest));
  INFO(first.err);
  CHECK(first.code == 0);
  CHECK(json_field(first.out, "files_transferred") == 3);
  CHECK(first.err.find(dest + "/ancient has a modification time (1800-01-01T00:00:00Z) that this file system "
                              "cannot store; it keeps the nearest it can (1901-12-13T20:45:52Z)") != std::string::npos);
  CHECK(first.err.find("future") == std::string::npos);  // once a run, not once a file
  struct stat st {};
  REQUIRE(::stat((dest + "/future").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == 2147483647);  // clamped by the file system
  // The next run sees nothing changed: the clamped files are not sent again.
  RunResult second = run(quote(kFerry) + " backup --json " + quote(src) + " " + quote(dest));
  INFO(second.err);
  CHECK(second.code == 0);
  CHECK(json_field(second.out, "files_transferred") == 0);
}

TEST_CASE("a full disk stops the run with a clear message; the file in progress is removed, the rest untouched") {
  if (!running_as_root()) {
    MESSAGE("skipped: mounting a small file system needs root");
    return;
  }
  TempDir work;
  std::string src = work / "src";
  fs::create_directories(src);
  write_random(src + "/small", 100 << 10, 1);
  std::ofstream(src + "/note") << "version 1";

  auto fill_up = [&] {
    std::ofstream(src + "/note") << "version 2, not written: the big file comes first";
    write_random(src + "/a-big", 24 << 20, 2);  // sorts first, so it is written before the note
  };
  auto check_full = [&](const RunResult& r, const std::string& dest, const Snapshot& before) {
    CHECK(r.code == 1);
    CHECK(r.err.find("cannot write " + dest + "/a-big") != std::string::npos);
    CHECK(r.err.find("the destination is full; free space there and run again") != std::string::npos);
    CHECK(compare(before, snapshot(dest)) == "");  // nothing added, nothing changed
    CHECK(fs::is_empty(dest + "/.ferry-state/tmp"));
  };

  SUBCASE("backup") {
    std::string dest = work / "disk";
    SmallDisk disk(dest, 16);
    REQUIRE(disk.mounted());
    REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
    Snapshot before = snapshot(dest);
    fill_up();
    RunResult full = run(quote(kFerry) + " backup --json " + quote(src) + " " + quote(dest));
    check_full(full, dest, before);
    // --json still reports what the run did before it stopped, and why it stopped.
    CHECK(json_field(full.out, "exit_code") == 1);
    CHECK(json_field(full.out, "files_total") == 3);
    CHECK(json_field(full.out, "bytes_total") ==
          static_cast<long long>(fs::file_size(src + "/a-big") + fs::file_size(src + "/small") + fs::file_size(src + "/note")));
    CHECK(json_field(full.out, "bytes_wire_sent") > (8 << 20));  // much of the big file went before the disk filled
    CHECK(full.out.find("the destination is full") != std::string::npos);
    CHECK(full.out.find('\n') == full.out.size() - 1);  // one summary, not two
  }
  SUBCASE("restore") {
    std::string backup = work / "backup", dest = work / "disk";
    REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(backup)).code == 0);
    SmallDisk disk(dest, 16);
    REQUIRE(disk.mounted());
    REQUIRE(run(quote(kFerry) + " restore " + quote(backup) + " " + quote(dest)).code == 0);
    Snapshot before = snapshot(dest);
    fill_up();
    REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(backup)).code == 0);
    check_full(run(quote(kFerry) + " restore " + quote(backup) + " " + quote(dest)), dest, before);
  }
}

TEST_CASE("a log appended to while it is read is stored as it was when opened, and whole the next run") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  write_random(src + "/growing.log", 8 << 20, 1);
  std::ofstream(src + "/quiet") << "still";
  std::string backup = quote(kFerry) + " backup --bwlimit 2M " + quote(src) + " " + quote(dest);
  RunResult r = run_while(backup, [&] {
    for (int i = 0;; ++i) {  // a line every 20 ms while the slow backup reads the file
      std::ofstream(src + "/growing.log", std::ios::app) << "line " << i << "\n";
      ::usleep(20'000);
    }
  });
  INFO(r.err);
  CHECK(r.code == 0);  // a consistent earlier version is a success, said as a warning
  std::string stored = slurp(dest + "/growing.log"), now = slurp(src + "/growing.log");
  CHECK(r.err.find(src + "/growing.log grew while it was read: stored as it was when opened (" +
                   std::to_string(stored.size()) + " bytes)") != std::string::npos);
  REQUIRE(now.size() > stored.size());
  CHECK(stored.size() >= (8u << 20));
  CHECK(now.compare(0, stored.size(), stored) == 0);  // exactly the prefix
  CHECK(slurp(dest + "/quiet") == "still");
  // Once the writer stops, the next run takes the rest: the log is not left behind forever.
  RunResult again = run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest));
  CHECK(again.code == 0);
  CHECK(slurp(dest + "/growing.log") == now);
}

TEST_CASE("a file rewritten while it is read is read again, and one that keeps changing gets exit 24") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  write_random(src + "/busy.db", 4 << 20, 1);
  write_random(src + "/once.db", 4 << 20, 2);
  std::ofstream(src + "/quiet") << "still";
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
  Snapshot before = snapshot(dest);
  write_random(src + "/busy.db", 4 << 20, 3);
  write_random(src + "/once.db", 4 << 20, 4);
  std::ofstream(src + "/quiet") << "still, v2";

  SUBCASE("changed once: the second read is stored") {
    std::string backup = quote(kFerry) + " backup -v --bwlimit 2M " + quote(work / "src") + " " + quote(dest);
    RunResult r = run_while(backup, [&] {
      ::usleep(700'000);  // well inside the first read of busy.db (4 MiB at 2 MiB/s)
      write_random(src + "/busy.db", 4 << 20, 5);  // same size, new bytes: a rewrite, not growth
    });
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(snapshot(dest).at("busy.db").sha256 == snapshot(src).at("busy.db").sha256);
  }
  SUBCASE("always changing: given up after the retries, the old copy kept, exit 24") {
    std::string backup = quote(kFerry) + " backup --json --bwlimit 8M " + quote(src) + " " + quote(dest);
    RunResult r = run_while(backup, [&] {
      for (unsigned i = 0;; ++i) {  // rewrites the first page every 20 ms, never growing
        std::fstream f(src + "/busy.db", std::ios::in | std::ios::out | std::ios::binary);
        f << "rewrite " << i;
        f.close();
        ::usleep(20'000);
      }
    });
    INFO(r.err);
    CHECK(r.code == 24);
    CHECK(r.err.find(src + "/busy.db kept changing while it was read (4 tries), so it was not copied") !=
          std::string::npos);
    CHECK(json_field(r.out, "vanished") == 1);
    CHECK(json_field(r.out, "errors") == 0);
    Snapshot after = snapshot(dest);
    CHECK(after.at("busy.db").sha256 == before.at("busy.db").sha256);  // the old version, whole
    CHECK(after.at("once.db").sha256 == snapshot(src).at("once.db").sha256);  // the rest was copied
    CHECK(after.at("quiet").sha256 == snapshot(src).at("quiet").sha256);
  }
}

TEST_CASE("a file that vanishes before it is sent gets exit 24, not a failure") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  write_random(src + "/a-large", 6 << 20, 1);
  std::ofstream(src + "/z-removed") << "here when listed";
  RunResult r = run_while(quote(kFerry) + " backup --json --bwlimit 2M " + quote(src) + " " + quote(dest), [&] {
    ::usleep(500'000);  // listed by now; a-large takes three seconds to send
    ::unlink((src + "/z-removed").c_str());
  });
  INFO(r.err);
  CHECK(r.code == 24);
  CHECK(r.err.find("file vanished before it could be sent: " + src + "/z-removed") != std::string::npos);
  CHECK(json_field(r.out, "vanished") == 1);
  CHECK(json_field(r.out, "errors") == 0);
  CHECK(fs::exists(dest + "/a-large"));
  CHECK_FALSE(fs::exists(dest + "/z-removed"));
}
