// Extended attributes and ACLs beyond what an Entry may carry (more than 256 attributes on a
// file, or more than 512 KiB together, which btrfs and XFS allow, values over 64 KiB, which a
// Mac's resource forks have, an ACL over 16 KiB as text) cost that file those attributes, named
// in a message, and not the run: the receiver ends a session on an Entry over the bounds, so the
// sender must never send one.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "e2e/e2e.h"
#include "support/mounted_disk.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

int count_user_xattrs(const std::string& path) {
  std::string names(1 << 20, '\0');
  ssize_t n = ::llistxattr(path.c_str(), names.data(), names.size());
  REQUIRE(n >= 0);
  int count = 0;
  for (size_t at = 0; at < static_cast<size_t>(n); at = names.find('\0', at) + 1) {
    if (names.compare(at, 5, "user.") == 0) ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("a file with more extended attributes than an entry carries is copied with those that fit") {
  if (!running_as_root()) return;  // mounting needs root
  TempDir work;
  std::string disk = work / "disk", src = disk + "/src", dest = disk + "/dest";
  // btrfs keeps any number of attributes a file, each up to about 16 KiB.
  MountedDisk mounted(disk, MountedDisk::image(work / "disk.img", 320, "mkfs.btrfs -q", disk, "noatime"));
  REQUIRE(mounted.mounted());
  fs::create_directories(src);
  for (const char* name : {"/many", "/large", "/plain"}) std::ofstream(src + name) << name;
  for (int i = 0; i < 300; ++i) {  // 44 more than the 256 an entry carries
    std::string name = "user.n" + std::to_string(1000 + i), value = "v" + std::to_string(i);
    REQUIRE(::setxattr((src + "/many").c_str(), name.c_str(), value.data(), value.size(), 0) == 0);
  }
  std::string value(15000, 'x');
  for (int i = 0; i < 40; ++i) {  // 600,320 bytes: 34 fit in 512 KiB
    std::string name = "user.l" + std::to_string(10 + i);
    REQUIRE(::setxattr((src + "/large").c_str(), name.c_str(), value.data(), value.size(), 0) == 0);
  }
  REQUIRE(::setxattr((src + "/plain").c_str(), "user.kept", "yes", 3, 0) == 0);

  RunResult b = run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest));
  INFO(b.err);
  CHECK(b.code == 3);  // some files not copied whole: said, not a failed run
  CHECK(b.err.find("protocol error") == std::string::npos);
  CHECK(b.err.find(src + "/many without 44 of its extended attributes (user.n1256, user.n1257, user.n1258, ...)") !=
        std::string::npos);
  CHECK(b.err.find(src + "/large without 6 of its extended attributes (user.l44, user.l45, user.l46, ...)") !=
        std::string::npos);
  CHECK(count_user_xattrs(dest + "/many") == 256);
  CHECK(count_user_xattrs(dest + "/large") == 34);
  CHECK(count_user_xattrs(dest + "/plain") == 1);
  CHECK(fs::file_size(dest + "/plain") == 6);
}

TEST_CASE("a file whose ACL is longer than an entry carries is copied without it, and no more open") {
  if (!running_as_root()) return;
  TempDir work;
  std::string disk = work / "disk", src = disk + "/src", dest = disk + "/dest";
  MountedDisk mounted(disk, MountedDisk::image(work / "disk.img", 320, "mkfs.btrfs -q", disk, "noatime"));
  REQUIRE(mounted.mounted());
  fs::create_directories(src);
  std::ofstream(src + "/shared") << "data";
  std::ofstream(src + "/plain") << "plain";
  ::chmod((src + "/shared").c_str(), 0640);
  // 1,500 named users with rw-: about 19 KiB as text; the mask becomes rw-, the group keeps r--.
  std::string spec;
  for (int i = 0; i < 1500; ++i) spec += (i > 0 ? "," : "") + std::string("u:") + std::to_string(100000 + i) + ":rw-";
  RunResult set = run("setfacl -m " + quote(spec) + " " + quote(src + "/shared"));
  INFO(set.err);
  REQUIRE(set.code == 0);
  struct stat st {};
  REQUIRE(::stat((src + "/shared").c_str(), &st) == 0);
  REQUIRE((st.st_mode & 07777) == 0660);  // the mask shows as the group's bits

  RunResult b = run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest));
  INFO(b.err);
  CHECK(b.code == 3);
  CHECK(b.err.find("protocol error") == std::string::npos);
  CHECK(b.err.find(src + "/shared without its ACL") != std::string::npos);
  REQUIRE(::stat((dest + "/shared").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);  // the group's own r--, not the mask's rw-
  CHECK(::getxattr((dest + "/shared").c_str(), "system.posix_acl_access", nullptr, 0) < 0);
  CHECK(fs::file_size(dest + "/plain") == 5);
}
