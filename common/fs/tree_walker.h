// Walks a local tree and produces FileEntries in the order the protocol requires: the root
// first, then depth-first pre-order with each directory's children sorted by name bytes.
//
// Never follows a symlink below the root (the root itself may be one, as with rsync's SRC/).
// Directories are opened relative to their parent's fd with O_NOFOLLOW, so a directory swapped
// for a symlink mid-walk is not entered.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <functional>
#include <string>

#include "fs/unique_fd.h"
#include "protocol/file_entry.h"

namespace ferry {

// Identity of a listed object on the sending side, to check later that what gets opened is
// what was listed (rsync CVE-2024-12747).
struct SourceId {
  dev_t dev = 0;
  ino_t ino = 0;
  nlink_t nlink = 0;
};

class TreeWalker {
 public:
  // `visit` sees each entry; `on_error` gets a message for anything skipped (unreadable
  // directory, vanished file, unsupported type). `leave_out`, if set, is asked about each entry
  // below the root (path, type and metadata filled in) before it is visited; an entry it
  // leaves out is not visited, and a directory left out is not entered. Throws FatalError if
  // the root is unusable.
  using Visit = std::function<void(FileEntry& entry, const SourceId& id)>;
  using OnError = std::function<void(const std::string& message)>;
  using LeaveOut = std::function<bool(const FileEntry& entry)>;

  // Opens the folder a walk starts from; throws FatalError saying why it cannot be used.
  static UniqueFd open_root(const std::string& root);
  // Walks the tree under `root_fd` (borrowed), an open directory; `root` names it in messages.
  // With `read_stored_metadata`, each entry shows what Ferry's metadata attribute kept for it
  // (fs/stored_metadata.h) in place of the owner, mode and type on disk.
  static void walk(int root_fd, const std::string& root, const Visit& visit, const OnError& on_error,
                   const LeaveOut& leave_out = nullptr, bool read_stored_metadata = false);
};

// Fills the metadata fields of `entry` from `st` (type, mode, owner, mtime, size, device numbers).
// Returns false for types Ferry does not carry (sockets).
bool entry_from_stat(const struct stat& st, FileEntry* entry);

}  // namespace ferry
