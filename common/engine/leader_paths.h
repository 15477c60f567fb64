// The first name of every hard-linked inode a receiver placed, by its index in the list: the
// later names of the same inode are linked to it at the end of the run, once every file is in
// place, and the list gives them only the index.
//
// A tree that is a backup with history names every file once per snapshot, so these can be as
// many as the files. They are not kept in memory: the list's indices only grow, so the names
// go, in index order, into blocks of `block_names`, each appended to a SpillFile when full, and
// a block is found again by its first index (a sparse index of some 50 bytes a block). A lookup
// reads one block (the last one read is kept, so lookups in list order read each block once).
// If no temporary file can be made, the blocks stay in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "engine/spill_file.h"

namespace ferry {

class LeaderPaths {
 public:
  // `spill_dir`: the folder the temporary file is made in (engine/spill_file.h; -1: $TMPDIR or /tmp).
  explicit LeaderPaths(size_t block_names = 256, int spill_dir = -1);

  // Records `path` under `index`, which must be above every index recorded before
  // (std::logic_error otherwise: a lookup could not find it).
  void add(uint64_t index, std::string_view path);
  size_t size() const { return count_; }
  // The path recorded under `index`, or nothing.
  std::optional<std::string> find(uint64_t index) const;
  // How many blocks went to the temporary file (for tests).
  size_t spilled_blocks() const;

 private:
  struct Block {
    uint64_t first = 0;     // the index of its first name
    uint64_t offset = 0;    // where it is in the file
    uint32_t bytes = 0;     // its length there
    std::string held;       // the block itself, when the file could not take it
  };
  void close_block();
  static std::optional<std::string> find_in(std::string_view block, uint64_t first, uint64_t index);

  size_t block_names_;
  SpillFile file_;
  std::vector<Block> blocks_;  // closed, in index order
  Encoder open_;               // the newest names: (index - previous index, path) each
  uint64_t open_first_ = 0;
  uint64_t last_ = 0;          // the last index added
  size_t open_names_ = 0;
  size_t count_ = 0;
  mutable size_t cached_block_ = SIZE_MAX;  // blocks_[cached_block_] is in cached_
  mutable std::string cached_;
};

}  // namespace ferry
