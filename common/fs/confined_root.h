// The one door to the destination. Every call that creates, replaces, or changes metadata
// under the destination root goes through a directory fd obtained here, and then through an
// *at() call on a single name, never through a path string the kernel would resolve freely.
//
// parent_dir() resolves with platform::open_beneath (openat2 RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS on Linux): a symlink anywhere in the way, planted before the run or
// swapped in during it, makes the lookup fail instead of redirecting the write.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "fs/unique_fd.h"

namespace ferry {

class ConfinedRoot {
 public:
  // root_fd: an open directory; root_display: how to name it in messages.
  ConfinedRoot(UniqueFd root_fd, std::string root_display);

  int root_fd() const { return root_.get(); }
  const std::string& display() const { return display_; }

  // The directory holding `path` (a validated relative path, not the root itself). Borrowed:
  // valid until the next call or forget(). Returns -1 with errno set on failure. `device`, if
  // given, receives the file system that directory is on.
  int parent_dir(std::string_view path, dev_t* device = nullptr);
  // Opens `path` itself beneath the root (no symlinks followed). Owned by the caller.
  UniqueFd open(std::string_view path, int flags, unsigned mode = 0);
  // Drops cached directory fds; call after removing or replacing a directory.
  void forget() { cached_path_.clear(), cached_.reset(); }

  // "ROOT/path", printable, for messages.
  std::string shown(std::string_view path) const;

 private:
  UniqueFd root_;
  std::string display_;
  dev_t root_device_ = 0;
  std::string cached_path_;
  UniqueFd cached_;
  dev_t cached_device_ = 0;
};

// The folder a receiver opens as its root. For a dry run into a folder that does not exist yet,
// that is an empty temporary folder (removed again on destruction), so every entry compares as
// new and nothing is created at `destination`.
class ReceiveFolder {
 public:
  ReceiveFolder(const std::string& destination, bool dry_run);
  ~ReceiveFolder();
  ReceiveFolder(const ReceiveFolder&) = delete;
  ReceiveFolder& operator=(const ReceiveFolder&) = delete;
  const std::string& path() const { return stand_in_.empty() ? destination_ : stand_in_; }

 private:
  std::string destination_;
  std::string stand_in_;
};

// Removes `name` in dir_fd, recursively if it is a directory, without following any symlink.
// Returns 0 or an errno.
int remove_tree_at(int dir_fd, const std::string& name);

// Opens the folder a transfer writes into, creating its last component if missing (the parent
// must exist, as with rsync), and checks it is writable. `where` ends each message: "" for
// this machine, " on the agent's machine" for the agent. Throws FatalError naming the fix.
// The lock that keeps a second run out is DestinationState's (fs/dest_state.h).
ConfinedRoot open_destination(const std::string& path, const std::string& where);
// The same checks on a folder already open (reached beneath a confinement root by fd).
ConfinedRoot open_destination(UniqueFd dir, const std::string& path, const std::string& where);

// Opens the directory `rel` beneath `base_fd` without following a symlink in any component and
// without leaving base_fd, creating its last component if `create` (its parent must exist).
// Everything a confined session touches is reached this way from one fd of its root, never by
// a path string resolved again later: a second session that swaps a folder for a symlink in
// between finds the open refused. `shown` names the path in messages. Throws FatalError.
UniqueFd open_dir_beneath(int base_fd, const std::string& rel, bool create, const std::string& shown,
                          const std::string& where);

}  // namespace ferry
