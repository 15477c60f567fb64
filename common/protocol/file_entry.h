// One entry of a file list: what the sender saw, and what the receiver must reproduce.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// On the wire: never renumber.
enum class FileType : uint8_t {
  kRegular = 1,
  kDirectory = 2,
  kSymlink = 3,
  kFifo = 4,
  kCharDevice = 5,
  kBlockDevice = 6,
};

struct Xattr {
  std::string name;
  std::string value;
  bool operator==(const Xattr&) const = default;
};

struct FileEntry {
  std::string path;  // relative to the transfer root, '/'-separated; empty for the root itself
  FileType type = FileType::kRegular;
  uint32_t mode = 0;  // permission bits only, setuid/setgid/sticky included (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  uint64_t size = 0;          // regular files
  uint32_t dev_major = 0;     // devices: the numbers, not a dev_t (whose split differs by system)
  uint32_t dev_minor = 0;
  std::string link_target;    // symlinks, stored verbatim and never followed
  uint64_t hardlink_of = 0;   // 1 + index of the first entry naming the same inode; 0 if none
  std::vector<Xattr> xattrs;  // sorted by name
  // POSIX.1e ACLs in Ferry's text form (valid_acl_text): `acl` holds the access ACL's entries
  // beyond what the mode says (named users and groups, and the owning group's own entry), ""
  // when the mode says everything; `default_acl` a directory's whole default ACL, "" if none.
  std::string acl;
  std::string default_acl;
  std::string content_hash;   // with --checksum: the sender's XXH3-128 of a regular file (16 bytes)

  bool operator==(const FileEntry&) const = default;
};

const char* file_type_name(FileType type);

// Whether `text` is an ACL in Ferry's text form: POSIX.1e entries in libacl's abbreviated form
// with numeric ids ("u:1001:rw-,g::r-x,g:50:r--"), comma-separated. The strict character set
// keeps such text safe to store in one line of stored metadata and to hand to a parser.
bool valid_acl_text(std::string_view text);

}  // namespace ferry
