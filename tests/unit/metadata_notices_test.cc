// What the destination cannot keep is said once a run, naming the first entry that meets it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <fcntl.h>

#include <vector>

#include "support/temp_dir.h"

#include "engine/metadata_notices.h"

using namespace ferry;

namespace {

class Collect : public Reporter {
 public:
  void report(wire::MessageLevel, const std::string& text) override { said.push_back(text); }
  void from_peer(wire::MessageLevel, const std::string&) override {}
  std::vector<std::string> said;
};

FileEntry file(uint32_t mode, int64_t mtime_sec) {
  FileEntry e;
  e.type = FileType::kRegular;
  e.mode = mode;
  e.uid = ::geteuid();
  e.gid = ::getegid();
  e.mtime_sec = mtime_sec;
  return e;
}

}  // namespace

TEST_CASE("each limit of the destination is said once, for the first entry that meets it") {
  Collect reporter;
  ApplyOptions apply;  // not root: owners and setuid are not kept
  apply.times.earliest_sec = -2147483648;
  apply.times.latest_sec = 2147483647;
  MetadataNotices notices(reporter, "ferry-agent", apply, /*restoring=*/false);
  notices.look_at(file(0644, 0), "/d/plain");
  CHECK(reporter.said.empty());
  notices.look_at(file(04755, 0), "/d/tool");
  notices.look_at(file(02755, 0), "/d/other-tool");
  REQUIRE(reporter.said.size() == 1);
  CHECK(reporter.said[0].find("setuid and setgid bits are not kept (/d/tool is the first") != std::string::npos);
  notices.look_at(file(0644, 4102444800), "/d/future");
  notices.look_at(file(0644, -5364662400), "/d/ancient");
  REQUIRE(reporter.said.size() == 2);
  CHECK(reporter.said[1] == "/d/future has a modification time (2100-01-01T00:00:00Z) that this file system cannot "
                            "store; it keeps the nearest it can (2038-01-19T03:14:07Z), and so may other files of "
                            "this run");
  FileEntry foreign = file(0644, 0);
  foreign.uid = ::geteuid() + 1;
  notices.look_at(foreign, "/d/theirs");
  notices.look_at(foreign, "/d/theirs-too");
  REQUIRE(reporter.said.size() == 3);
  CHECK(reporter.said[2].find("file owners and groups are not preserved") != std::string::npos);
}

TEST_CASE("a receiver that keeps owners says nothing of owners or setuid bits") {
  Collect reporter;
  ApplyOptions apply;
  apply.keep_owner = true;
  MetadataNotices notices(reporter, "ferry-agent", apply, /*restoring=*/false);
  FileEntry e = file(04755, 0);
  e.uid = ::geteuid() + 1;
  notices.look_at(e, "/d/tool");
  CHECK(reporter.said.empty());
}

TEST_CASE("a not-root notice is said once per destination, not every run; a restore says what it does instead") {
  ferry::test::TempDir state;
  int state_dir = ::open(state.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(state_dir >= 0);
  ApplyOptions apply;  // not root, nothing stored
  FileEntry theirs = file(0644, 0);
  theirs.uid = ::geteuid() + 1;
  for (int run = 0; run < 2; ++run) {
    Collect reporter;
    MetadataNotices notices(reporter, "ferry-agent", apply, /*restoring=*/false);
    notices.remember_in(state_dir);
    notices.look_at(theirs, "/d/theirs");
    CHECK(reporter.said.size() == (run == 0 ? 1u : 0u));  // the second run into it is quiet
  }
  ::close(state_dir);

  Collect reporter;
  MetadataNotices restoring(reporter, "ferry", apply, /*restoring=*/true);
  restoring.look_at(theirs, "/home/ann/theirs");
  REQUIRE(reporter.said.size() == 1);
  CHECK(reporter.said[0].find("restoring as uid") == 0);
  CHECK(reporter.said[0].find("are restored owned by you") != std::string::npos);
  Collect own;
  MetadataNotices own_files(own, "ferry", apply, /*restoring=*/true);
  own_files.look_at(file(0644, 0), "/home/ann/mine");  // one's own files need no root
  CHECK(own.said.empty());
}
