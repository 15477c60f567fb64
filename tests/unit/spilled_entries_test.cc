// The lists kept for the end of a run (engine/spilled_entries.h): every entry comes back, newest
// first, whole, whether it stayed in memory or went through the temporary file, at every visit.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/spilled_entries.h"
#include "fs/unique_fd.h"
#include "support/scoped_env.h"
#include "support/temp_dir.h"

using namespace ferry;

namespace {

FileEntry directory(int i) {
  FileEntry e;
  e.path = "top/" + std::to_string(i / 10) + "/folder " + std::to_string(i);
  e.type = FileType::kDirectory;
  e.mode = 0700 | static_cast<uint32_t>(i % 8);
  e.uid = 1000 + static_cast<uint32_t>(i);
  e.gid = 2000 + static_cast<uint32_t>(i % 3);
  e.mtime_sec = 1700000000 + i;
  e.mtime_nsec = static_cast<uint32_t>(i * 7);
  if (i % 4 == 0) e.xattrs.push_back({"user.note", "value " + std::to_string(i)});
  if (i % 5 == 0) e.default_acl = "u::rwx,g::r-x,o::---";
  return e;
}

std::vector<FileEntry> visited(SpilledEntries& dirs) {
  std::vector<FileEntry> out;
  dirs.visit_newest_first([&](const FileEntry& e) { out.push_back(e); });
  return out;
}

}  // namespace

TEST_CASE("spilled entries come back newest first, in memory and through the file alike, at every visit") {
  test::TempDir tmp;
  UniqueFd dir(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  for (size_t batch : {size_t{1000}, size_t{7}, size_t{1}}) {
    CAPTURE(batch);
    SpilledEntries dirs(batch, dir.get());
    constexpr int kCount = 100;
    for (int i = 0; i < kCount; ++i) dirs.add(directory(i));
    CHECK(dirs.size() == kCount);
    CHECK(dirs.spilled_batches() == (batch >= kCount ? 0 : kCount / batch));
    std::vector<FileEntry> back = visited(dirs);
    REQUIRE(back.size() == kCount);
    for (int i = 0; i < kCount; ++i) CHECK(back[static_cast<size_t>(i)] == directory(kCount - 1 - i));
    CHECK(visited(dirs) == back);
  }
}

TEST_CASE("spilled entries go to the folder given, else to $TMPDIR, else stay in memory") {
  test::TempDir given, tmpdir;
  UniqueFd given_fd(::open(given.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd not_a_folder(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  {
    test::ScopedEnv env("TMPDIR", "/nonexistent/ferry-directory");
    SpilledEntries dirs(3, given_fd.get());
    for (int i = 0; i < 10; ++i) dirs.add(directory(i));
    CHECK(dirs.spilled_batches() == 3);  // in the folder given, $TMPDIR being unusable
    CHECK(std::filesystem::is_empty(given.path()));  // and unlinked at once
    CHECK(visited(dirs).size() == 10);
  }
  {
    test::ScopedEnv env("TMPDIR", tmpdir.path());
    SpilledEntries dirs(3, not_a_folder.get());
    for (int i = 0; i < 10; ++i) dirs.add(directory(i));
    CHECK(dirs.spilled_batches() == 3);  // the folder refused: $TMPDIR
    CHECK(std::filesystem::is_empty(tmpdir.path()));
  }
  test::ScopedEnv env("TMPDIR", "/nonexistent/ferry-directory");
  SpilledEntries dirs(3, not_a_folder.get());
  for (int i = 0; i < 10; ++i) dirs.add(directory(i));
  CHECK(dirs.spilled_batches() == 0);
  std::vector<FileEntry> back = visited(dirs);
  REQUIRE(back.size() == 10);
  CHECK(back.front() == directory(9));
  CHECK(back.back() == directory(0));
}
