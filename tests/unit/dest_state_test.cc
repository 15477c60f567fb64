// DEST/.ferry-state: one run at a time, the marker that says whether the last run finished, and
// what a new run keeps of a dead run's tmp/ (partials to resume from) and what it removes.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "base/error.h"
#include "fs/dest_state.h"
#include "support/temp_dir.h"

using namespace ferry;
using ferry::test::TempDir;
namespace fs = std::filesystem;

namespace {

void write_size(const std::string& path, size_t size) { std::ofstream(path, std::ios::binary) << std::string(size, 'x'); }

struct Root {
  TempDir dir;
  int fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ~Root() { ::close(fd); }
  std::string tmp(const std::string& name) const { return dir / (".ferry-state/tmp/" + name); }
};

}  // namespace

TEST_CASE("one run at a time; the marker tells the next run whether the last one finished") {
  Root root;
  {
    DestinationState first(root.fd, root.dir.path(), "");
    CHECK(first.unfinished_previous_run().empty());
    std::string refusal = "another Ferry run is writing to " + root.dir.path() + " right now (pid " +
                          std::to_string(::getpid());
    CHECK_THROWS_WITH_AS(DestinationState(root.fd, root.dir.path(), ""), doctest::Contains(refusal.c_str()),
                         FatalError);
    // Gone without finishing: as a killed run.
  }
  {
    DestinationState second(root.fd, root.dir.path(), "");
    CHECK(second.unfinished_previous_run().find("state=running host=") == 0);
    second.mark_finished(3, 0, true);
  }
  DestinationState third(root.fd, root.dir.path(), "");
  CHECK(third.unfinished_previous_run().empty());
}

TEST_CASE("a dead run's tmp/: large files are kept to resume from, the rest removed") {
  Root root;
  { DestinationState make(root.fd, root.dir.path(), ""); }
  write_size(root.tmp("0123456789abcdef"), 2 << 20);        // a cut-off large file
  write_size(root.tmp("fedcba9876543210"), 100);            // small: cheaper to send again
  write_size(root.tmp("not-ours.txt"), 2 << 20);            // not a name Ferry makes
  write_size(root.tmp("aaaaaaaaaaaaaaaa"), 1536 << 10);     // a resume that was cut off early...
  write_size(root.tmp("aaaaaaaaaaaaaaaa.basis"), 3 << 20);  // ...keeps the longer attempt
  write_size(root.tmp("bbbbbbbbbbbbbbbb"), 3 << 20);        // a resume that got further...
  write_size(root.tmp("bbbbbbbbbbbbbbbb.basis"), 2 << 20);  // ...drops its basis

  DestinationState state(root.fd, root.dir.path(), "");
  std::set<std::string> expected{"0123456789abcdef", "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"};
  CHECK(state.partials() == expected);
  std::map<std::string, uintmax_t> left;  // what is on disk, with the size of each attempt kept
  for (const auto& e : fs::directory_iterator(root.dir / ".ferry-state/tmp")) left[e.path().filename()] = e.file_size();
  CHECK(left == std::map<std::string, uintmax_t>{
                    {"0123456789abcdef", 2 << 20}, {"aaaaaaaaaaaaaaaa", 3 << 20}, {"bbbbbbbbbbbbbbbb", 3 << 20}});

  state.mark_finished(0, 0, false);  // a finished run leaves nothing behind
  CHECK(fs::is_empty(root.dir / ".ferry-state/tmp"));
}

TEST_CASE("a .ferry-state that is not a directory Ferry made is refused, not followed") {
  Root root;
  TempDir elsewhere;
  fs::create_directory_symlink(elsewhere.path(), root.dir / ".ferry-state");
  CHECK_THROWS_WITH_AS(DestinationState(root.fd, root.dir.path(), ""),
                       doctest::Contains("is not a directory Ferry made"), FatalError);
  CHECK(fs::is_empty(elsewhere.path()));
}

TEST_CASE("temporary names are fixed per path and look like nothing a user would name") {
  CHECK(temp_name_for("a/b") == temp_name_for("a/b"));
  CHECK(temp_name_for("a/b") != temp_name_for("a/c"));
  CHECK(temp_name_for("a/b").size() == 16);
  CHECK(is_reserved_top_name(".ferry-state"));
  CHECK(is_reserved_top_name(".ferry-safetynet"));
  CHECK_FALSE(is_reserved_top_name("docs/.ferry-state"));
}
