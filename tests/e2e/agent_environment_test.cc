// The agent in the places it really runs: as a plain user, with a debug log, without /proc.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "e2e/e2e.h"
#include "platform/platform.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("a non-root agent does not make files setuid or setgid") {
  if (!running_as_root()) return;  // needs root to hand the destination to another user
  TempDir work;
  ::chmod(work.path().c_str(), 0755);
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src + "/shared");
  write_file(src + "/tool", "#!/bin/sh\n");
  write_file(src + "/grouptool", "#!/bin/sh\n");
  ::chmod((src + "/tool").c_str(), 04755);
  ::chmod((src + "/grouptool").c_str(), 02755);
  ::chmod((src + "/shared").c_str(), 02775);  // setgid on a folder only sets the group of new files
  fs::create_directory(dest);
  REQUIRE(::chown(dest.c_str(), 65534, 65534) == 0);
  std::string as_nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups " + kAgent;
  RunResult r = run(quote(kFerry) + " backup --agent " + quote(as_nobody) + " " + quote(src) + " " + quote(dest));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(mode_of(dest + "/tool") == 0755);
  CHECK(mode_of(dest + "/grouptool") == 0755);
  CHECK(mode_of(dest + "/shared") == 02775);
  // Kept where they cannot hurt: in Ferry's metadata attribute, for a restore as root.
  char stored[64] = {};
  CHECK(::getxattr((dest + "/tool").c_str(), "user.ferry.meta", stored, sizeof stored) > 0);
  CHECK(std::string(stored).starts_with("1 f 4755 "));
  // Kept as root: the same tree into a root agent's destination.
  RunResult as_root = run(quote(kFerry) + " backup " + quote(src) + " " + quote(work / "rootdest"));
  CHECK(as_root.code == 0);
  CHECK(mode_of(work / "rootdest/tool") == 04755);
  CHECK(as_root.err.find("setuid") == std::string::npos);
}

TEST_CASE("the agent's --log file gets debug lines without raising what goes to stderr") {
  TempDir work;
  fs::create_directories(work / "src");
  write_file(work / "src/a", "a");
  std::string log = work / "agent.log";
  // The client appends " serve" to --agent; the wrapper shell takes it as $1 and drops it.
  std::string agent = "sh -c " + quote("exec " + quote(kAgent) + " serve --log " + quote(log)) + " sh";
  RunResult r = run(quote(kFerry) + " backup --agent " + quote(agent) + " " + quote(work / "src") + " " +
                    quote(work / "dest"));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.err.find("ferry-agent:") == std::string::npos);  // nothing at debug level relayed
  CHECK(slurp(log).find("backup to " + work / "dest") != std::string::npos);
}

TEST_CASE("without /proc, xattrs are still read and --delete still runs") {
  if (!running_as_root()) return;  // a mount namespace of our own needs root
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src + "/dir");
  write_file(src + "/dir/file", "data");
  REQUIRE(::setxattr((src + "/dir/file").c_str(), "user.tag", "blue", 4, 0) == 0);
  fs::create_directories(dest);
  write_file(dest + "/stale", "only in the destination");
  // /proc unmounted for this command only, in a mount namespace of its own.
  // --force: the destination was made by hand, not by an earlier backup.
  std::string command = quote(kFerry) + " backup --delete --force --no-safety-net --agent " + quote(kAgent) + " " +
                        quote(src) + " " + quote(dest);
  RunResult r = run("unshare --mount --propagation private sh -c " +
                    quote("umount -l /proc && test ! -e /proc/self && exec " + command));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.err.find("extended attributes") == std::string::npos);
  CHECK_FALSE(fs::exists(dest + "/stale"));
  char value[16] = {};
  CHECK(::getxattr((dest + "/dir/file").c_str(), "user.tag", value, sizeof(value)) == 4);
  CHECK(std::string(value) == "blue");
}

TEST_CASE("an agent that fails outside Ferry's own errors tells the client, and exits with our code") {
  if (!running_as_root()) return;  // needs another user, whose process count the limit counts
  TempDir work;
  ::chmod(work.path().c_str(), 0755);
  fs::create_directories(work / "src");
  write_file(work / "src/a", "a");
  fs::create_directory(work / "dest");
  REQUIRE(::chown((work / "dest").c_str(), 65534, 65534) == 0);
  // One process for the user and no more: the agent's first thread cannot start
  // (std::system_error, not a FatalError), which used to end it in std::terminate.
  std::string agent = "prlimit --nproc=1:1 setpriv --reuid=65534 --regid=65534 --clear-groups " + kAgent;
  RunResult r = run(quote(kFerry) + " backup --agent " + quote(agent) + " " + quote(work / "src") + " " +
                    quote(work / "dest"));
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("ferry-agent failed: ") != std::string::npos);
  CHECK(r.err.find("connection") == std::string::npos);
}

TEST_CASE("on a FUSE destination each file is fsynced before its rename: syncfs there flushes nothing") {
  if (!running_as_root()) return;  // mounting needs root
  TempDir work;
  std::string src = work / "src", backing = work / "backing", fuse = work / "fuse";
  fs::create_directories(src);
  fs::create_directories(backing);
  fs::create_directories(fuse);
  for (int i = 0; i < 5; ++i) write_file(src + "/f" + std::to_string(i), "data " + std::to_string(i));
  REQUIRE(run("bindfs " + quote(backing) + " " + quote(fuse)).code == 0);
  // Which flush calls the whole run (client and the agent it starts) makes.
  auto flushes = [&](const std::string& dest, const std::string& log) {
    RunResult r = run("strace -f -qq -e trace=fsync,syncfs -o " + quote(log) + " " + quote(kFerry) + " backup " +
                      quote(src) + " " + quote(dest));
    CHECK(r.code == 0);
    std::string text = slurp(log);
    std::pair<size_t, size_t> counts{0, 0};  // fsync, syncfs (strace lines are "PID call(...")
    for (size_t at = 0; (at = text.find(" fsync(", at)) != std::string::npos; ++at) ++counts.first;
    for (size_t at = 0; (at = text.find(" syncfs(", at)) != std::string::npos; ++at) ++counts.second;
    return counts;
  };
  auto [fuse_fsyncs, fuse_syncfs] = flushes(fuse, work / "fuse.strace");
  auto [plain_fsyncs, plain_syncfs] = flushes(work / "plain", work / "plain.strace");
  RunResult doctor = run(quote(kFerry) + " doctor " + quote(fuse));
  run("umount " + quote(fuse));
  CHECK(fuse_syncfs == 0);
  CHECK(fuse_fsyncs >= 5);  // one per file at least
  for (int i = 0; i < 5; ++i) CHECK(slurp(backing + "/f" + std::to_string(i)) == "data " + std::to_string(i));
  if (std::string(ferry::platform::name()) == "linux") {
    CHECK(plain_syncfs >= 1);  // the batched flush where it works
    CHECK(plain_fsyncs < 5);
    CHECK(doctor.out.find("is on a FUSE file system") != std::string::npos);
  } else {
    // POSIX has no syncfs and cannot name a file system: every destination is flushed file by file.
    CHECK(plain_syncfs == 0);
    CHECK(plain_fsyncs >= 5);
  }
}
