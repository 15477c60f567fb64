#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "fs/metadata.h"
#include "platform/platform.h"
#include "fs/tree_walker.h"
#include "fs/unique_fd.h"
#include "support/temp_dir.h"

using namespace ferry;

TEST_CASE("metadata applied by fd is what stat and getxattr report, and what capture reads back") {
  test::TempDir dir;
  std::string path = dir / "f";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
  REQUIRE(fd.valid());
  FileEntry entry;
  entry.path = "f";
  entry.type = FileType::kRegular;
  entry.mode = 04751;  // setuid survives because chown comes first
  entry.uid = ::geteuid() == 0 ? 501 : ::geteuid();
  entry.gid = ::geteuid() == 0 ? 20 : ::getegid();
  entry.mtime_sec = 1234567890;
  entry.mtime_nsec = 123456789;
  entry.xattrs = {{"user.color", "blue"}, {"user.empty", ""}};
  ::fsetxattr(fd.get(), "user.stale", "x", 1, 0);  // not in the entry: must go

  CHECK(apply_metadata_fd(fd.get(), entry, ApplyOptions{::geteuid() == 0}) == "");
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 04751);
  CHECK(st.st_uid == entry.uid);
  CHECK(st.st_gid == entry.gid);
  CHECK(st.st_mtim.tv_sec == 1234567890);
  CHECK(st.st_mtim.tv_nsec == 123456789);
  char value[16] = {};
  CHECK(::getxattr(path.c_str(), "user.color", value, sizeof(value)) == 4);
  CHECK(std::string(value) == "blue");
  CHECK(::getxattr(path.c_str(), "user.stale", value, sizeof(value)) < 0);
  CHECK(stat_matches(st, "", entry, ApplyOptions{::geteuid() == 0}));

  FileEntry captured;
  captured.path = "f";
  REQUIRE(entry_from_stat(st, &captured));
  UniqueFd dfd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  REQUIRE(platform::list_xattrs_at(dfd.get(), "f", &captured.xattrs));
  CHECK(captured == entry);
}

TEST_CASE("symlink metadata is set on the link, never on its target") {
  test::TempDir dir;
  std::string target = dir / "target";
  UniqueFd t(::open(target.c_str(), O_WRONLY | O_CREAT, 0644));
  REQUIRE(::symlink("target", (dir / "link").c_str()) == 0);
  struct stat before {};
  REQUIRE(::stat(target.c_str(), &before) == 0);

  FileEntry entry;
  entry.type = FileType::kSymlink;
  entry.uid = ::geteuid() == 0 ? 65534 : ::geteuid();
  entry.gid = ::geteuid() == 0 ? 65534 : ::getegid();
  entry.mtime_sec = 1000000000;
  entry.mtime_nsec = 7;
  UniqueFd dfd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  CHECK(apply_metadata_at(dfd.get(), "link", entry, ApplyOptions{::geteuid() == 0}) == "");
  struct stat link {}, after {};
  REQUIRE(::lstat((dir / "link").c_str(), &link) == 0);
  REQUIRE(::stat(target.c_str(), &after) == 0);
  CHECK(link.st_mtim.tv_sec == 1000000000);
  CHECK(link.st_mtim.tv_nsec == 7);
  CHECK(link.st_uid == entry.uid);
  CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(after.st_uid == before.st_uid);
}
