// What snapshots hold on disk. Snapshots share every unchanged file as a hard link, so "how
// big" has two answers: the data a snapshot shows (its total), and the data only it holds,
// which is what forgetting it frees: the files whose every link lies inside it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ferry {

struct SnapshotUsage {
  uint64_t entries = 0;    // below its root
  uint64_t bytes = 0;      // the sizes of its regular files
  uint64_t own_bytes = 0;  // the sizes of the files no other snapshot (or other name) links to
};

// Walks DEST/<id> for each id (beneath store_fd, never following a symlink). Unreadable parts
// are reported through `on_error` and left out.
SnapshotUsage snapshot_usage(int store_fd, const std::string& id,
                             const std::function<void(const std::string&)>& on_error);

// The bytes that removing all of `ids` together would free: the files whose every link lies
// inside them.
uint64_t bytes_freed_by_removing(int store_fd, const std::vector<std::string>& ids,
                                 const std::function<void(const std::string&)>& on_error);

}  // namespace ferry
