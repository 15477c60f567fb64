// Backup and restore over a real sshd and through a local agent, compared at the metadata level.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "e2e/e2e.h"
#include "platform/platform.h"

using namespace ferry::test;
namespace fs = std::filesystem;

TEST_CASE("backup and restore over SSH keep every file, name and piece of metadata") {
  TempDir work;
  std::string src = work / "src", backup = work / "backup", restored = work / "restored";
  fs::create_directory(src);
  build_full_tree(src);
  Snapshot original = snapshot(src);
  REQUIRE(original.size() > 25);
  sshd().trust_host_key();

  RunResult b = run(ferry_over_ssh("backup --json", work / "home") + " " + quote(src) + " " + quote(remote(backup)));
  INFO(b.err);
  REQUIRE(b.code == 0);
  CHECK(compare(original, snapshot(backup)) == "");
  CHECK(json_field(b.out, "files_total") == static_cast<long long>(original.size() - 1));
  CHECK(json_field(b.out, "errors") == 0);
  CHECK(json_field(b.out, "bytes_wire_sent") > 3 * 1024 * 1024);
  if (running_as_root()) CHECK(b.err.find("not running as root") == std::string::npos);

  RunResult r = run(ferry_over_ssh("restore --json", work / "home") + " " + quote(remote(backup)) + " " + quote(restored));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(original, snapshot(restored)) == "");
  CHECK(json_field(r.out, "bytes_wire_received") > 3 * 1024 * 1024);

  SUBCASE("a second backup with nothing changed moves no file data") {
    RunResult again = run(ferry_over_ssh("backup --json", work / "home") + " " + quote(src) + " " + quote(remote(backup)));
    REQUIRE(again.code == 0);
    CHECK(json_field(again.out, "files_transferred") == 0);
    CHECK(json_field(again.out, "bytes_literal") == 0);
    CHECK(compare(original, snapshot(backup)) == "");
  }

  SUBCASE("a changed file is sent again; a changed mode alone is applied without data") {
    std::ofstream(src + "/docs/report.txt", std::ios::app) << "one more line\n";
    ::chmod((src + "/secret").c_str(), 0640);
    Snapshot changed = snapshot(src);
    RunResult again = run(ferry_over_ssh("backup --json", work / "home") + " " + quote(src) + " " + quote(remote(backup)));
    INFO(again.err);
    REQUIRE(again.code == 0);
    CHECK(json_field(again.out, "files_transferred") == 1);
    CHECK(compare(changed, snapshot(backup)) == "");
  }

  SUBCASE("restore of a folder inside the backup restores just that subtree") {
    std::string part = work / "part";
    RunResult p = run(ferry_over_ssh("restore", work / "home") + " " + quote(remote(backup + "/docs")) + " " + quote(part));
    INFO(p.err);
    REQUIRE(p.code == 0);
    CHECK(compare(snapshot(src + "/docs"), snapshot(part)) == "");
  }

  SUBCASE("a dry run reports what it would do and changes nothing") {
    std::ofstream(src + "/docs/report.txt", std::ios::app) << "dry\n";
    RunResult dry = run(ferry_over_ssh("backup -n --json", work / "home") + " " + quote(src) + " " + quote(remote(backup)));
    REQUIRE(dry.code == 0);
    CHECK(json_field(dry.out, "files_transferred") == 1);
    CHECK(compare(original, snapshot(backup)) == "");
  }
}

TEST_CASE("a dry run into a destination that does not exist yet creates nothing") {
  TempDir work;
  std::string src = work / "src";
  fs::create_directories(src + "/d");
  std::ofstream(src + "/d/f") << "x";
  sshd().trust_host_key();
  RunResult r = run(ferry_over_ssh("backup -n --json", work / "home") + " " + quote(src) + " " + quote(remote(work / "new")));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(json_field(r.out, "files_transferred") == 1);
  CHECK(json_field(r.out, "errors") == 0);
  CHECK_FALSE(fs::exists(work / "new"));
}

TEST_CASE("a local destination (external disk) goes through a local agent, no SSH") {
  TempDir work;
  std::string src = work / "src", disk = work / "disk", back = work / "back";
  fs::create_directory(src);
  build_full_tree(src);
  Snapshot original = snapshot(src);
  RunResult b = run(quote(kFerry) + " backup --stats " + quote(src) + " " + quote(disk));
  INFO(b.err);
  REQUIRE(b.code == 0);
  CHECK(b.out.find("transferred") != std::string::npos);
  CHECK(compare(original, snapshot(disk)) == "");
  RunResult r = run(quote(kFerry) + " restore " + quote(disk) + " " + quote(back));
  REQUIRE(r.code == 0);
  CHECK(compare(original, snapshot(back)) == "");
}

TEST_CASE("a mirror replaces entries of another type, and never writes through a symlink") {
  TempDir work, outside;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src + "/was-link");
  std::ofstream(src + "/was-link/file") << "inside";
  std::ofstream(src + "/was-dir") << "now a file";
  fs::create_directories(dest + "/was-dir/sub");
  std::ofstream(dest + "/was-dir/sub/old") << "old";
  fs::create_directory_symlink(outside.path(), dest + "/was-link");
  // --force: the destination was made by hand, not by an earlier backup.
  RunResult b = run(quote(kFerry) + " backup --delete --force " + quote(src) + " " + quote(dest));
  INFO(b.err);
  REQUIRE(b.code == 0);
  CHECK(fs::is_empty(outside.path()));
  CHECK(compare(snapshot(src), snapshot(dest)) == "");
}

TEST_CASE("a receiver that is not root keeps owners in an extended attribute, and says nothing") {
  if (!running_as_root()) return;  // needs setpriv to drop to nobody
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src + "/a");
  std::ofstream(src + "/a/one") << "1";
  std::ofstream(src + "/two") << "2";
  ::chown((src + "/a/one").c_str(), 501, 20);
  ::chmod((src + "/a/one").c_str(), 0644);
  ::chown((src + "/two").c_str(), 502, 20);
  ::chmod(work.path().c_str(), 0777);
  ::chmod(src.c_str(), 0755);
  RunResult b = run("setpriv --reuid=65534 --regid=65534 --clear-groups " + quote(kFerry) + " backup " + quote(src) +
                    " " + quote(dest));
  INFO(b.err);
  CHECK(b.code == 0);
  CHECK(b.err.find("not running as root") == std::string::npos);
  char stored[64] = {};
  CHECK(::getxattr((dest + "/a/one").c_str(), "user.ferry.meta", stored, sizeof stored) > 0);
  CHECK(std::string(stored) == "1 f 644 501 20 0 0");
  std::ifstream one(dest + "/a/one");
  std::string content;
  one >> content;
  CHECK(content == "1");
}

TEST_CASE("a small change in a large file moves a small delta, in both directions") {
  TempDir work;
  std::string src = work / "src", backup = work / "backup", restored = work / "restored";
  fs::create_directory(src);
  write_random(src + "/disk.img", 16 * 1024 * 1024, 9);
  sshd().trust_host_key();
  std::string home = work / "home";
  REQUIRE(run(ferry_over_ssh("backup", home) + " " + quote(src) + " " + quote(remote(backup))).code == 0);
  REQUIRE(run(ferry_over_ssh("restore", home) + " " + quote(remote(backup)) + " " + quote(restored)).code == 0);

  // Backup: overwrite 100 bytes in the middle.
  {
    std::fstream f(src + "/disk.img", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8 * 1024 * 1024);
    f << std::string(100, 'X');
  }
  RunResult b = run(ferry_over_ssh("backup --json", home) + " " + quote(src) + " " + quote(remote(backup)));
  INFO(b.err);
  REQUIRE(b.code == 0);
  CHECK(compare(snapshot(src), snapshot(backup)) == "");
  CHECK(json_field(b.out, "files_transferred") == 1);
  CHECK(json_field(b.out, "bytes_literal") < 64 * 1024);
  CHECK(json_field(b.out, "bytes_wire_sent") < 128 * 1024);      // vs 16 MiB whole
  CHECK(json_field(b.out, "bytes_wire_received") < 256 * 1024);  // the signature

  // Restore: the backup now differs from the old restored copy in the same place.
  RunResult r = run(ferry_over_ssh("restore --json", home) + " " + quote(remote(backup)) + " " + quote(restored));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(snapshot(src), snapshot(restored)) == "");
  CHECK(json_field(r.out, "bytes_literal") < 64 * 1024);
  CHECK(json_field(r.out, "bytes_wire_received") < 128 * 1024);
  CHECK(json_field(r.out, "bytes_wire_sent") < 256 * 1024);
}

TEST_CASE("--checksum finds a change that keeps size and mtime, and skips a touch that changes only mtime") {
  TempDir work;
  std::string src = work / "src", backup = work / "backup";
  fs::create_directories(src);
  std::ofstream(src + "/same-size.txt") << "version one";
  std::ofstream(src + "/touched.txt") << "unchanged";
  sshd().trust_host_key();
  std::string home = work / "home";
  REQUIRE(run(ferry_over_ssh("backup", home) + " " + quote(src) + " " + quote(remote(backup))).code == 0);

  struct stat before {};
  REQUIRE(::stat((src + "/same-size.txt").c_str(), &before) == 0);
  std::ofstream(src + "/same-size.txt") << "version two";  // same length
  timespec keep[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, (src + "/same-size.txt").c_str(), keep, 0) == 0);
  timespec later[2] = {{1700000000, 5}, {1700000000, 5}};
  REQUIRE(::utimensat(AT_FDCWD, (src + "/touched.txt").c_str(), later, 0) == 0);

  RunResult quick = run(ferry_over_ssh("backup --json", home) + " " + quote(src) + " " + quote(remote(backup)));
  REQUIRE(quick.code == 0);
  CHECK(json_field(quick.out, "files_transferred") == 1);  // the touched file; the edit is invisible to size+mtime
  std::ifstream stale(backup + "/same-size.txt");
  std::string content((std::istreambuf_iterator<char>(stale)), std::istreambuf_iterator<char>());
  CHECK(content == "version one");

  timespec other[2] = {{1600000000, 7}, {1600000000, 7}};
  REQUIRE(::utimensat(AT_FDCWD, (src + "/touched.txt").c_str(), other, 0) == 0);  // touched again
  RunResult checked = run(ferry_over_ssh("backup --checksum --json", home) + " " + quote(src) + " " + quote(remote(backup)));
  INFO(checked.err);
  REQUIRE(checked.code == 0);
  CHECK(json_field(checked.out, "files_transferred") == 1);  // only the real edit
  CHECK(compare(snapshot(src), snapshot(backup)) == "");       // and the touch's mtime arrived too
}

TEST_CASE("a run ends with its data on disk, unless --no-sync leaves it to the kernel") {
  TempDir work;
  std::string src = work / "src";
  fs::create_directory(src);
  write_random(src + "/data.bin", 8 * 1024 * 1024, 11);
  write_random(src + "/small.bin", 64 * 1024, 12);  // left to the final flush, not written back alone
  if (!dirty_pages(src + "/data.bin")) return;  // the kernel does not show page flags here
  sshd().trust_host_key();
  std::string home = work / "home";
  for (bool no_sync : {false, true}) {
    CAPTURE(no_sync);
    std::string backup = work / (no_sync ? "backup-no-sync" : "backup");
    std::string flag = no_sync ? " --no-sync" : "";
    RunResult b = run(ferry_over_ssh("backup" + flag, home) + " " + quote(src) + " " + quote(remote(backup)));
    INFO(b.err);
    REQUIRE(b.code == 0);
    CHECK(compare(snapshot(src), snapshot(backup)) == "");
    // 8 MiB written moments ago: unless something flushed it, most of it is still dirty.
    std::optional<long> dirty = dirty_pages(backup + "/data.bin");
    REQUIRE(dirty);
    if (no_sync) {
      CHECK(*dirty > 0);
    } else {
      CHECK(*dirty == 0);
      // A small file is not written back on its own; the final syncfs must still cover it.
      // (Its --no-sync state is not checked: 16 pages are cleaned whole by any background
      // writeback another test starts, unlike most of 8 MiB.)
      std::optional<long> small_dirty = dirty_pages(backup + "/small.bin");
      REQUIRE(small_dirty);
      CHECK(*small_dirty == 0);
    }
  }
}

// The batched flush runs on a thread of its own while the next batch is written; what must not
// change is that a file is renamed into place only after a flush that began once it was written
// has ended. Read off the agent's system calls, in the order strace saw them.
TEST_CASE("a durable backup renames each file only after a flush begun after it was written has ended") {
  if (std::string(ferry::platform::name()) != "linux") return;  // POSIX flushes each file before its rename
  TempDir work;
  std::string src = work / "src", backup = work / "backup", log = work / "trace";
  fs::create_directories(src);
  const int files = 2600;  // three batches of 1,024: a flush overlaps the writing of the next batch
  for (int i = 0; i < files; ++i) std::ofstream(src + "/f" + std::to_string(i)) << "content " << i;
  RunResult r = run("strace -f -qq -e trace=openat,syncfs,renameat,renameat2 -o " + quote(log) + " " +
                    quote(kFerry) + " backup " + quote(src) + " " + quote(backup));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(snapshot(src), snapshot(backup)) == "");

  const std::regex call(R"(^(\d+) +(openat|syncfs|renameat2?)\((.*))");
  const std::regex resumed(R"(^(\d+) +<\.\.\. syncfs resumed>)");
  const std::regex temp_name(R"(^[^"]*"([0-9a-f]{16})\")");  // .ferry-state/tmp names a file by a hash
  std::map<std::string, size_t> created;                   // temp name -> line
  std::map<std::string, size_t> flush_began;               // pid -> line of a syncfs not yet ended
  std::vector<std::pair<size_t, size_t>> flushes;          // [began, ended]
  std::vector<std::pair<std::string, size_t>> renames;     // temp name, line
  std::istringstream lines(slurp(log));
  std::string line;
  std::smatch m, name;
  for (size_t at = 0; std::getline(lines, line); ++at) {
    if (std::regex_search(line, m, resumed)) {
      auto it = flush_began.find(m[1]);
      if (it != flush_began.end()) {
        flushes.emplace_back(it->second, at);
        flush_began.erase(it);
      }
      continue;
    }
    if (!std::regex_search(line, m, call)) continue;
    std::string what = m[2], rest = m[3];
    if (what == "syncfs") {
      if (rest.find("<unfinished") != std::string::npos) {
        flush_began[m[1]] = at;
      } else {
        flushes.emplace_back(at, at);
      }
    } else if (std::regex_search(rest, name, temp_name)) {
      if (what == "openat" && rest.find("O_CREAT") != std::string::npos) created[name[1]] = at;
      if (what != "openat") renames.emplace_back(name[1], at);
    }
  }
  CHECK(flushes.size() >= 3);
  CHECK(renames.size() == static_cast<size_t>(files));
  size_t unflushed = 0;
  for (const auto& [tmp, renamed_at] : renames) {
    auto made = created.find(tmp);
    bool flushed = made != created.end() && std::any_of(flushes.begin(), flushes.end(), [&](const auto& f) {
                     return f.first > made->second && f.second < renamed_at;
                   });
    if (!flushed) ++unflushed;
  }
  CHECK(unflushed == 0);
}

TEST_CASE("temporary files an interrupted run left are removed where the next run writes") {
  TempDir work;
  std::string src = work / "src", backup = work / "backup";
  fs::create_directories(src + "/docs");
  std::ofstream(src + "/docs/a.txt") << "first";
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(backup)).code == 0);

  pid_t gone = dead_pid();
  std::string stale = ".ferry-" + std::to_string(gone) + "-1.tmp";
  std::string live = ".ferry-" + std::to_string(::getpid()) + "-1.tmp";  // a run still going
  std::string real = ".ferry-" + std::to_string(gone) + "-2.tmp";         // the user's own file
  std::ofstream(backup + "/docs/" + stale) << "half written";
  std::ofstream(backup + "/docs/" + live) << "being written";
  std::ofstream(src + "/docs/" + real) << "a real file with an unlucky name";
  std::ofstream(src + "/docs/b.txt") << "new, so the run writes into docs/";

  RunResult r = run(quote(kFerry) + " backup -v " + quote(src) + " " + quote(backup));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_FALSE(fs::exists(backup + "/docs/" + stale));
  CHECK(fs::exists(backup + "/docs/" + live));
  CHECK(r.err.find("removed 1 temporary file") != std::string::npos);
  Snapshot copied = snapshot(backup);
  copied.erase("docs/" + live);
  CHECK(compare(snapshot(src), copied) == "");  // the real file arrived; the folder's mtime held
}

TEST_CASE("a single file is backed up into DEST beside what is there, kept up to date, and restored") {
  TempDir work;
  std::string home = work / "home", docs = work / "docs", dest = work / "dest", back = work / "back";
  fs::create_directories(docs);
  write_random(docs + "/notes.bin", 300 << 10, 21);
  std::ofstream(docs + "/not-this") << "only the file named is sent";
  if (running_as_root()) REQUIRE(::lchown((docs + "/notes.bin").c_str(), 1500, 1600) == 0);
  fs::create_directories(dest);
  std::ofstream(dest + "/already-there") << "not the run's business";
  ::chmod(dest.c_str(), 0750);
  sshd().trust_host_key();
  RunResult first = run(ferry_over_ssh("backup --json", home) + " " + quote(docs + "/notes.bin") + " " + quote(remote(dest)));
  INFO(first.err);
  REQUIRE(first.code == 0);
  CHECK(json_field(first.out, "files_total") == 1);
  Snapshot sent = snapshot(docs);
  Snapshot landed = snapshot(dest);
  CHECK(landed.count("notes.bin") == 1);
  CHECK(landed.count("not-this") == 0);
  CHECK(landed.count("already-there") == 1);
  CHECK((landed.at("").mode & 07777) == 0750);  // DEST keeps its own mode, not the source folder's
  // The file itself: content, owner, mode and mtime as sent.
  Snapshot one_sent = {{"notes.bin", sent.at("notes.bin")}}, one_landed = {{"notes.bin", landed.at("notes.bin")}};
  CHECK(compare(one_sent, one_landed) == "");

  RunResult again = run(ferry_over_ssh("backup --json", home) + " " + quote(docs + "/notes.bin") + " " + quote(remote(dest)));
  CHECK(again.code == 0);
  CHECK(json_field(again.out, "files_transferred") == 0);  // unchanged: nothing sent
  {
    std::fstream middle(docs + "/notes.bin", std::ios::in | std::ios::out | std::ios::binary);
    middle.seekp(150 << 10);
    middle << "an edit in the middle of the file";
  }
  RunResult changed = run(ferry_over_ssh("backup --json", home) + " " + quote(docs + "/notes.bin") + " " + quote(remote(dest)));
  CHECK(changed.code == 0);
  CHECK(json_field(changed.out, "bytes_matched") > 0);  // a delta against the copy there
  CHECK(slurp(dest + "/notes.bin") == slurp(docs + "/notes.bin"));

  // And back, as one file.
  RunResult restored = run(ferry_over_ssh("restore", home) + " " + quote(remote(dest + "/notes.bin")) + " " + quote(back));
  INFO(restored.err);
  CHECK(restored.code == 0);
  CHECK(slurp(back + "/notes.bin") == slurp(docs + "/notes.bin"));
  // --delete or --snapshot with a single file make no sense, and are refused.
  CHECK(run(ferry_over_ssh("backup --delete", home) + " " + quote(docs + "/notes.bin") + " " + quote(remote(dest))).code == 2);
}

TEST_CASE("thousands of folders keep their metadata: the end of the run reads them back from a file") {
  // More folders than SpilledEntries holds in memory (4,096), so most of them come back from
  // its temporary file, in both directions: the folders' metadata, and the folders written into,
  // where the end of the run sweeps stale temporary files. Some read-only, owners varied as root.
  TempDir work;
  std::string src = work / "src", backup = work / "backup", restored = work / "restored";
  constexpr int kFolders = 5000;
  auto folder = [&](const std::string& root, int i) {
    return root + "/g" + std::to_string(i / 100) + "/folder " + std::to_string(i);
  };
  for (int i = 0; i < kFolders; ++i) {
    std::string dir = folder(src, i);
    fs::create_directories(dir);
    std::ofstream(dir + "/inside") << i;
    if (i % 7 == 0) ::setxattr(dir.c_str(), "user.n", &i, sizeof(i), 0);
    if (running_as_root()) REQUIRE(::chown(dir.c_str(), 1000 + static_cast<uid_t>(i % 13), 100 + static_cast<gid_t>(i % 5)) == 0);
    ::chmod(dir.c_str(), i % 3 == 0 ? 0555 : 0750 + static_cast<mode_t>(i % 8));
    timespec times[2] = {{1600000000 + i, 0}, {1600000000 + i, static_cast<long>(i) * 1000}};
    REQUIRE(::utimensat(AT_FDCWD, dir.c_str(), times, 0) == 0);
  }
  Snapshot original = snapshot(src);
  REQUIRE(original.size() > kFolders);
  sshd().trust_host_key();

  RunResult b = run(ferry_over_ssh("backup", work / "home") + " " + quote(src) + " " + quote(remote(backup)));
  INFO(b.err);
  REQUIRE(b.code == 0);
  CHECK(compare(original, snapshot(backup)) == "");
  RunResult r = run(ferry_over_ssh("restore", work / "home") + " " + quote(remote(backup)) + " " + quote(restored));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(original, snapshot(restored)) == "");

  // Every file changed, so the next run writes into every folder; the first folder written,
  // whose name went to the temporary file first, holds what an interrupted run left.
  std::string stale = folder(backup, 0) + "/.ferry-" + std::to_string(dead_pid()) + "-1.tmp";
  ::chmod(folder(backup, 0).c_str(), 0755);
  std::ofstream(stale) << "half written";
  ::chmod(folder(backup, 0).c_str(), 0555);
  for (int i = 0; i < kFolders; ++i) {
    std::string inside = folder(src, i) + "/inside";
    std::ofstream(inside) << "changed " << i;
    timespec times[2] = {{1600000000 + i, 0}, {1600000000 + i, 0}};
    REQUIRE(::utimensat(AT_FDCWD, folder(src, i).c_str(), times, 0) == 0);  // the write moved it
  }
  Snapshot changed = snapshot(src);
  RunResult again = run(ferry_over_ssh("backup", work / "home") + " " + quote(src) + " " + quote(remote(backup)));
  INFO(again.err);
  REQUIRE(again.code == 0);
  CHECK_FALSE(fs::exists(stale));
  CHECK(compare(changed, snapshot(backup)) == "");
}

TEST_CASE("thousands of hard-linked files keep their links: the end of the run finds the first names in a file") {
  // A tree holding two snapshots of the same files: every file has a second name in another
  // branch, listed long after the first. More first names than LeaderPaths keeps in a block
  // (256) and more second names than SpilledEntries holds in memory (4,096), so both come back
  // from their temporary files, in both directions; every tenth file has a third name beside it.
  TempDir work;
  std::string src = work / "src", backup = work / "backup", restored = work / "restored";
  constexpr int kFiles = 4500;
  auto name = [&](const std::string& root, const char* branch, int i) {
    return root + "/" + branch + "/g" + std::to_string(i / 100) + "/file " + std::to_string(i);
  };
  for (int i = 0; i < kFiles; ++i) {
    std::string first = name(src, "a", i), second = name(src, "b", i);
    fs::create_directories(fs::path(first).parent_path());
    fs::create_directories(fs::path(second).parent_path());
    std::ofstream(first) << "content " << i;
    if (running_as_root()) REQUIRE(::chown(first.c_str(), 1000 + static_cast<uid_t>(i % 11), 100 + static_cast<gid_t>(i % 3)) == 0);
    ::chmod(first.c_str(), 0600 + static_cast<mode_t>(i % 8) * 010);
    REQUIRE(::link(first.c_str(), second.c_str()) == 0);
    if (i % 10 == 0) REQUIRE(::link(first.c_str(), (second + " again").c_str()) == 0);
  }
  Snapshot original = snapshot(src);
  sshd().trust_host_key();

  RunResult b = run(ferry_over_ssh("backup --json", work / "home") + " " + quote(src) + " " + quote(remote(backup)));
  INFO(b.err);
  REQUIRE(b.code == 0);
  CHECK(compare(original, snapshot(backup)) == "");
  struct stat a {}, c {};
  REQUIRE(::stat(name(backup, "a", 0).c_str(), &a) == 0);
  REQUIRE(::stat(name(backup, "b", kFiles - 1).c_str(), &c) == 0);
  CHECK(a.st_nlink == 3);
  CHECK(c.st_nlink == 2);
  CHECK(json_field(b.out, "bytes_literal") < 20 * kFiles);  // each content once, not once a name

  RunResult r = run(ferry_over_ssh("restore", work / "home") + " " + quote(remote(backup)) + " " + quote(restored));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(original, snapshot(restored)) == "");

  // Nothing changed: the next backup keeps every link and sends no file.
  RunResult again = run(ferry_over_ssh("backup --json", work / "home") + " " + quote(src) + " " + quote(remote(backup)));
  INFO(again.err);
  REQUIRE(again.code == 0);
  CHECK(json_field(again.out, "files_transferred") == 0);
  CHECK(compare(original, snapshot(backup)) == "");
}
