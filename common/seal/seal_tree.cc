#include "seal/seal_tree.h"

#include "protocol/rel_path.h"
#include "seal/seal_error.h"

namespace ferry {

void SealTree::close_innermost() {
  Sha256Digest node = open_.back().hasher.finish();
  open_.pop_back();
  if (open_.empty()) {
    tree_root_ = node;
    have_root_ = true;
  } else {
    open_.back().hasher.update(node.data(), node.size());
  }
}

void SealTree::add(std::string_view path, bool is_dir, const Sha256Digest& leaf) {
  if (count_ == 0) {
    if (!path.empty() || !is_dir) throw SealFormatError("the first record is not the root folder");
  } else {
    if (path.empty() || compare_paths(prev_path_, path) >= 0) {
      throw SealFormatError("records are out of order (\"" + std::string(path) + "\")");
    }
    std::string_view parent = parent_of(path);
    while (!open_.empty() && open_.back().path != parent) close_innermost();
    if (open_.empty()) throw SealFormatError("a record's folder is not in the seal (\"" + std::string(path) + "\")");
  }
  ++count_;
  prev_path_.assign(path);
  if (is_dir) {
    OpenDir dir{std::string(path), Sha256()};
    const char tag = 1;
    dir.hasher.update(&tag, 1);
    dir.hasher.update(leaf.data(), leaf.size());
    open_.push_back(std::move(dir));
  } else {
    open_.back().hasher.update(leaf.data(), leaf.size());
  }
}

Sha256Digest SealTree::finish(std::string_view id, uint8_t seal_flags) {
  while (!open_.empty()) close_innermost();
  if (!have_root_) throw SealFormatError("the seal holds no records");
  Sha256 h;
  const char tag = 2;
  h.update(&tag, 1);
  const auto id_len = static_cast<uint8_t>(id.size());
  h.update(&id_len, 1);
  h.update(id);
  h.update(&seal_flags, 1);
  uint8_t count[8];
  for (int i = 0; i < 8; ++i) count[i] = static_cast<uint8_t>(count_ >> (8 * i));
  h.update(count, 8);
  h.update(tree_root_.data(), tree_root_.size());
  return h.finish();
}

}  // namespace ferry
