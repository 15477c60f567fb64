// Snapshot stores over the real sshd: `backup --snapshot` makes one complete tree per run that
// shares unchanged files with the one before, `restore --at` reads any of them back, a run cut
// off leaves no snapshot, and a destination keeps the kind it was made as.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "e2e/e2e.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

// The snapshot folders of a store, oldest first (their names sort by time).
std::vector<std::string> snapshot_names(const std::string& dest) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dest)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && !e.is_symlink() && name.size() >= 20 && name[10] == 'T') names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

void own(const std::string& path, unsigned uid, unsigned gid) {
  if (running_as_root()) REQUIRE(::lchown(path.c_str(), uid, gid) == 0);
}

// The first version of the source: files to keep, to edit, to give new metadata, to delete.
void write_first_version(const std::string& src) {
  fs::create_directories(src + "/docs/deep");
  std::ofstream(src + "/docs/same.txt") << "never changes";
  std::ofstream(src + "/docs/deep/meta.txt") << "only its owner and mode change";
  std::ofstream(src + "/gone.txt") << "deleted before the second snapshot";
  write_random(src + "/edited.bin", 6 << 20, 11);
  fs::create_symlink("docs/same.txt", src + "/link");
  own(src + "/docs/same.txt", 1201, 1301);
  own(src + "/docs/deep/meta.txt", 1202, 1302);
  ::chmod((src + "/docs/deep/meta.txt").c_str(), 0640);
}

// A few bytes in the middle of a large file, its size unchanged: a delta against the last
// snapshot's copy.
void edit_middle(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(3 << 20);
  f << "the second version";
}

}  // namespace

TEST_CASE("two snapshots restore exactly to the two states; unchanged files share an inode, changed metadata does not") {
  TempDir work;
  std::string src = work / "src", dest = work / "store", home = work / "home";
  write_first_version(src);
  sshd().trust_host_key();
  std::string backup = ferry_over_ssh("backup --snapshot --json", home) + " " + quote(src) + " " + quote(remote(dest));
  RunResult first = run(backup);
  INFO(first.err);
  REQUIRE(first.code == 0);
  Snapshot version1 = snapshot(src);

  // The second version, in the same second as the first or not: every run gets its own name.
  ::chmod((src + "/docs/deep/meta.txt").c_str(), 0600);
  own(src + "/docs/deep/meta.txt", 1203, 1303);
  edit_middle(src + "/edited.bin");
  fs::remove(src + "/gone.txt");
  std::ofstream(src + "/docs/new.txt") << "new in the second version";
  RunResult second = run(backup);
  INFO(second.err);
  REQUIRE(second.code == 0);
  Snapshot version2 = snapshot(src);
  // The edited file went as a delta against the first snapshot's copy.
  CHECK(json_field(second.out, "bytes_matched") > 5 << 20);
  CHECK(json_field(second.out, "bytes_literal") < 1 << 20);

  std::vector<std::string> ids = snapshot_names(dest);
  REQUIRE(ids.size() == 2);
  CHECK(fs::read_symlink(dest + "/latest") == ids[1]);
  std::string old_tree = dest + "/" + ids[0], new_tree = dest + "/" + ids[1];
  // Each snapshot is a plain folder holding its version, owners and modes included: the
  // metadata change made a new inode, and the first snapshot's file kept its own.
  CHECK(compare(version1, snapshot(old_tree)) == "");
  CHECK(compare(version2, snapshot(new_tree)) == "");
  CHECK(lstat_of(old_tree + "/docs/same.txt").st_ino == lstat_of(new_tree + "/docs/same.txt").st_ino);
  CHECK(lstat_of(old_tree + "/docs/deep/meta.txt").st_ino != lstat_of(new_tree + "/docs/deep/meta.txt").st_ino);
  CHECK((lstat_of(old_tree + "/docs/deep/meta.txt").st_mode & 07777) == 0640);
  CHECK(lstat_of(old_tree + "/edited.bin").st_ino != lstat_of(new_tree + "/edited.bin").st_ino);
  // Nothing of the run is left where the next one builds.
  CHECK_FALSE(fs::exists(dest + "/.ferry-state/building"));

  std::string restore = ferry_over_ssh("restore", home);
  SUBCASE("the newest by default") {
    std::string back = work / "back";
    RunResult r = run(restore + " " + quote(remote(dest)) + " " + quote(back));
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(compare(version2, snapshot(back)) == "");
  }
  SUBCASE("the older one by its ID, and by a time") {
    for (const std::string& at : {ids[0], std::string("2 minutes ago")}) {
      CAPTURE(at);
      std::string back = work / "back";
      fs::remove_all(back);
      RunResult r = run(restore + " --at " + quote(at) + " " + quote(remote(dest)) + " " + quote(back));
      INFO(r.err);
      if (at != ids[0] && r.code != 0) continue;  // the store is younger than two minutes: no such snapshot
      REQUIRE(r.code == 0);
      CHECK(compare(version1, snapshot(back)) == "");
    }
  }
  SUBCASE("a folder inside an older snapshot") {
    std::string back = work / "back";
    RunResult r = run(restore + " --at " + ids[0] + " " + quote(remote(dest + "/docs")) + " " + quote(back));
    INFO(r.err);
    REQUIRE(r.code == 0);
    Snapshot expected;
    for (const auto& [path, node] : version1) {
      if (path.starts_with("docs/")) expected[path.substr(5)] = node;
    }
    expected[""] = version1.at("docs");
    CHECK(compare(expected, snapshot(back)) == "");
  }
  SUBCASE("an unknown snapshot is an error that names the nearest ones") {
    RunResult r = run(restore + " --at 2001-01-01T00-00-00Z " + quote(remote(dest)) + " " + quote(work / "back"));
    CHECK(r.code == 2);
    CHECK(r.err.find("has no snapshot \"2001-01-01T00-00-00Z\"; the nearest are " + ids[0]) != std::string::npos);
    CHECK_FALSE(fs::exists(work / "back"));
  }
}

TEST_CASE("a snapshot run cut off mid-file leaves no new snapshot; the next run completes one from what arrived") {
  TempDir work;
  std::string src = work / "src", dest = work / "store";
  fs::create_directories(src);
  std::ofstream(src + "/small") << "in every snapshot";
  ::chmod((src + "/small").c_str(), 0644);
  sshd().trust_host_key();
  REQUIRE(run(quote(kFerry) + " backup --snapshot " + quote(src) + " " + quote(dest)).code == 0);
  std::vector<std::string> before = snapshot_names(dest);
  REQUIRE(before.size() == 1);

  const size_t size = 48 << 20;
  write_random(src + "/big", size, 9);
  std::string killed_agent = "--agent " + quote("timeout -s KILL 1 " + kAgent) + " --bwlimit 16M";
  RunResult cut = run(quote(kFerry) + " backup --snapshot " + killed_agent + " " + quote(src) + " " + quote(dest));
  REQUIRE(cut.code == 4);
  CHECK(snapshot_names(dest) == before);
  CHECK(fs::read_symlink(dest + "/latest") == before[0]);
  CHECK(fs::exists(dest + "/.ferry-state/building/small"));
  // The cut-off run linked `small` to the first snapshot's copy; a mode changed since must
  // give it an inode of its own, not change the first snapshot.
  ::chmod((src + "/small").c_str(), 0604);

  RunResult next = run(quote(kFerry) + " backup --snapshot --json " + quote(src) + " " + quote(dest));
  INFO(next.err);
  REQUIRE(next.code == 0);
  CHECK(json_field(next.out, "bytes_matched") > 4 << 20);  // resumed, not sent again
  std::vector<std::string> after = snapshot_names(dest);
  REQUIRE(after.size() == 2);
  CHECK(after[0] == before[0]);
  CHECK(fs::read_symlink(dest + "/latest") == after[1]);
  CHECK(compare(snapshot(src), snapshot(dest + "/" + after[1])) == "");
  CHECK((lstat_of(dest + "/" + after[0] + "/small").st_mode & 07777) == 0644);
  CHECK_FALSE(fs::exists(dest + "/.ferry-state/building"));
}

TEST_CASE("a destination stays the kind it was made as: a run of the other kind is refused, naming it") {
  TempDir work;
  std::string src = work / "src", mirror = work / "mirror", store = work / "store";
  fs::create_directories(src);
  std::ofstream(src + "/file") << "data";
  sshd().trust_host_key();
  std::string home = work / "home";
  REQUIRE(run(ferry_over_ssh("backup", home) + " " + quote(src) + " " + quote(remote(mirror))).code == 0);
  REQUIRE(run(ferry_over_ssh("backup --snapshot", home) + " " + quote(src) + " " + quote(remote(store))).code == 0);
  Snapshot mirror_before = snapshot(mirror), store_before = snapshot(store);

  RunResult into_mirror = run(ferry_over_ssh("backup --snapshot", home) + " " + quote(src) + " " + quote(remote(mirror)));
  CHECK(into_mirror.code == 2);
  CHECK(into_mirror.err.find(mirror + " is a mirror") != std::string::npos);
  RunResult into_store = run(ferry_over_ssh("backup", home) + " " + quote(src) + " " + quote(remote(store)));
  CHECK(into_store.code == 2);
  CHECK(into_store.err.find(store + " is a snapshot store") != std::string::npos);
  RunResult at_mirror = run(ferry_over_ssh("restore --at latest", home) + " " + quote(remote(mirror)) + " " +
                            quote(work / "back"));
  CHECK(at_mirror.code == 2);
  CHECK(at_mirror.err.find("not in a snapshot store") != std::string::npos);
  CHECK(compare(mirror_before, snapshot(mirror)) == "");
  CHECK(compare(store_before, snapshot(store)) == "");
}

TEST_CASE("a store damaged by hand: links that lead out are not followed, a missing file is sent again") {
  TempDir work;
  std::string src = work / "src", dest = work / "store", home = work / "home";
  fs::create_directories(src + "/d");
  fs::create_directories(src + "/e");
  std::ofstream(src + "/d/a") << "first";
  std::ofstream(src + "/d/b") << "second";
  std::ofstream(src + "/e/c") << "third";
  sshd().trust_host_key();
  std::string backup = ferry_over_ssh("backup --snapshot", home) + " " + quote(src) + " " + quote(remote(dest));
  REQUIRE(run(backup).code == 0);
  std::string first = snapshot_names(dest).at(0);

  // A file deleted from the snapshot by hand, a folder of it replaced by a link to a folder
  // outside, and `latest` pointed at that folder too.
  fs::remove(dest + "/" + first + "/d/a");
  fs::create_directories(work / "outside");
  std::ofstream(work / "outside/secret") << "not part of the backup";
  {
    // What the next run would link to, were it to follow the link: the same content, mode and times.
    std::ofstream(work / "outside/c") << "third";
    struct stat st = lstat_of(src + "/e/c");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    REQUIRE(::utimensat(AT_FDCWD, (work / "outside/c").c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
    REQUIRE(::chmod((work / "outside/c").c_str(), st.st_mode & 07777) == 0);
  }
  fs::remove_all(dest + "/" + first + "/e");
  fs::create_symlink(work / "outside", dest + "/" + first + "/e");
  fs::remove(dest + "/latest");
  fs::create_symlink(work / "outside", dest + "/latest");

  std::string back = work / "back";
  RunResult r = run(ferry_over_ssh("restore", home) + " " + quote(remote(dest)) + " " + quote(back));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("which is not one of its snapshots; using the newest snapshot, " + first) != std::string::npos);
  CHECK_FALSE(fs::exists(back + "/secret"));
  CHECK(fs::exists(back + "/d/b"));

  // The next snapshot is complete again: what is missing from the last one is sent.
  RunResult again = run(backup);
  INFO(again.err);
  REQUIRE(again.code == 0);
  std::vector<std::string> ids = snapshot_names(dest);
  REQUIRE(ids.size() == 2);
  CHECK(compare(snapshot(src), snapshot(dest + "/" + ids[1])) == "");
  CHECK(fs::read_symlink(dest + "/latest") == ids[1]);
  CHECK(fs::exists(work / "outside/secret"));  // the folder the link named is left alone
  CHECK(lstat_of(work / "outside/c").st_nlink == 1);  // and nothing in the new snapshot links to it

  // The damaged snapshot restores as it now is: the planted link as a link.
  std::string old_back = work / "old-back";
  RunResult old = run(ferry_over_ssh("restore --at " + first, home) + " " + quote(remote(dest)) + " " + quote(old_back));
  INFO(old.err);
  REQUIRE(old.code == 0);
  CHECK(fs::is_symlink(old_back + "/e"));
  CHECK_FALSE(fs::exists(old_back + "/secret"));
}

namespace {

std::string slurp_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("snapshots lists sizes and what each alone holds; ls shows an older snapshot; forget keeps what the rules say") {
  TempDir work;
  std::string src = work / "src", dest = work / "store", home = work / "home";
  fs::create_directories(src + "/docs");
  write_random(src + "/shared.bin", 1 << 20, 21);
  std::ofstream(src + "/docs/note.txt") << "in every snapshot";
  write_random(src + "/early.bin", 100 << 10, 24);  // in the first two snapshots
  sshd().trust_host_key();
  std::string backup = ferry_over_ssh("backup --snapshot", home) + " " + quote(src) + " " + quote(remote(dest));
  REQUIRE(run(backup).code == 0);
  write_random(src + "/only-second.bin", 300 << 10, 22);  // in the second snapshot alone
  REQUIRE(run(backup).code == 0);
  fs::remove(src + "/only-second.bin");
  fs::remove(src + "/early.bin");
  write_random(src + "/only-third.bin", 200 << 10, 23);
  REQUIRE(run(backup).code == 0);
  std::vector<std::string> ids = snapshot_names(dest);
  REQUIRE(ids.size() == 3);

  RunResult listed = run(ferry_over_ssh("snapshots --json", home) + " " + quote(remote(dest)));
  INFO(listed.err);
  REQUIRE(listed.code == 0);
  auto field_of = [&](const std::string& id, const std::string& field) {
    size_t at = listed.out.find("\"id\":\"" + id + "\"");
    REQUIRE(at != std::string::npos);
    size_t object = listed.out.rfind('{', at);
    return json_field(listed.out.substr(object, listed.out.find('}', at) - object + 1), field);
  };
  CHECK(field_of(ids[0], "bytes") == (1 << 20) + 17 + (100 << 10));
  CHECK(field_of(ids[1], "bytes") == (1 << 20) + 17 + (100 << 10) + (300 << 10));
  CHECK(field_of(ids[0], "own_bytes") == 0);  // everything in it is in the second one too
  CHECK(field_of(ids[1], "own_bytes") == 300 << 10);
  CHECK(field_of(ids[2], "own_bytes") == 200 << 10);
  CHECK(field_of(ids[2], "entries") == 4);
  CHECK(listed.out.find("\"latest\":true,\"own_bytes\":" + std::to_string(200 << 10)) != std::string::npos);

  SUBCASE("ls shows an older snapshot's entries, path first, and downloads nothing else") {
    RunResult ls = run(ferry_over_ssh("ls --at " + ids[1], home) + " " + quote(remote(dest)));
    INFO(ls.err);
    REQUIRE(ls.code == 0);
    CHECK(ls.out.find("only-second.bin\tfile\t" + std::to_string(300 << 10) + "\t") != std::string::npos);
    CHECK(ls.out.find("docs/\tdirectory\t") != std::string::npos);
    CHECK(ls.out.find("only-third.bin") == std::string::npos);
    RunResult json = run(ferry_over_ssh("ls --json", home) + " " + quote(remote(dest + "/docs")));
    REQUIRE(json.code == 0);
    CHECK(json.out.find("\"path\":\"note.txt\"") != std::string::npos);
    CHECK(json.out.find("\"type\":\"file\"") != std::string::npos);
    CHECK(json_field(json.out, "size") == 17);
  }
  SUBCASE("a single file restores from an older snapshot, leaving the folder it lands in as it was") {
    std::string local = work / "local";
    fs::create_directories(local);
    std::ofstream(local + "/mine.txt") << "a file of the user's";
    ::chmod(local.c_str(), 0750);
    RunResult r = run(ferry_over_ssh("restore --at " + ids[1], home) + " " + quote(remote(dest + "/only-second.bin")) +
                      " " + quote(local));
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(slurp_file(local + "/only-second.bin") == slurp_file(dest + "/" + ids[1] + "/only-second.bin"));
    CHECK(slurp_file(local + "/mine.txt") == "a file of the user's");
    CHECK((lstat_of(local).st_mode & 07777) == 0750);
    CHECK_FALSE(fs::exists(local + "/shared.bin"));
  }
  SUBCASE("a restore over a newer local version keeps that version in the safety net") {
    std::string local = work / "local";
    REQUIRE(run(ferry_over_ssh("restore", home) + " " + quote(remote(dest)) + " " + quote(local)).code == 0);
    std::ofstream(local + "/docs/note.txt") << "edited after the backup";
    RunResult r = run(ferry_over_ssh("restore", home) + " " + quote(remote(dest)) + " " + quote(local));
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(slurp_file(local + "/docs/note.txt") == "in every snapshot");
    std::string kept;
    for (const auto& e : fs::directory_iterator(local + "/.ferry-safetynet")) kept = e.path().string();
    CHECK(slurp_file(kept + "/docs/note.txt") == "edited after the backup");
  }
  SUBCASE("forget --keep-last 2 leaves two; a dry run removes nothing and says what it would free") {
    RunResult dry = run(ferry_over_ssh("forget --keep-last 1 --dry-run --json", home) + " " + quote(remote(dest)));
    INFO(dry.err);
    REQUIRE(dry.code == 0);
    // The second's own file, and the one the first two share: every link of it would go.
    CHECK(json_field(dry.out, "freed_bytes") == (300 << 10) + (100 << 10));
    CHECK(snapshot_names(dest).size() == 3);

    RunResult forget = run(ferry_over_ssh("forget --keep-last 2", home) + " " + quote(remote(dest)));
    INFO(forget.err);
    REQUIRE(forget.code == 0);
    CHECK(forget.out.find("removed      " + ids[0]) != std::string::npos);
    CHECK(forget.out.find("kept         " + ids[2] + "  (last)") != std::string::npos);
    CHECK(snapshot_names(dest) == std::vector<std::string>{ids[1], ids[2]});
    CHECK(fs::read_symlink(dest + "/latest") == ids[2]);
    CHECK(compare(snapshot(src), snapshot(dest + "/" + ids[2])) == "");
    CHECK(fs::is_empty(dest + "/.ferry-state/tmp"));

    RunResult none = run(ferry_over_ssh("forget", home) + " " + quote(remote(dest)));
    CHECK(none.code == 2);
    CHECK(snapshot_names(dest).size() == 2);
  }
  SUBCASE("backup --snapshot --keep-last applies the rule after the run") {
    std::ofstream(src + "/docs/new.txt") << "fourth";
    RunResult r = run(ferry_over_ssh("backup --snapshot --keep-last 2", home) + " " + quote(src) + " " +
                      quote(remote(dest)));
    INFO(r.err);
    REQUIRE(r.code == 0);
    std::vector<std::string> left = snapshot_names(dest);
    REQUIRE(left.size() == 2);
    CHECK(left[0] == ids[2]);
    CHECK(compare(snapshot(src), snapshot(dest + "/" + left[1])) == "");
  }
}
