#include "fs/snapshot_usage.h"

#include <fcntl.h>

#include <map>
#include <utility>

#include "base/error.h"
#include "fs/confined_root.h"
#include "fs/tree_walker.h"

namespace ferry {

namespace {

// The links each multiply-linked inode has inside the walked snapshots, with its size and
// its link count; files with one link are counted on the spot.
struct LinkCount {
  uint64_t seen = 0;
  uint64_t nlink = 0;
  uint64_t size = 0;
};

void walk_snapshot(int store_fd, const std::string& id, const std::function<void(const std::string&)>& on_error,
                   SnapshotUsage* usage, std::map<std::pair<dev_t, ino_t>, LinkCount>* shared) {
  UniqueFd root;
  try {
    root = open_dir_beneath(store_fd, id, /*create=*/false, id, "");
  } catch (const FatalError& e) {
    on_error(e.what());
    return;
  }
  TreeWalker::walk(
      root.get(), id,
      [&](FileEntry& entry, const SourceId& source) {
        if (entry.path.empty()) return;
        ++usage->entries;
        if (entry.type != FileType::kRegular) return;
        usage->bytes += entry.size;
        if (source.nlink <= 1) {
          usage->own_bytes += entry.size;
          return;
        }
        LinkCount& count = (*shared)[{source.dev, source.ino}];
        ++count.seen;
        count.nlink = source.nlink;
        count.size = entry.size;
      },
      on_error);
}

uint64_t bytes_of_complete(const std::map<std::pair<dev_t, ino_t>, LinkCount>& shared) {
  uint64_t bytes = 0;
  for (const auto& [inode, count] : shared) {
    if (count.seen >= count.nlink) bytes += count.size;
  }
  return bytes;
}

}  // namespace

SnapshotUsage snapshot_usage(int store_fd, const std::string& id,
                             const std::function<void(const std::string&)>& on_error) {
  SnapshotUsage usage;
  std::map<std::pair<dev_t, ino_t>, LinkCount> shared;
  walk_snapshot(store_fd, id, on_error, &usage, &shared);
  usage.own_bytes += bytes_of_complete(shared);
  return usage;
}

uint64_t bytes_freed_by_removing(int store_fd, const std::vector<std::string>& ids,
                                 const std::function<void(const std::string&)>& on_error) {
  SnapshotUsage usage;
  std::map<std::pair<dev_t, ino_t>, LinkCount> shared;
  for (const std::string& id : ids) walk_snapshot(store_fd, id, on_error, &usage, &shared);
  return usage.own_bytes + bytes_of_complete(shared);
}

}  // namespace ferry
