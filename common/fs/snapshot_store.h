// A destination is one of two kinds, recorded in DEST/.ferry-state/kind at its first run:
//
//   mirror     DEST holds the source's tree itself (`ferry backup`).
//   snapshots  DEST holds one complete tree per run (`ferry backup --snapshot`):
//
//                DEST/2026-12-02T03-15-00Z/   a snapshot, named by its run's UTC start time
//                DEST/2026-12-03T03-15-02Z/
//                DEST/latest -> 2026-12-03T03-15-02Z
//                DEST/.ferry-state/building/  the snapshot a run is making (or a cut-off run made)
//
// Each snapshot is a plain folder a person can browse without Ferry. A file unchanged since
// the snapshot before shares its inode (a hard link), so no file in a snapshot is ever changed
// in place. A snapshot gets its name only once complete and on disk: a run that is cut off
// leaves it in building/, where the next run finishes it.
//
// Everything here reaches the store through fds (openat, renameat, readlinkat on single
// names); a name that is not a snapshot ID is never opened as a snapshot, so a `latest` link or
// a folder planted by hand cannot lead outside DEST.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "fs/unique_fd.h"

namespace ferry {

inline constexpr std::string_view kLatestName = "latest";
inline constexpr std::string_view kBuildingDirName = "building";  // in .ferry-state

enum class StoreKind { kNone, kMirror, kSnapshots };
const char* store_kind_name(StoreKind kind);  // "mirror", "snapshot store"

// What DEST (an open folder) is: its recorded kind; else a mirror if it holds anything besides
// Ferry's own folders (a destination of an older Ferry, or a folder of the user's); else kNone.
StoreKind store_kind_of(int dest_fd);
// Whether DEST's recorded kind is a snapshot store (its state alone is read: cheap for a large
// folder, which store_kind_of may have to list).
bool is_snapshot_store(int dest_fd);
// Records the kind in the (locked) state folder. Returns 0 or errno.
int record_store_kind(int state_dir, StoreKind kind);

// "2026-12-02T03-15-00Z", optionally followed by "-N" when two runs started in one second:
// sortable as text, and no character a file system or a shell treats specially.
bool is_snapshot_id(std::string_view name);
std::string snapshot_id_at(std::time_t t);
// The UTC time an ID names (its suffix ignored); -1 for a name that is not an ID.
std::time_t snapshot_id_time(std::string_view id);
// An ID for a run started at t that no snapshot of DEST has yet.
std::string unused_snapshot_id(int dest_fd, std::time_t t);

// The snapshots in DEST, oldest first.
std::vector<std::string> list_snapshots(int dest_fd);

// The snapshot `at` names: "" or "latest" (the newest), an ID, or "<=" followed by an ID-form
// time (the newest at or before it). *problem says why there is none ("" if there is); with a
// `latest` link that names no snapshot of this store, the newest is used and *warning says so.
std::string resolve_snapshot(int dest_fd, std::string_view at, std::string* problem, std::string* warning);

// Restores and listings hold a shared lock on DEST/.ferry-state/readers while they read;
// `ferry forget` holds it exclusively while it removes snapshots, so neither removes what the
// other reads. Both return the lock's fd, or an invalid fd with *problem set when the other
// side holds it. A store whose state folder cannot take the file (read-only) is read unlocked.
UniqueFd lock_store_for_reading(int dest_fd, std::string* problem);
UniqueFd lock_store_for_removal(int state_dir, std::string* problem);

// Gives the finished tree in state_dir/building its name, DEST/id, and points DEST/latest at
// it. With `durable`, the rename and the link are on disk when this returns. Returns "" or the
// problem.
std::string publish_snapshot(int dest_fd, int state_dir, const std::string& id, bool durable);

}  // namespace ferry
