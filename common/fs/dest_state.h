// Ferry's own corner of a destination folder, DEST/.ferry-state/ (mode 0700):
//
//   lock      flock()ed by the one run writing into DEST; it says who that is (host, pid,
//             start time) so a second run can name the holder when it is refused. The kernel
//             drops a flock when its process dies, so a crashed run never leaves a lock behind.
//   last-run  "state=running" while a run goes, "state=finished" once one ended; a run that
//             finds "running" knows the previous one was cut off.
//   symlink-owners  the owners of symlinks that an agent which is not root could not give them
//             (fs/symlink_owners.h); only in such an agent's destinations.
//   tmp/      every file being written, under a name derived from its path, renamed into place
//             once complete and verified. Nothing here is ever a user file. Only the lock
//             holder writes here, so whatever a new run finds in tmp/ was left by a run that
//             is gone: large leftovers are the first part of a file that was cut off, and
//             become the basis of its delta (resume); the rest is removed.
//
// The sender never lists .ferry-state or .ferry-safetynet at the top of a tree, and a receiver
// refuses entries of those names there: Ferry's bookkeeping is never user data.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fs/unique_fd.h"

namespace ferry {

inline constexpr std::string_view kStateDirName = ".ferry-state";
inline constexpr std::string_view kSafetyNetDirName = ".ferry-safetynet";

// True for the names Ferry keeps for itself at the top of a destination.
bool is_reserved_top_name(std::string_view path);

// The name of the file in tmp/ that holds `path` while it is written.
std::string temp_name_for(std::string_view path);

// The value of "key=" in the "key=value key=value" lines of the lock and the marker, or "".
std::string state_field(const std::string& text, const std::string& key);

// What `ferry doctor` shows of a destination, read without taking or changing anything: the
// first line of its last-run marker, and the lock's line if a run holds the lock now.
struct DestinationStatus {
  std::string last_run;
  std::string holder;
};
DestinationStatus read_destination_status(const std::string& dest_path);

class DestinationState {
 public:
  // Opens (creating if needed) DEST/.ferry-state under root_fd and takes the lock. Throws
  // FatalError naming the holder when another run has it. `display` names DEST in messages,
  // `where` ends them ("" here, " on the agent's machine" there).
  DestinationState(int root_fd, const std::string& display, const std::string& where);
  // Only the lock, for work on DEST that is not a run (`ferry forget`): the marker and tmp/
  // are left as the last run left them. release() gives the lock back.
  struct LockOnly {};
  DestinationState(int root_fd, const std::string& display, const std::string& where, LockOnly);
  ~DestinationState();
  DestinationState(const DestinationState&) = delete;
  DestinationState& operator=(const DestinationState&) = delete;

  int tmp_dir() const { return tmp_.get(); }
  int state_dir() const { return state_.get(); }
  dev_t device() const { return device_; }

  // What the last-run marker said when this run started, if the previous run did not finish
  // ("" if it did, or there was none): for a message to the user.
  const std::string& unfinished_previous_run() const { return unfinished_; }
  // Set when this run took over the lock file of a run that is provably gone: for a message.
  const std::string& took_over_from() const { return took_over_; }

  // The tmp/ names of a cut-off run's leftovers that are worth resuming. Everything else a
  // previous run left in tmp/ was removed when the state was opened.
  const std::set<std::string>& partials() const { return partials_; }

  // Removes what is left in tmp/ (partials nobody asked for), writes "state=finished" to the
  // marker and releases the lock. With `durable`, the marker is on disk when this returns.
  void mark_finished(uint64_t files, uint64_t errors, bool durable);

  // After mark_finished, in a folder that only received a restore: removes .ferry-state from
  // root_fd when it holds nothing but the lock, the marker and an empty tmp/, so a finished
  // restore leaves nothing of Ferry's in the user's data. Anything else there (a backup's
  // symlink-owners) keeps it. Returns whether it went.
  bool remove_if_bare(int root_fd);

  // Releases the lock (clearing the holder's line) without touching the marker.
  void release();

 private:
  void take_lock(const std::string& display, const std::string& where);
  void read_previous_marker();
  void write_marker(const std::string& text, bool durable);
  void tidy_tmp();

  UniqueFd state_;
  UniqueFd tmp_;
  UniqueFd lock_;
  dev_t device_ = 0;
  std::string started_;  // "host=... pid=... started=..." of this run
  std::string unfinished_;
  std::string took_over_;
  std::set<std::string> partials_;
};

}  // namespace ferry
