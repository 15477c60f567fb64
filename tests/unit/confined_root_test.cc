#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "fs/confined_root.h"
#include "platform/platform.h"
#include "support/temp_dir.h"

using namespace ferry;

TEST_CASE("a symlink in the destination cannot redirect a lookup out of the root") {
  test::TempDir outside, dest;
  std::filesystem::create_directories(dest / "real");
  REQUIRE(::symlink(outside.path().c_str(), (dest / "escape").c_str()) == 0);
  REQUIRE(::symlink("real", (dest / "inner").c_str()) == 0);
  ConfinedRoot root(UniqueFd(::open(dest.path().c_str(), O_RDONLY | O_DIRECTORY)), dest.path());

  CHECK(root.parent_dir("real/x") >= 0);
  errno = 0;
  CHECK(root.parent_dir("escape/x") < 0);
  CHECK((errno == ELOOP || errno == ENOTDIR));
  // Even a symlink that stays inside the root is not followed: the receiver replaces it.
  CHECK(root.parent_dir("inner/x") < 0);
  CHECK_FALSE(root.open("escape", O_RDONLY | O_DIRECTORY).valid());
  CHECK_FALSE(root.open("../" + std::filesystem::path(outside.path()).filename().string(), O_RDONLY).valid());
  UniqueFd created = root.open("escape/new", O_WRONLY | O_CREAT, 0600);
  CHECK_FALSE(created.valid());
  CHECK(std::filesystem::is_empty(outside.path()));
}

TEST_CASE("the component walk (kernels without openat2) refuses the same paths") {
  test::TempDir outside, dest;
  std::filesystem::create_directories(dest / "a/b");
  REQUIRE(::symlink(outside.path().c_str(), (dest / "a/link").c_str()) == 0);
  UniqueFd root(::open(dest.path().c_str(), O_RDONLY | O_DIRECTORY));
  UniqueFd ok(platform::open_beneath_by_walk(root.get(), "a/b", O_RDONLY | O_DIRECTORY));
  CHECK(ok.valid());
  CHECK(platform::open_beneath_by_walk(root.get(), "a/link/x", O_WRONLY | O_CREAT, 0600) < 0);
  CHECK(platform::open_beneath_by_walk(root.get(), "a/link", O_RDONLY) < 0);
  CHECK(platform::open_beneath_by_walk(root.get(), "a/../../x", O_WRONLY | O_CREAT, 0600) < 0);
  CHECK(std::filesystem::is_empty(outside.path()));
}

TEST_CASE("removing a tree never follows a symlink inside it") {
  test::TempDir outside, dest;
  {
    UniqueFd keep(::open((outside / "precious").c_str(), O_WRONLY | O_CREAT, 0600));
  }
  std::filesystem::create_directories(dest / "victim/sub");
  REQUIRE(::symlink(outside.path().c_str(), (dest / "victim/sub/link").c_str()) == 0);
  UniqueFd root(::open(dest.path().c_str(), O_RDONLY | O_DIRECTORY));
  CHECK(remove_tree_at(root.get(), "victim") == 0);
  CHECK_FALSE(std::filesystem::exists(dest / "victim"));
  CHECK(std::filesystem::exists(outside / "precious"));
}
