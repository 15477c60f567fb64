#include "engine/leader_paths.h"

#include <algorithm>
#include <stdexcept>

#include "protocol/rel_path.h"

namespace ferry {

LeaderPaths::LeaderPaths(size_t block_names, int spill_dir)
    : block_names_(std::max<size_t>(block_names, 1)), file_(spill_dir) {}

void LeaderPaths::add(uint64_t index, std::string_view path) {
  if (count_ > 0 && index <= last_) {
    throw std::logic_error("hard-link leaders out of order: " + std::to_string(index) + " after " +
                           std::to_string(last_));
  }
  if (open_names_ == 0) open_first_ = index;
  open_.varint(open_names_ == 0 ? 0 : index - last_);
  open_.bytes(path);
  last_ = index;
  ++open_names_;
  ++count_;
  if (open_names_ >= block_names_) close_block();
}

void LeaderPaths::close_block() {
  Block block;
  block.first = open_first_;
  block.bytes = static_cast<uint32_t>(open_.data().size());
  block.offset = file_.size();
  if (!file_.append(open_.data())) block.held = open_.take();
  blocks_.push_back(std::move(block));
  open_.clear();
  open_names_ = 0;
}

std::optional<std::string> LeaderPaths::find_in(std::string_view block, uint64_t first, uint64_t index) {
  Decoder d(block);
  uint64_t at = first;
  while (!d.at_end()) {
    at += d.varint("index step");
    std::string_view path = d.bytes("path", kMaxPathBytes);
    if (at == index) return std::string(path);
    if (at > index) break;
  }
  return std::nullopt;
}

std::optional<std::string> LeaderPaths::find(uint64_t index) const {
  if (open_names_ > 0 && index >= open_first_) return find_in(open_.data(), open_first_, index);
  auto after = std::upper_bound(blocks_.begin(), blocks_.end(), index,
                                [](uint64_t i, const Block& b) { return i < b.first; });
  if (after == blocks_.begin()) return std::nullopt;
  size_t at = static_cast<size_t>(after - blocks_.begin()) - 1;
  const Block& block = blocks_[at];
  if (!block.held.empty()) return find_in(block.held, block.first, index);
  if (cached_block_ != at) {
    cached_ = file_.read(block.offset, block.bytes);
    cached_block_ = at;
  }
  return find_in(cached_, block.first, index);
}

size_t LeaderPaths::spilled_blocks() const {
  return static_cast<size_t>(std::count_if(blocks_.begin(), blocks_.end(), [](const Block& b) { return b.held.empty(); }));
}

}  // namespace ferry
