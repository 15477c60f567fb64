// An unnamed temporary file that a run's end-of-run lists go to when they would grow with the
// tree (engine/spilled_entries.h, engine/leader_paths.h): appended to while the list arrives,
// read back at the end. It is made on the first append, mode 0600, and unlinked at once, so it
// is the run's alone and gone when the run ends, however it ends.
//
// Where: in the destination's .ferry-state/tmp when the receiver has one (`dir_fd`), so that the
// names of the tree stay on the backup's own disk and a small /tmp (a tmpfs holds its files in
// memory, which is what spilling avoids) does not bound the tree; else, or if that refuses, in
// $TMPDIR or /tmp.
//
// A file that cannot be made or written is given up for good: append() says so, and the caller
// keeps its list in memory instead (slower to nothing, never a failed run).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fs/unique_fd.h"

namespace ferry {

class DestinationState;

// The folder a receiver's spill files go to: its destination's .ferry-state/tmp, or -1 where
// it has none (a dry run: `state` is null).
int spill_dir_of(const DestinationState* state);

class SpillFile {
 public:
  // `dir_fd`: borrowed, and open while this is; -1 for none.
  explicit SpillFile(int dir_fd = -1) : dir_fd_(dir_fd) {}

  // Appends `bytes` at the end; false (nothing appended, and never again) when the file cannot
  // be made or written.
  bool append(std::string_view bytes);
  uint64_t size() const { return size_; }
  // The `len` bytes at `offset` of what was appended. Throws std::runtime_error when the file
  // cannot be read back (a disk error: the run cannot finish what it kept there).
  std::string read(uint64_t offset, size_t len) const;

 private:
  int dir_fd_;
  UniqueFd fd_;
  bool failed_ = false;
  uint64_t size_ = 0;
};

}  // namespace ferry
