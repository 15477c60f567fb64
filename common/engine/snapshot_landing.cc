#include "engine/snapshot_landing.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"
#include "fs/rel_path.h"
#include "fs/snapshot_store.h"
#include "platform/platform.h"

namespace ferry {

SnapshotLanding::SnapshotLanding(ConfinedRoot& dest, DestinationState& state, std::time_t start, std::string* warning)
    : dest_(dest), state_(state) {
  const char* where = " on the agent's machine";
  std::string problem;
  previous_id_ = resolve_snapshot(dest.root_fd(), "", &problem, warning);
  if (!previous_id_.empty()) {
    previous_.emplace(open_dir_beneath(dest.root_fd(), previous_id_, /*create=*/false, dest.shown(previous_id_), where),
                      dest.shown(previous_id_));
  }
  id_ = unused_snapshot_id(dest.root_fd(), start);
  std::string building(kBuildingDirName);
  UniqueFd fd = open_dir_beneath(state.state_dir(), building, /*create=*/true, dest.shown(id_), where);
  // Shown as the snapshot it becomes: that is the name the user will look for.
  building_.emplace(std::move(fd), dest.shown(id_));
}

EarlierVersion SnapshotLanding::earlier_version(const std::string& path) {
  EarlierVersion earlier;
  if (!previous_) return earlier;
  int dir = previous_->parent_dir(path);
  if (dir < 0) return earlier;
  std::string leaf(leaf_of(path));
  if (platform::stat_at(dir, leaf.c_str(), &earlier.st, &earlier.flags) != 0 || !S_ISREG(earlier.st.st_mode)) {
    return earlier;
  }
  earlier.dir = dir;
  earlier.leaf = std::move(leaf);
  return earlier;
}

UniqueFd SnapshotLanding::open_earlier(const std::string& path) {
  if (!previous_) return UniqueFd();
  return previous_->open(path, O_RDONLY | O_NOFOLLOW);
}

bool SnapshotLanding::may_change_in_place(const struct stat& st) const {
  // A second name means an older snapshot holds this inode too (or the source's own hard
  // links, which then get a copy each: wasteful but never wrong).
  return S_ISDIR(st.st_mode) || st.st_nlink <= 1;
}

std::string SnapshotLanding::publish(bool durable) {
  return publish_snapshot(dest_.root_fd(), state_.state_dir(), id_, durable);
}

}  // namespace ferry
