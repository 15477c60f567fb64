// The first names of hard-linked inodes (engine/leader_paths.h): every name is found again by
// its index, in list order or not, from the open block, from the file, or from memory when no
// file can be made; an index never added is not found.
#include <doctest/doctest.h>
#include <fcntl.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/leader_paths.h"
#include "fs/unique_fd.h"
#include "support/scoped_env.h"
#include "support/temp_dir.h"

using namespace ferry;

namespace {

std::string path_of(uint64_t index) {
  return "snapshots/" + std::to_string(index % 97) + "/file " + std::to_string(index) + std::string(index % 40, 'x');
}

}  // namespace

TEST_CASE("leader paths are found by index, in list order and at random, from every block") {
  test::TempDir tmp;
  UniqueFd dir(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  for (size_t block : {size_t{1}, size_t{3}, size_t{256}, size_t{100000}}) {
    CAPTURE(block);
    LeaderPaths leaders(block, dir.get());
    std::vector<uint64_t> added;
    for (uint64_t i = 5; i < 5000; i += 1 + i % 7) {  // gaps: not every entry is a leader
      leaders.add(i, path_of(i));
      added.push_back(i);
    }
    CHECK(leaders.size() == added.size());
    CHECK(leaders.spilled_blocks() == added.size() / block);
    for (uint64_t i : added) CHECK(leaders.find(i) == path_of(i));
    std::vector<uint64_t> shuffled = added;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(42));
    for (uint64_t i : shuffled) CHECK(leaders.find(i) == path_of(i));
    // Indices never added: before the first, in the gaps, past the last.
    CHECK_FALSE(leaders.find(0).has_value());
    CHECK_FALSE(leaders.find(4).has_value());
    CHECK_FALSE(leaders.find(7).has_value());  // 5 is added, then 5 + 1 + 5 % 7 = 11
    CHECK_FALSE(leaders.find(1000000).has_value());
  }
}

TEST_CASE("leader paths stay in memory when no temporary file can be made") {
  test::ScopedEnv env("TMPDIR", "/nonexistent/ferry-no-such-dir");
  LeaderPaths leaders(4);
  for (uint64_t i = 1; i <= 50; ++i) leaders.add(i * 2, path_of(i * 2));
  CHECK(leaders.spilled_blocks() == 0);
  for (uint64_t i = 50; i >= 1; --i) CHECK(leaders.find(i * 2) == path_of(i * 2));
  CHECK_FALSE(leaders.find(3).has_value());
}

TEST_CASE("leader paths refuse an index that is not above the last one") {
  LeaderPaths leaders(8);
  leaders.add(10, "a");
  CHECK_THROWS_AS(leaders.add(10, "b"), std::logic_error);
  CHECK_THROWS_AS(leaders.add(9, "b"), std::logic_error);
  CHECK(leaders.find(10) == "a");
}
