// A list of entries a run keeps for its end, whose length is the tree's and not a constant:
// the directories, whose metadata goes on last, deepest first (writing into a directory changes
// its mtime, and a read-only mode must not stop us filling it), and the folders the run wrote
// into (swept for stale temporary files, and flushed, at the end).
//
// A tree can hold as many folders as files, and a whole FileEntry is some 370 bytes, so such a
// list is not kept in memory: past one batch, each batch is encoded with the list's own codec
// (protocol/messages.h) and appended to a SpillFile, and a visit reads the batches back newest
// first. Memory is two batches at most, whatever the count. If no temporary file can be made,
// the entries stay in memory, as before: slower to nothing, never a failed run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/spill_file.h"
#include "protocol/file_entry.h"

namespace ferry {

class SpilledEntries {
 public:
  // `batch_entries`: how many entries are held before a batch goes to the file; `spill_dir`
  // the folder the file is made in (engine/spill_file.h; -1: $TMPDIR or /tmp).
  explicit SpilledEntries(size_t batch_entries = 4096, int spill_dir = -1);

  void add(FileEntry entry);
  size_t size() const { return count_; }
  // Calls visit for every entry added, the last added first.
  void visit_newest_first(const std::function<void(const FileEntry&)>& visit) const;
  // How many batches went to the file (for tests).
  size_t spilled_batches() const { return batch_ends_.size(); }

 private:
  bool spill();  // the held batch to the file; false (and nothing written) if it cannot be
  std::vector<FileEntry> read_batch(size_t batch) const;

  size_t batch_entries_;
  std::vector<FileEntry> held_;       // the newest entries, not in the file
  SpillFile file_;
  bool file_failed_ = false;          // making or writing it failed: everything stays held
  std::vector<uint64_t> batch_ends_;  // where each batch in the file ends
  size_t count_ = 0;
};

}  // namespace ferry
