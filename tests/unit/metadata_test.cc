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

namespace {

// Options that keep owners or not, every other field at its default.
ApplyOptions keeping_owners(bool keep) {
  ApplyOptions options;
  options.keep_owner = keep;
  return options;
}

}  // namespace

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

  CHECK(apply_metadata_fd(fd.get(), entry, keeping_owners(::geteuid() == 0)) == "");
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
  CHECK(stat_matches(st, "", entry, keeping_owners(::geteuid() == 0)));

  FileEntry captured;
  captured.path = "f";
  REQUIRE(entry_from_stat(st, &captured));
  UniqueFd dfd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  REQUIRE(platform::read_attributes_at(dfd.get(), "f", &captured));
  CHECK(captured == entry);
}

TEST_CASE("ACLs are applied around the mode and read back in the same text") {
  test::TempDir dir;
  UniqueFd dfd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  ::mkdirat(dfd.get(), "d", 0700);
  UniqueFd d(::openat(dfd.get(), "d", O_RDONLY | O_DIRECTORY));
  UniqueFd f(::openat(d.get(), "f", O_RDWR | O_CREAT | O_EXCL, 0600));
  REQUIRE(d.valid());
  REQUIRE(f.valid());
  if (!probe_acls(dfd.get(), "probe")) return;  // a file system without ACLs: nothing to test
  FileEntry file;
  file.type = FileType::kRegular;
  file.mode = 0640;
  file.uid = ::geteuid();
  file.gid = ::getegid();
  file.acl = "u:1001:rw-,g::r--,g:50:r--";
  FileEntry folder;
  folder.type = FileType::kDirectory;
  folder.mode = 0750;
  folder.uid = file.uid;
  folder.gid = file.gid;
  folder.default_acl = "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::---";
  ApplyOptions options = keeping_owners(::geteuid() == 0);
  CHECK(apply_metadata_fd(f.get(), file, options) == "");
  CHECK(apply_metadata_fd(d.get(), folder, options) == "");

  FileEntry back;
  REQUIRE(platform::read_attributes_at(d.get(), "f", &back));
  CHECK(back.acl == file.acl);
  CHECK(back.default_acl == "");
  struct stat st {};
  REQUIRE(::fstat(f.get(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);  // the mask is the mode's group bits
  REQUIRE(platform::read_attributes_at(dfd.get(), "d", &back));
  CHECK(back.acl == "");
  CHECK(back.default_acl == folder.default_acl);

  // Taken away again when the entry has none.
  file.acl.clear();
  folder.default_acl.clear();
  CHECK(apply_metadata_fd(f.get(), file, options) == "");
  CHECK(apply_metadata_fd(d.get(), folder, options) == "");
  REQUIRE(platform::read_attributes_at(d.get(), "f", &back));
  CHECK(back.acl == "");
  REQUIRE(platform::read_attributes_at(dfd.get(), "d", &back));
  CHECK(back.default_acl == "");
  char raw[256];
  CHECK(::fgetxattr(f.get(), "system.posix_acl_access", raw, sizeof raw) < 0);

  // A text libacl refuses is an error for that file, never a crash or a half-set ACL.
  file.acl = "u:1001:rw-,u:1001:r--";
  CHECK(apply_metadata_fd(f.get(), file, options).find("set ACL") != std::string::npos);
}

TEST_CASE("protecting flags are set last and cleared to change the file again") {
  if (::geteuid() != 0) return;  // the immutable flag needs root
  test::TempDir dir;
  UniqueFd dfd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  UniqueFd f(::openat(dfd.get(), "f", O_RDWR | O_CREAT | O_EXCL, 0600));
  REQUIRE(f.valid());
  FileEntry entry;
  entry.path = "f";
  entry.type = FileType::kRegular;
  entry.mode = 0644;
  entry.flags = file_flags::kImmutable | file_flags::kNoDump;
  ApplyOptions root = keeping_owners(true);
  CHECK(apply_metadata_fd(f.get(), entry, root) == "");
  CHECK(platform::file_flags_fd(f.get()) == file_flags::kNoDump);  // immutable waits for protect_fd
  CHECK(protect_fd(f.get(), entry, root) == "");
  if (platform::file_flags_fd(f.get()) != entry.flags) return;  // a file system without flags
  struct stat st {};
  uint32_t flags = 0;
  REQUIRE(platform::stat_at(dfd.get(), "f", &st, &flags) == 0);
  CHECK(flags == entry.flags);
  CHECK(::renameat(dfd.get(), "f", dfd.get(), "g") != 0);  // it really is immutable

  // A change of mode on an immutable file: cleared, changed, and immutable again only by protect_fd.
  entry.mode = 0600;
  CHECK(apply_metadata_fd(f.get(), entry, root) == "");
  REQUIRE(::fstat(f.get(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(unprotect_at(dfd.get(), "f") == false);  // nothing left to clear
  CHECK(protect_fd(f.get(), entry, root) == "");
  CHECK(unprotect_at(dfd.get(), "f"));
  CHECK(platform::file_flags_fd(f.get()) == file_flags::kNoDump);
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
  CHECK(apply_metadata_at(dfd.get(), "link", entry, keeping_owners(::geteuid() == 0)) == "");
  struct stat link {}, after {};
  REQUIRE(::lstat((dir / "link").c_str(), &link) == 0);
  REQUIRE(::stat(target.c_str(), &after) == 0);
  CHECK(link.st_mtim.tv_sec == 1000000000);
  CHECK(link.st_mtim.tv_nsec == 7);
  CHECK(link.st_uid == entry.uid);
  CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(after.st_uid == before.st_uid);
}
