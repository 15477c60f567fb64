// The receiver's hands on the destination tree: everything that puts an entry under its real
// name, or takes one away, once its content is ready.
//
// New versions are made at a temporary spot (in .ferry-state/tmp when it is on the same file
// system, else beside the real name) and renamed over the real name, so a name holds the old
// version or the new one, never a half-written file. With the safety net on, what a rename
// replaces or a deletion removes is kept there first. The Installer also owns the run's error
// count and the end of the run's durability: the shared flush before batched renames and the
// flush of everything written.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/receiver_options.h"
#include "engine/reporter.h"
#include "engine/spilled_entries.h"
#include "fs/confined_root.h"
#include "fs/dest_state.h"
#include "fs/safety_net.h"

namespace ferry {

// Errors that say the destination as a whole can take no more: the run ends at the first,
// with its cause, instead of failing every file that follows.
inline bool ends_the_run(int err) { return err == ENOSPC || err == EDQUOT || err == EROFS; }

class Installer {
 public:
  // `state` is null for a dry run (and in tests that receive without one).
  Installer(ConfinedRoot& root, DestinationState* state, Reporter& reporter, TransferStats& stats,
            const ReceiverOptions& options);

  // Where a new version of `path` is made before it is renamed over the real name: in
  // .ferry-state/tmp, named after the path, when that is on the same file system as the
  // destination directory; otherwise (another file system mounted inside the destination, or
  // no state) beside the real name under a pid-stamped name, because renameat cannot cross
  // file systems. Call right after root.parent_dir(path) succeeded.
  struct TempSpot {
    int dir;
    std::string name;
  };
  TempSpot temp_spot(const std::string& path);
  bool is_state_tmp(int dir) const { return state_ != nullptr && dir == state_->tmp_dir(); }

  // Renames tmp (in tmp_dir) over `path`'s name in dir. A directory in the way (the sender has
  // a file where we have a directory) is removed first, as a mirror must. `dir` may be the
  // root's cached fd: the cache is dropped only once we are done with it.
  void install(int tmp_dir, const std::string& tmp, int dir, const std::string& path);

  // A complete, verified file in .ferry-state/tmp is renamed over its real name with the
  // batch it is in: every 1024 files or 256 MiB, in path order, so that the root's folder cache
  // serves them and the receiver's thread holds no descriptor of each file's folder. In a
  // durable run the batch waits until its data is on disk, so that after a power cut the name
  // holds the old version or the whole new one, never an empty or partial file: one syncfs per
  // batch (one fsync per file would cost a journal commit each: rsync --fsync), run on a thread
  // of its own while the next batch is written; flush_run makes the renames themselves durable.
  void install_in_batch(std::string tmp, const std::string& path, uint64_t size);
  // Every file waiting is (flushed and) renamed into place.
  void install_waiting();

  // With the safety net on, moves what is at `leaf` in dir (the entry at `path`) into it before
  // it is deleted or replaced: a file that a rename is about to replace is hard-linked there,
  // anything else (a directory, or a file that will be unlinked) is moved. Returns "" or the
  // problem; "" also when there is no safety net or nothing is there. *moved_dir, if asked,
  // says whether a directory went (the caller then drops the root's fd cache once it is done
  // with `dir`).
  std::string set_aside(int dir, const std::string& leaf, const std::string& path, bool about_to_be_replaced,
                        bool* moved_dir = nullptr);
  bool has_safety_net() const { return safety_net_ != nullptr; }

  // One file's error: counted and reported; the run goes on.
  void fail(const std::string& text);
  // The destination is full or read-only: ends the run with the cause and the fix.
  [[noreturn]] void throw_unwritable(const std::string& path, int err);

  // Something on the destination changed: the run ends with a flush.
  void note_change() { changed_ = true; }
  bool changed() const { return changed_; }
  // syncfs does not reach the disk here (FUSE): each file is fsynced before its rename.
  bool fsync_each() const { return fsync_each_; }

  // A run that was killed left temporary files where it was writing; the next run writes there
  // again, so sweeping the folders this run wrote into finds them, at the cost of one
  // directory read per folder written. Names in `listed` are the sender's files, never swept.
  void remove_stale_temp_files_where_written(const std::set<std::string>& listed);
  // Reports what the safety net kept and prunes it to its limits.
  void finish_safety_net();
  // Puts what the run wrote on disk: one syncfs, or where that flushes nothing (FUSE) the
  // folders that received renames, each file having been fsynced before its own.
  void flush_run();

 private:
  void note_folder_written(std::string folder);
  // A write failed in a way that names no errno we can see (a metadata call, a rename): first
  // make sure the destination can still be written at all, by creating a file where we keep
  // our own. One that cannot ends the run with that cause, instead of one error per file.
  void check_still_writable(const std::string& path);
  // Starts the flush of the waiting batch (after renaming the batch flushed before it); with
  // --no-sync, renames it.
  void start_flush();
  // Waits for the batch being flushed and renames it into place.
  void finish_flush();

  ConfinedRoot& root_;
  DestinationState* state_;
  Reporter& reporter_;
  TransferStats& stats_;
  const ReceiverOptions& options_;
  const bool fsync_each_;
  // Set when the safety net is on and this is not a dry run.
  std::unique_ptr<SafetyNet> safety_net_;
  struct Waiting {
    std::string tmp;  // in .ferry-state/tmp
    std::string path;
  };
  std::vector<Waiting> waiting_;  // verified files waiting for their batch to be complete
  uint64_t waiting_bytes_ = 0;
  std::vector<Waiting> flushing_;  // the batch whose flush is running
  std::future<int> flushed_;       // that flush's errno (0: done); its destructor waits for it
  bool changed_ = false;  // anything written: the run ends with a flush
  // Where this run put files in place, each folder once per stretch of the list that writes
  // into it (files of one folder come together, so nearly always once).
  SpilledEntries folders_written_{4096, spill_dir_of(state_)};
  std::string last_folder_written_;
  uint64_t tmp_counter_ = 0;
};

}  // namespace ferry
