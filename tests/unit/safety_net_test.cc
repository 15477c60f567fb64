// The safety net's folders: their names are times (that is how pruning finds the oldest), and
// what is kept there keeps its inode.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fs/safety_net.h"
#include "support/temp_dir.h"

using namespace ferry;
using ferry::test::TempDir;
namespace fs = std::filesystem;

TEST_CASE("folder names are UTC times that parse back; anything else is not a folder of ours") {
  CHECK(safety_net_folder_name(0) == "1970-01-01T00-00-00Z");
  CHECK(safety_net_folder_name(1796165168) == "2026-12-01T22-46-08Z");
  int64_t t = 0;
  REQUIRE(parse_safety_net_folder_name("2026-12-01T22-46-08Z", &t));
  CHECK(t == 1796165168);
  REQUIRE(parse_safety_net_folder_name("2026-12-01T22-46-08Z-2", &t));  // a second run in that second
  CHECK(t == 1796165168);
  CHECK_FALSE(parse_safety_net_folder_name("my notes", &t));
  CHECK_FALSE(parse_safety_net_folder_name("2026-12-01T22-46-08Zx", &t));
  CHECK_FALSE(parse_safety_net_folder_name("2026-12-01T22-46-08Z-", &t));
}

TEST_CASE("kept entries keep their inode; two runs in one second get two folders; pruning spares this run") {
  TempDir dest;
  int root = ::open(dest.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(root >= 0);
  fs::create_directories(dest / "a/b");
  std::ofstream(dest / "a/b/replaced") << "old";
  std::ofstream(dest / "a/deleted") << "gone";
  struct stat before {};
  REQUIRE(::stat((dest / "a/b/replaced").c_str(), &before) == 0);
  int64_t now = 1796165168;

  SafetyNet first(root, dest.path(), now);
  int dir_b = ::open((dest / "a/b").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int dir_a = ::open((dest / "a").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  CHECK(first.keep_linked(dir_b, "replaced", "a/b/replaced") == "");
  CHECK(first.keep_moved(dir_a, "deleted", "a/deleted") == "");
  CHECK(first.kept() == 2);
  std::string folder = dest / ".ferry-safetynet/2026-12-01T22-46-08Z";
  struct stat kept {};
  REQUIRE(::stat((folder + "/a/b/replaced").c_str(), &kept) == 0);
  CHECK(kept.st_ino == before.st_ino);
  CHECK(fs::exists(dest / "a/b/replaced"));  // linked: the rename that replaces it comes next
  CHECK_FALSE(fs::exists(dest / "a/deleted"));
  CHECK(fs::exists(folder + "/a/deleted"));

  std::ofstream(dest / "a/deleted") << "gone again";
  SafetyNet second(root, dest.path(), now);
  CHECK(second.keep_moved(dir_a, "deleted", "a/deleted") == "");
  CHECK(fs::exists(folder + "-2/a/deleted"));
  std::string problem;
  CHECK(second.prune(1, 0, &problem) == 0);  // the older folder is not older than a second
  SafetyNet later(root, dest.path(), now + 3600);
  std::ofstream(dest / "a/deleted") << "and again";
  CHECK(later.keep_moved(dir_a, "deleted", "a/deleted") == "");
  CHECK(later.prune(60, 0, &problem) == 2);  // both of the earlier second, never this run's
  CHECK(problem.empty());
  CHECK(fs::exists(dest / ".ferry-safetynet/2026-12-01T23-46-08Z/a/deleted"));
  ::close(dir_a);
  ::close(dir_b);
  ::close(root);
}
