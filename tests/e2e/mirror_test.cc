// --delete with the safety net, and the include/exclude rules, in backup and restore.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "e2e/e2e.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

// The only folder in DEST/.ferry-safetynet ("" if there is not exactly one).
std::string only_safety_net_folder(const std::string& dest) {
  std::string found;
  int n = 0;
  for (const auto& e : fs::directory_iterator(dest + "/.ferry-safetynet")) {
    found = e.path().string();
    ++n;
  }
  return n == 1 ? found : "";
}

void own(const std::string& path, unsigned uid, unsigned gid) {
  if (running_as_root()) REQUIRE(::lchown(path.c_str(), uid, gid) == 0);
}

}  // namespace

TEST_CASE("--delete mirrors the source; what it deletes or replaces is kept in the safety net, metadata and all") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src + "/keep");
  fs::create_directories(src + "/gone-dir/sub");
  std::ofstream(src + "/keep/file") << "stays";
  std::ofstream(src + "/gone-file") << "deleted later";
  std::ofstream(src + "/gone-dir/sub/deep") << "a whole folder deleted later";
  std::ofstream(src + "/changed") << "version 1";
  fs::create_symlink("keep/file", src + "/gone-link");
  own(src + "/gone-file", 1234, 5678);
  own(src + "/gone-dir/sub/deep", 2001, 2002);
  own(src + "/changed", 3001, 3002);
  ::chmod((src + "/gone-file").c_str(), 0604);
  sshd().trust_host_key();
  std::string home = work / "home";
  REQUIRE(run(ferry_over_ssh("backup", home) + " " + quote(src) + " " + quote(remote(dest))).code == 0);
  Snapshot before = snapshot(dest);

  fs::remove(src + "/gone-file");
  fs::remove_all(src + "/gone-dir");
  fs::remove(src + "/gone-link");
  std::ofstream(src + "/changed") << "version 2";
  RunResult r = run(ferry_over_ssh("backup --delete --json", home) + " " + quote(src) + " " + quote(remote(dest)));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(snapshot(src), snapshot(dest)) == "");
  CHECK(json_field(r.out, "deleted") == 3);
  CHECK(json_field(r.out, "kept_in_safety_net") == 4);  // the three, and the old "changed"

  // The safety net holds each at its relative path, exactly as it was in the backup.
  std::string net = only_safety_net_folder(dest);
  REQUIRE(!net.empty());
  Snapshot kept = snapshot(net);
  Snapshot expected;
  for (const char* path : {"gone-file", "gone-dir", "gone-dir/sub", "gone-dir/sub/deep", "gone-link", "changed"}) {
    expected[path] = before.at(path);
  }
  kept.erase("");
  CHECK(compare(expected, kept) == "");

  SUBCASE("a restore never brings the safety net back as user data") {
    std::string back = work / "back";
    RunResult rr = run(ferry_over_ssh("restore", home) + " " + quote(remote(dest)) + " " + quote(back));
    REQUIRE(rr.code == 0);
    CHECK_FALSE(fs::exists(back + "/.ferry-safetynet"));
    CHECK(compare(snapshot(src), snapshot(back)) == "");
  }
  SUBCASE("a dry run names what it would delete and deletes nothing") {
    std::ofstream(dest + "/extra") << "only in the backup";
    RunResult dry = run(ferry_over_ssh("backup --delete -n -v --json", home) + " " + quote(src) + " " + quote(remote(dest)));
    CHECK(dry.code == 0);
    CHECK(json_field(dry.out, "deleted") == 1);
    CHECK(dry.err.find("would delete extra") != std::string::npos);
    CHECK(fs::exists(dest + "/extra"));

    // Without -v or --json, as rsync -n: the list is the run's output, on stdout; --stats says "would".
    std::ofstream(src + "/new-file") << "not in the backup yet";
    RunResult listed = run(ferry_over_ssh("backup --delete -n --stats", home) + " " + quote(src) + " " +
                           quote(remote(dest)));
    CHECK(listed.code == 0);
    CHECK(listed.out.find("would copy new-file\n") != std::string::npos);
    CHECK(listed.out.find("would delete extra\n") != std::string::npos);
    CHECK(listed.out.find("would delete: 1") != std::string::npos);
    CHECK(listed.out.find("1 would be transferred") != std::string::npos);
    CHECK(listed.err.find("would") == std::string::npos);
    CHECK_FALSE(fs::exists(dest + "/new-file"));
  }
}

TEST_CASE("--delete on restore, --no-safety-net, and excluded names left alone unless --delete-excluded") {
  TempDir work;
  std::string src = work / "src", backup = work / "backup", local = work / "local";
  fs::create_directories(src);
  std::ofstream(src + "/a") << "a";
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(backup)).code == 0);
  fs::create_directories(local);
  std::ofstream(local + "/a") << "old a";
  std::ofstream(local + "/stray") << "not in the backup";
  std::ofstream(local + "/notes.tmp") << "excluded: mine";

  RunResult r = run(quote(kFerry) + " restore --delete --no-safety-net --exclude '*.tmp' --json " + quote(backup) + " " +
                    quote(local));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(json_field(r.out, "deleted") == 1);
  CHECK(json_field(r.out, "kept_in_safety_net") == 0);
  CHECK_FALSE(fs::exists(local + "/stray"));
  CHECK_FALSE(fs::exists(local + "/.ferry-safetynet"));
  CHECK(fs::exists(local + "/notes.tmp"));

  RunResult all = run(quote(kFerry) + " restore --delete --delete-excluded --exclude '*.tmp' " + quote(backup) + " " +
                      quote(local));
  INFO(all.err);
  REQUIRE(all.code == 0);
  CHECK_FALSE(fs::exists(local + "/notes.tmp"));
  CHECK(fs::exists(only_safety_net_folder(local) + "/notes.tmp"));  // the safety net is on by default
  CHECK(compare(snapshot(src), snapshot(local)) == "");
}

TEST_CASE("filters: anchored, directory-only, ** and rule files, in backup and restore") {
  TempDir work;
  std::string src = work / "src";
  for (const char* d : {"build", "src/build", "src/cache", "logs/2026/11", "node_modules/x"}) fs::create_directories(src + "/" + d);
  for (const char* f : {"build/out.o", "src/build/keep.c", "src/main.o", "src/main.c", "src/cache/blob", "cache",
                        "logs/2026/11/app.log", "logs/keep.log", "node_modules/x/index.js", "README"}) {
    std::ofstream(src + "/" + f) << f;
  }
  std::ofstream(work / "rules") << "# generated files\n*.o\n- node_modules/\n";
  std::string filters = "--exclude /build --exclude 'cache/' --include logs/keep.log --exclude 'logs/**.log' "
                        "--exclude-from " + quote(work / "rules");
  auto expect_filtered = [&](const std::string& root) {
    for (const char* gone : {"build", "src/main.o", "src/cache", "logs/2026/11/app.log", "node_modules"}) {
      CHECK_MESSAGE(!fs::exists(root + "/" + gone), gone);
    }
    for (const char* kept : {"src/build/keep.c", "src/main.c", "cache", "logs/keep.log", "logs/2026/11", "README"}) {
      CHECK_MESSAGE(fs::exists(root + "/" + kept), kept);
    }
  };
  sshd().trust_host_key();
  std::string home = work / "home";
  std::string backup = work / "backup";
  RunResult b = run(ferry_over_ssh("backup " + filters, home) + " " + quote(src) + " " + quote(remote(backup)));
  INFO(b.err);
  REQUIRE(b.code == 0);
  expect_filtered(backup);

  // Restore applies the rules on the agent's side, to the full backup.
  std::string full = work / "full", back = work / "back";
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(full)).code == 0);
  RunResult r = run(ferry_over_ssh("restore " + filters, home) + " " + quote(remote(full)) + " " + quote(back));
  INFO(r.err);
  REQUIRE(r.code == 0);
  expect_filtered(back);

  RunResult bad = run(quote(kFerry) + " backup --exclude-from " + quote(work / "missing") + " " + quote(src) + " " +
                      quote(backup));
  CHECK(bad.code == 2);
  CHECK(bad.err.find("cannot read " + work / "missing") != std::string::npos);
}

TEST_CASE("--safety-net-keep prunes the oldest folders by age or size, never this run's or a stranger's") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  std::ofstream(src + "/f") << "v1";
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
  for (const char* old : {"2020-01-01T00-00-00Z", "2021-06-01T12-00-00Z"}) {
    fs::create_directories(dest + "/.ferry-safetynet/" + old);
    write_random(dest + "/.ferry-safetynet/" + old + "/big", 64 << 10, 3);
  }
  fs::create_directories(dest + "/.ferry-safetynet/my notes");
  std::ofstream(src + "/f") << "v2";

  SUBCASE("by age") {
    RunResult r = run(quote(kFerry) + " backup --safety-net --safety-net-keep 30d " + quote(src) + " " + quote(dest));
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK_FALSE(fs::exists(dest + "/.ferry-safetynet/2020-01-01T00-00-00Z"));
    CHECK_FALSE(fs::exists(dest + "/.ferry-safetynet/2021-06-01T12-00-00Z"));
  }
  SUBCASE("by size: the oldest go until the rest fit") {
    RunResult r = run(quote(kFerry) + " backup --safety-net --safety-net-keep 100K " + quote(src) + " " + quote(dest));
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK_FALSE(fs::exists(dest + "/.ferry-safetynet/2020-01-01T00-00-00Z"));
    CHECK(fs::exists(dest + "/.ferry-safetynet/2021-06-01T12-00-00Z"));
  }
  CHECK(fs::exists(dest + "/.ferry-safetynet/my notes"));
  int folders = 0;
  for (const auto& e : fs::directory_iterator(dest + "/.ferry-safetynet")) {
    if (e.path().filename().string().starts_with("20") && fs::exists(e.path() / "f")) ++folders;
  }
  CHECK(folders == 1);  // this run's, holding the replaced f

  RunResult bad = run(quote(kFerry) + " backup --safety-net-keep 3x " + quote(src) + " " + quote(dest));
  CHECK(bad.code == 2);
  CHECK(bad.err.find("not an age or a size") != std::string::npos);
}

TEST_CASE("--delete deletes nothing when the source could not be read in full") {
  if (!running_as_root()) return;  // root reads everything; drop to nobody to make EACCES happen
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src + "/locked");
  std::ofstream(src + "/locked/secret") << "s";
  std::ofstream(src + "/open") << "o";
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
  std::ofstream(dest + "/stray") << "would be deleted";
  ::chmod(work.path().c_str(), 0777);
  for (const auto& e : fs::recursive_directory_iterator(work.path())) ::lchown(e.path().c_str(), 65534, 65534);
  ::chown(work.path().c_str(), 65534, 65534);
  ::chown((src + "/locked").c_str(), 0, 0);
  ::chmod((src + "/locked").c_str(), 0700);
  RunResult r = run("setpriv --reuid=65534 --regid=65534 --clear-groups " + quote(kFerry) + " backup --delete " +
                    quote(src) + " " + quote(dest));
  CHECK(r.code == 3);
  CHECK(r.err.find("nothing was deleted from " + dest + ": the sender could not read 1 item (reported above)") != std::string::npos);
  CHECK(fs::exists(dest + "/stray"));
  CHECK(fs::exists(dest + "/locked/secret"));
}

TEST_CASE("with the safety net, an entry replaced by one of another type is kept, and the rest still lands") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  // In a subfolder: the receiver's cached folder fd is then the one the replacements happen in.
  fs::create_directories(src + "/d/was-file");
  std::ofstream(src + "/d/was-file/inner") << "a folder now";
  std::ofstream(src + "/d/was-dir") << "a file now";
  fs::create_directories(src + "/z");
  std::ofstream(src + "/z/after") << "written after the replacements";
  fs::create_directories(dest + "/d/was-dir/sub");
  std::ofstream(dest + "/d/was-dir/sub/old") << "old";
  std::ofstream(dest + "/d/was-file") << "old file";
  // --force: the destination was made by hand, not by an earlier backup.
  RunResult r = run(quote(kFerry) + " backup --delete --force --json " + quote(src) + " " + quote(dest));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(snapshot(src), snapshot(dest)) == "");
  CHECK(json_field(r.out, "kept_in_safety_net") == 2);
  std::string net = only_safety_net_folder(dest);
  REQUIRE(!net.empty());
  CHECK(fs::is_regular_file(net + "/d/was-dir/sub/old"));
  CHECK(fs::is_regular_file(net + "/d/was-file"));
}

TEST_CASE("with the safety net, a stale temporary-looking file is moved into it, not deleted") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src + "/docs");
  std::ofstream(src + "/docs/a.txt") << "first";
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
  std::string stale = ".ferry-" + std::to_string(dead_pid()) + "-1.tmp";  // perhaps a user's file after all
  std::ofstream(dest + "/docs/" + stale) << "kept";
  std::ofstream(src + "/docs/b.txt") << "new, so the run writes into docs/";
  RunResult r = run(quote(kFerry) + " backup --safety-net " + quote(src) + " " + quote(dest));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_FALSE(fs::exists(dest + "/docs/" + stale));
  std::string net = only_safety_net_folder(dest);
  REQUIRE(!net.empty());
  CHECK(fs::exists(net + "/docs/" + stale));
}

TEST_CASE("without --delete, a folder with contents is not replaced by a file; an empty one is") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src + "/photos");
  std::ofstream(src + "/photos/a.jpg") << "a";
  fs::create_directories(src + "/empty");
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
  std::ofstream(dest + "/photos/only-in-the-backup.jpg") << "kept from an older source";
  // The source replaces both folders with files.
  fs::remove_all(src + "/photos");
  fs::remove_all(src + "/empty");
  std::ofstream(src + "/photos") << "now a file";
  std::ofstream(src + "/empty") << "now a file too";
  RunResult r = run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest));
  INFO(r.err);
  CHECK(r.code == 3);
  CHECK(r.err.find(dest + "/photos is a folder with contents on the destination, where the source now has a file: "
                          "it was left as it is. Run with --delete") != std::string::npos);
  CHECK(slurp(dest + "/photos/only-in-the-backup.jpg") == "kept from an older source");
  CHECK(slurp(dest + "/photos/a.jpg") == "a");
  CHECK(slurp(dest + "/empty") == "now a file too");  // nothing was lost replacing it
  CHECK(fs::is_empty(dest + "/.ferry-state/tmp"));
  // A mirror run replaces it, keeping what it held in the safety net.
  RunResult mirror = run(quote(kFerry) + " backup --delete " + quote(src) + " " + quote(dest));
  CHECK(mirror.code == 0);
  CHECK(slurp(dest + "/photos") == "now a file");
  std::string net = only_safety_net_folder(dest);
  REQUIRE(!net.empty());
  CHECK(slurp(net + "/photos/only-in-the-backup.jpg") == "kept from an older source");
}

TEST_CASE("--delete into a folder that holds files Ferry never wrote is refused with their count, unless --force") {
  TempDir work;
  std::string home = work / "home", src = work / "src", parent = work / "backups";
  fs::create_directories(src);
  std::ofstream(src + "/a") << "a";
  // The rsync habit: DEST is the parent of other backups.
  fs::create_directories(parent + "/desktop/docs");
  std::ofstream(parent + "/desktop/docs/thesis.tex") << "years of work";
  Snapshot before = snapshot(parent);
  sshd().trust_host_key();
  RunResult refused = run(ferry_over_ssh("backup --delete", home) + " " + quote(src) + " " + quote(remote(parent)));
  CHECK(refused.code == 2);
  CHECK(refused.err.find("already holds 3 entries (desktop) and Ferry has never backed up into it") != std::string::npos);
  CHECK(refused.err.find("add --force") != std::string::npos);
  CHECK(compare(before, snapshot(parent)) == "");  // nothing copied, nothing deleted
  CHECK_FALSE(fs::exists(parent + "/.ferry-state"));

  // A dry run may look: it changes nothing, and lists what would go.
  RunResult dry = run(ferry_over_ssh("backup --delete -n", home) + " " + quote(src) + " " + quote(remote(parent)));
  CHECK(dry.code == 0);
  CHECK(dry.out.find("would delete desktop/") != std::string::npos);

  // A destination Ferry made takes --delete as always.
  std::string mirror = work / "mirror";
  REQUIRE(run(ferry_over_ssh("backup", home) + " " + quote(src) + " " + quote(remote(mirror))).code == 0);
  std::ofstream(mirror + "/stale") << "gone from the source";
  CHECK(run(ferry_over_ssh("backup --delete", home) + " " + quote(src) + " " + quote(remote(mirror))).code == 0);
  CHECK_FALSE(fs::exists(mirror + "/stale"));

  // --force: as asked, with the safety net keeping what goes.
  RunResult forced = run(ferry_over_ssh("backup --delete --force", home) + " " + quote(src) + " " + quote(remote(parent)));
  INFO(forced.err);
  CHECK(forced.code == 0);
  CHECK_FALSE(fs::exists(parent + "/desktop"));
  CHECK(fs::exists(parent + "/a"));
}
