// The hash tree of a seal, built as records stream past in list order (depth-first, children
// sorted, the root first), so that sealing and checking a tree of millions of entries holds
// only the folders currently open: memory grows with the depth, never with the count.
//
//   leaf(record)  = SHA-256(0x00 || record body)                       (seal_record.h)
//   node(file)    = leaf(file)
//   node(folder)  = SHA-256(0x01 || leaf(folder) || node(child 1) || … || node(child n))
//   root          = SHA-256(0x02 || id length:u8 || id || flags:u8 || count:8 LE || node(tree root))
//
// Each leaf covers its own path, so the children's nodes alone fix their names and order; the
// root also covers the seal's header (its ID and flags) and how many records it holds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "seal/sha256.h"

namespace ferry {

class SealTree {
 public:
  // The next record's path, whether it is a folder, and its leaf. Throws SealFormatError for a
  // path out of order, a first record that is not the root, or a path whose folder is not open.
  void add(std::string_view path, bool is_dir, const Sha256Digest& leaf);
  // Closes every open folder and returns the seal's root.
  Sha256Digest finish(std::string_view id, uint8_t seal_flags);
  uint64_t count() const { return count_; }

 private:
  struct OpenDir {
    std::string path;
    Sha256 hasher;
  };
  void close_innermost();

  std::vector<OpenDir> open_;
  std::string prev_path_;
  Sha256Digest tree_root_{};
  bool have_root_ = false;
  uint64_t count_ = 0;
};

}  // namespace ferry
