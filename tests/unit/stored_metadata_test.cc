// The stored-metadata attribute: its text, what decode refuses, and when a receiver stores it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "fs/metadata.h"
#include "fs/stored_metadata.h"
#include "fs/symlink_owners.h"
#include "fs/unique_fd.h"
#include "support/temp_dir.h"

using namespace ferry;

namespace {

// The fields every case sets; ACLs and flags stay empty.
StoredMetadata metadata(FileType type, uint32_t mode, uint32_t uid, uint32_t gid, uint32_t dev_major,
                        uint32_t dev_minor) {
  StoredMetadata s;
  s.type = type;
  s.mode = mode;
  s.uid = uid;
  s.gid = gid;
  s.dev_major = dev_major;
  s.dev_minor = dev_minor;
  return s;
}

}  // namespace

TEST_CASE("stored metadata round-trips through its text form") {
  StoredMetadata s = metadata(FileType::kBlockDevice, 04660, 501, 20, 259, 1048575);
  std::string text = encode_stored_metadata(s);
  CHECK(text == "1 b 4660 501 20 259 1048575");
  CHECK(decode_stored_metadata(text) == s);
  StoredMetadata plain = metadata(FileType::kRegular, 0, 4294967295u, 0, 0, 0);
  CHECK(decode_stored_metadata(encode_stored_metadata(plain)) == plain);
  StoredMetadata dir{FileType::kDirectory, 0755, 0, 0, 0, 0, "u:1001:rwx,g::r-x", "u::rwx,g::r-x,o::r-x"};
  CHECK(encode_stored_metadata(dir) == "1 d 755 0 0 0 0 a=u:1001:rwx,g::r-x d=u::rwx,g::r-x,o::r-x");
  CHECK(decode_stored_metadata(encode_stored_metadata(dir)) == dir);
  StoredMetadata locked{FileType::kRegular, 0644, 0, 0, 0, 0, "", "", file_flags::kImmutable | file_flags::kNoDump};
  CHECK(encode_stored_metadata(locked) == "1 f 644 0 0 0 0 f=5");
  CHECK(decode_stored_metadata("1 f 644 0 0 0 0 f=5") == locked);
}

TEST_CASE("a malformed or foreign attribute is refused, never half-read") {
  for (const char* bad : {"", "1", "2 f 644 0 0 0 0", "1 x 644 0 0 0 0", "1 f 644 0 0 0", "1 f 644 0 0 0 0 0",
                          "1 f 10000 0 0 0 0", "1 f 648 0 0 0 0", "1 f 644 -1 0 0 0", "1 f 644 4294967296 0 0 0",
                          "1 f 644 0 0 1 3", "1  f 644 0 0 0 0", "1 f 644 0 0 0 0 ", "1 ff 644 0 0 0 0",
                          "1 f 0x1 0 0 0 0", "1 f 644 0 0 0 0 a=", "1 f 644 0 0 0 0 d=u::rwx",
                          "1 l 777 0 0 0 0 a=u:1:r--", "1 d 755 0 0 0 0 d=u::rwx a=u:1:r--",
                          "1 f 644 0 0 0 0 a=u:1:r-- a=u:2:r--", "1 f 644 0 0 0 0 a=user:root:r--",
                          "1 f 644 0 0 0 0 f=0", "1 f 644 0 0 0 0 f=64", "1 p 644 0 0 0 0 f=1",
                          "1 f 644 0 0 0 0 f=1 a=u:1:r--"}) {
    INFO("value: \"" << bad << "\"");
    CHECK_FALSE(decode_stored_metadata(bad).has_value());
  }
  CHECK_FALSE(decode_stored_metadata(std::string(kMaxStoredMetadataBytes + 1, '1')).has_value());
}

TEST_CASE("overlaying gives back the entry as sent, a special file without a size") {
  FileEntry on_disk;
  on_disk.type = FileType::kRegular;
  on_disk.mode = 0644;
  on_disk.uid = 65534;
  on_disk.size = 0;
  on_disk.hardlink_of = 3;
  overlay_stored_metadata(metadata(FileType::kCharDevice, 0666, 0, 5, 1, 3), &on_disk);
  CHECK(on_disk.type == FileType::kCharDevice);
  CHECK(on_disk.mode == 0666);
  CHECK(on_disk.uid == 0);
  CHECK(on_disk.gid == 5);
  CHECK(on_disk.dev_major == 1);
  CHECK(on_disk.dev_minor == 3);
  CHECK(on_disk.hardlink_of == 0);
  // An attribute that names another kind of object than the one on disk is ignored.
  FileEntry dir;
  dir.type = FileType::kDirectory;
  dir.mode = 0755;
  overlay_stored_metadata(metadata(FileType::kRegular, 04755, 0, 0, 0, 0), &dir);
  CHECK(dir.mode == 0755);
}

TEST_CASE("a storing receiver stores only what the file itself cannot say") {
  ApplyOptions options;
  options.store_metadata = true;
  options.own_uid = 1000;
  options.own_gid = 1000;
  FileEntry e;
  e.type = FileType::kRegular;
  e.mode = 0644;
  e.uid = 1000;
  e.gid = 1000;
  CHECK(stored_value_for(e, options) == "");
  e.uid = 0;
  CHECK(stored_value_for(e, options) == "1 f 644 0 1000 0 0");
  e.uid = 1000;
  e.mode = 04755;
  CHECK(mode_to_apply(e, options) == 0755);
  CHECK(stored_value_for(e, options) == "1 f 4755 1000 1000 0 0");
  e.mode = 0400;  // the agent must still read it back for a restore
  CHECK(mode_to_apply(e, options) == 0600);
  CHECK(stored_value_for(e, options) == "1 f 400 1000 1000 0 0");
  e.mode = 0644;
  e.type = FileType::kFifo;
  CHECK(stored_value_for(e, options) == "1 p 644 1000 1000 0 0");
  e.type = FileType::kSymlink;  // Linux gives symlinks no user attributes
  e.uid = 0;
  CHECK(stored_value_for(e, options) == "");
  // An ACL is stored only where the destination cannot keep it itself.
  e.type = FileType::kRegular;
  e.uid = 1000;
  e.acl = "u:0:r--,g::r--";
  CHECK(stored_value_for(e, options) == "");
  options.keeps_acls = false;
  CHECK(stored_value_for(e, options) == "1 f 644 1000 1000 0 0 a=u:0:r--,g::r--");
  // File flags are all stored, none set on the file.
  e.acl.clear();
  e.flags = file_flags::kImmutable;
  CHECK(stored_value_for(e, options) == "1 f 644 1000 1000 0 0 f=1");
  CHECK(flags_to_apply(e, options) == 0);
  options.store_metadata = false;
  CHECK(stored_value_for(e, options) == "");
  CHECK(flags_to_apply(e, options) == 0);  // not root: the immutable flag needs root
  options.keep_owner = true;
  CHECK(flags_to_apply(e, options) == file_flags::kImmutable);
}

TEST_CASE("symlink owners are written only when they change, and a damaged list is read up to the damage") {
  test::TempDir dir;
  ::mkdir((dir / ".ferry-state").c_str(), 0700);
  UniqueFd root(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  UniqueFd state(::open((dir / ".ferry-state").c_str(), O_RDONLY | O_DIRECTORY));
  std::string records;
  append_symlink_owner(&records, "a/link", 0, 5);
  append_symlink_owner(&records, "name with spaces", 501, 20);
  REQUIRE(write_symlink_owners(state.get(), records) == "");
  std::string problem;
  SymlinkOwners owners = read_symlink_owners(root.get(), &problem);
  CHECK(problem == "");
  CHECK(owners.size() == 2);
  CHECK(owners["a/link"] == std::pair<uint32_t, uint32_t>{0, 5});
  CHECK(owners["name with spaces"] == std::pair<uint32_t, uint32_t>{501, 20});

  struct stat before {}, after {};
  REQUIRE(::stat((dir / ".ferry-state/symlink-owners").c_str(), &before) == 0);
  REQUIRE(write_symlink_owners(state.get(), records) == "");  // unchanged: not rewritten
  REQUIRE(::stat((dir / ".ferry-state/symlink-owners").c_str(), &after) == 0);
  CHECK(before.st_ino == after.st_ino);

  std::ofstream(dir / ".ferry-state/symlink-owners", std::ios::app) << "x 1 broken";
  SymlinkOwners partial = read_symlink_owners(root.get(), &problem);
  CHECK(partial.size() == 2);
  CHECK(problem.find("damaged after 2 records") != std::string::npos);

  REQUIRE(write_symlink_owners(state.get(), "") == "");  // none left: the file goes
  CHECK(::access((dir / ".ferry-state/symlink-owners").c_str(), F_OK) != 0);
}
