// Where a received tree lands. The receiver makes entries in tree() and asks the landing two
// questions that differ by kind of destination; everything else (temporary names, renames,
// metadata, the safety net) is the same for every kind.
//
//   MirrorLanding    the destination folder itself: one tree, updated in place each run.
//   SnapshotLanding  a new tree per run (engine/snapshot_landing.h), built beside the earlier
//                    ones, whose unchanged files it shares, and named only once complete.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "fs/confined_root.h"

namespace ferry {

// A version of a file kept outside the tree being made (the previous snapshot's), that a file
// with nothing at its name in the tree can be linked to, copied from, or delta-encoded against.
struct EarlierVersion {
  int dir = -1;      // its folder, borrowed: valid until the next earlier_version() call
  std::string leaf;  // its name there
  struct stat st {};
  uint32_t flags = 0;  // file_flags bits
  explicit operator bool() const { return dir >= 0; }
};

class Landing {
 public:
  virtual ~Landing() = default;

  // The tree this run makes.
  virtual ConfinedRoot& tree() = 0;

  // For a regular file with nothing at its name in tree(): an earlier version kept elsewhere,
  // or none.
  virtual EarlierVersion earlier_version(const std::string& path) {
    (void)path;
    return {};
  }

  // The earlier version of `path` opened for reading (a delta's basis), or an invalid fd.
  virtual UniqueFd open_earlier(const std::string& path) {
    (void)path;
    return UniqueFd();
  }

  // Whether a file already in tree() may have its metadata changed where it is. Not when its
  // inode is shared with an older snapshot: that snapshot would change too.
  virtual bool may_change_in_place(const struct stat& st) const {
    (void)st;
    return true;
  }

  // Called once the tree is complete and, if `durable`, on disk: makes it what the destination
  // shows. Returns "" or the problem (the run then fails).
  virtual std::string publish(bool durable) {
    (void)durable;
    return "";
  }
};

// The destination folder is the tree.
class MirrorLanding : public Landing {
 public:
  explicit MirrorLanding(ConfinedRoot& root) : root_(root) {}
  ConfinedRoot& tree() override { return root_; }

 private:
  ConfinedRoot& root_;
};

}  // namespace ferry
