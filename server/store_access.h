// The agent's side of snapshot stores (fs/snapshot_store.h): a backup's destination is checked
// to be of the kind the run makes, and a restore's path is found inside a store and its
// snapshot chosen.
#pragma once

#include <string>

#include "engine/reporter.h"
#include "fs/confined_root.h"
#include "fs/unique_fd.h"
#include "protocol/messages.h"
#include "server/confinement.h"

namespace ferry {

// Refuses (FatalError, exit 2) a backup into a destination of the other kind: a snapshot run
// into a mirror, or a mirror run into a snapshot store. Names what the destination is.
void check_store_kind(ConfinedRoot& dest, bool snapshot);

// Refuses (FatalError, exit 2) a mirror backup with --delete into a folder that already holds
// entries and that Ferry never backed up into (it has no .ferry-state), unless Open says
// --force: by the rsync habit of naming the parent (/backups), every other backup there would
// go. Says how many entries are there (counted up to a bound), before anything changes.
void check_delete_into_foreign(ConfinedRoot& dest, const Open& open);

// open.path opened as a snapshot store; throws FatalError (exit 2) if it is not one.
UniqueFd open_store(const Open& open, const Confinement& rules);

// What a restore (or `ferry ls`) reads: a folder, or one file in a folder.
struct RestoreSource {
  UniqueFd dir;
  std::string only_name;  // a single file's name in dir; "" = all of dir
  UniqueFd read_lock;     // held while reading a snapshot: forget waits (fs/snapshot_store.h)
  // The seal of the backup read: `seal_name` in `seals_dir` (invalid when the destination has
  // no seals; the file itself may be missing), and where dir is in the sealed tree (the path of
  // dir's entries there: a single file's folder, or a folder restored on its own).
  UniqueFd seals_dir;
  std::string seal_name;
  std::string sealed_prefix;
};

// open.path on the agent's machine: when it is a snapshot store or a path inside one (DEST or
// DEST/PATH), that path in the snapshot open.at names (the newest by default); a path that
// names a snapshot folder itself (DEST/<ID>/…) is read as it is. A path that names a regular
// file is read as that one file. Warnings (a tampered `latest` link) go to `reporter`. Throws
// FatalError naming the fix: an unknown snapshot (with the nearest ones), --at on a
// destination that is not a store, a path that does not exist.
RestoreSource open_restore_source(const Open& open, const Confinement& rules, Reporter& reporter);

}  // namespace ferry
