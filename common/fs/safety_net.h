// The safety net: what a run deletes or replaces in a destination is moved, not destroyed, into
// DEST/.ferry-safetynet/<UTC time of the run>/<its relative path>, as Carbon Copy Cloner's
// SafetyNet does. An entry is renamed there (a deleted one) or hard-linked there just before
// its replacement is renamed over it, so it keeps its inode and with it every piece of
// metadata, and nothing is copied. Folders are pruned oldest first, by age or total size.
#pragma once

#include <cstdint>
#include <string>

#include "fs/unique_fd.h"

namespace ferry {

class SafetyNet {
 public:
  // Nothing is created until the first entry is kept. `now` (seconds since the epoch) names
  // this run's folder.
  SafetyNet(int root_fd, std::string root_display, int64_t now);

  // Moves `leaf` in dir_fd, the destination entry at `path`, into the net, whatever its type (a
  // directory goes whole). Returns "" or what went wrong.
  std::string keep_moved(int dir_fd, const std::string& leaf, const std::string& path);
  // Keeps a file that is about to be replaced, by a hard link (the rename that replaces it then
  // leaves the old inode to the net), or by moving it where links are impossible.
  std::string keep_linked(int dir_fd, const std::string& leaf, const std::string& path);

  size_t kept() const { return kept_; }
  // "DEST/.ferry-safetynet/<time>", for messages.
  std::string folder_shown() const;

  // Removes whole folders, oldest first, while one is older than keep_seconds or while all of
  // them together hold more than keep_bytes (0: no limit of that kind). This run's folder is
  // never removed. Returns how many were removed; problems go to *problem.
  size_t prune(uint64_t keep_seconds, uint64_t keep_bytes, std::string* problem);

 private:
  // The directory in this run's folder that mirrors the parent of `path`, made if missing.
  int parent_in_net(const std::string& path, std::string* problem);

  int root_fd_;
  std::string display_;
  int64_t now_;
  std::string folder_name_;
  UniqueFd folder_;
  std::string cached_parent_;
  UniqueFd cached_;
  size_t kept_ = 0;
};

// "2026-12-01T22-05-33Z": the name of a run's folder (no ':' so it is a valid name everywhere).
std::string safety_net_folder_name(int64_t seconds);
// The inverse; false for a name that is not one.
bool parse_safety_net_folder_name(const std::string& name, int64_t* seconds);

}  // namespace ferry
