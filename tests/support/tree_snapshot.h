// An independent picture of a tree for comparing source, backup and restore: lstat, SHA-256
// of contents (OpenSSL, not Ferry's hash), link targets, user xattrs, POSIX ACLs, the immutable,
// append-only and nodump flags (lsattr's i, a, d), and hardlink groups.
// Deliberately shares no code with Ferry's walker, so a bug there cannot hide itself here.
#pragma once

#include <map>
#include <string>

namespace ferry::test {

struct NodeInfo {
  char type = '?';  // f d l p c b
  unsigned mode = 0;
  unsigned uid = 0, gid = 0;
  long long mtime_sec = 0;
  long mtime_nsec = 0;
  long long size = 0;
  std::string sha256;
  std::string link_target;
  std::map<std::string, std::string> xattrs;
  std::string hardlink_group;  // the first path (sorted) sharing this inode, if more than one does
  unsigned long long rdev = 0;
  unsigned flags = 0;  // FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL as the inode has them
};

using Snapshot = std::map<std::string, NodeInfo>;  // relative path ("" = the root) -> info

// Leaves out .ferry-state and .ferry-safetynet at the top: Ferry's bookkeeping, which the
// protocol never carries as user data (tests that look at them do so directly).
Snapshot snapshot(const std::string& root);
// Every difference, one per line; empty when equal. Ignores the root's mtime if asked.
std::string compare(const Snapshot& expected, const Snapshot& actual);

}  // namespace ferry::test
