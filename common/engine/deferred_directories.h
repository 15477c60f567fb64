// The directories of a run, kept for its end: their metadata goes on last, deepest first
// (writing into a directory changes its mtime, and a read-only mode must not stop us filling it).
//
// A tree can hold as many folders as files, and a whole FileEntry is some 370 bytes, so the list
// is not kept in memory: past one batch, each batch is encoded with the list's own codec
// (protocol/messages.h) and appended to an unnamed temporary file, and at the end the batches
// are read back newest first. Memory is two batches at most, whatever the folder count. If no
// temporary file can be made, the entries stay in memory, as before: slower to nothing, never a
// failed run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fs/unique_fd.h"
#include "protocol/file_entry.h"

namespace ferry {

class DeferredDirectories {
 public:
  // `batch_entries`: how many entries are held before a batch goes to the file; `spill_dir`
  // where the file is made (and at once unlinked): $TMPDIR or /tmp when empty.
  explicit DeferredDirectories(size_t batch_entries = 4096, std::string spill_dir = "");

  void add(FileEntry entry);
  size_t size() const { return count_; }
  // Calls visit for every entry added, the last added first. Once.
  void visit_newest_first(const std::function<void(const FileEntry&)>& visit);
  // How many batches went to the file (for tests).
  size_t spilled_batches() const { return batch_ends_.size(); }

 private:
  bool spill();  // the held batch to the file; false (and nothing written) if it cannot be
  std::vector<FileEntry> read_batch(size_t batch) const;

  size_t batch_entries_;
  std::string spill_dir_;
  std::vector<FileEntry> held_;       // the newest entries, not in the file
  UniqueFd file_;
  bool file_failed_ = false;          // making or writing it failed: everything stays held
  std::vector<uint64_t> batch_ends_;  // where each batch in the file ends
  size_t count_ = 0;
};

}  // namespace ferry
