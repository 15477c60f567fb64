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

// File flags (chattr on Linux, chflags on macOS) in Ferry's own bits: each system maps its own
// to these, and a bit a system has no counterpart for is not applied there. On the wire.
namespace file_flags {
inline constexpr uint32_t kImmutable = 1u << 0;      // Linux +i (FS_IMMUTABLE_FL), macOS schg
inline constexpr uint32_t kAppendOnly = 1u << 1;     // Linux +a, macOS sappnd
inline constexpr uint32_t kNoDump = 1u << 2;         // Linux +d, macOS nodump
inline constexpr uint32_t kUserImmutable = 1u << 3;  // macOS uchg
inline constexpr uint32_t kUserAppendOnly = 1u << 4; // macOS uappnd
inline constexpr uint32_t kHidden = 1u << 5;         // macOS hidden
inline constexpr uint32_t kKnown = (1u << 6) - 1;
// The flags that stop a file from being changed, renamed or removed until they are cleared:
// a receiver sets them last, once the file is in place, and clears them to replace it.
inline constexpr uint32_t kProtecting = kImmutable | kAppendOnly | kUserImmutable | kUserAppendOnly;
}  // namespace file_flags

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
  uint32_t flags = 0;  // file_flags bits; regular files and directories only
  std::string content_hash;   // with --checksum: the sender's XXH3-128 of a regular file (16 bytes)
  // A restore from a sealed backup: the seal's SHA-256 of the file's content (32 bytes), which
  // the receiver checks what it writes against.
  std::string sealed_content;

  bool operator==(const FileEntry&) const = default;
};

const char* file_type_name(FileType type);

// Keeps of `xattrs` (sorted by name) those an Entry may carry, in order, and returns the names of
// the others: values over 64 KiB (a Mac's resource fork), and what comes after 256 attributes or
// 512 KiB together (the bounds in protocol/wire.h, which a receiver enforces by ending the
// session). A sender calls it on every entry it lists, so one such file costs its attributes,
// with a message, and not the run.
std::vector<std::string> keep_xattrs_within_bounds(std::vector<Xattr>* xattrs);

// Whether `text` is an ACL in Ferry's text form: POSIX.1e entries in libacl's abbreviated form
// with numeric ids ("u:1001:rw-,g::r-x,g:50:r--"), comma-separated. The strict character set
// keeps such text safe to store in one line of stored metadata and to hand to a parser.
bool valid_acl_text(std::string_view text);
// The owning group's own entry of an access ACL in that form ("g::r-x") as mode bits (070); 0
// when the text has none. With an ACL, a file's mode shows the mask in those bits instead.
uint32_t acl_owning_group_bits(std::string_view acl);

}  // namespace ferry
