#include "seal/sealed_hashes.h"

#include "protocol/rel_path.h"

namespace ferry {

SealedHashes::SealedHashes(UniqueFd seals_dir, std::string name, std::string prefix)
    : dir_(std::move(seals_dir)), name_(std::move(name)), prefix_(std::move(prefix)) {
  cursor_ = SealCursor::open(dir_.get(), name_, ".ferry-state/seals/" + name_);
}

std::optional<Sha256Digest> SealedHashes::find(const std::string& path) {
  std::string sealed_path = child_path(prefix_, path);
  if (!last_.empty() && compare_paths(sealed_path, last_) < 0) {
    cursor_ = SealCursor::open(dir_.get(), name_, ".ferry-state/seals/" + name_);
  }
  last_ = sealed_path;
  const SealRecord* record = cursor_.find(sealed_path);
  if (record == nullptr || record->entry.type != FileType::kRegular || (record->flags & SealRecord::kNotStored)) {
    return std::nullopt;
  }
  return record->content;
}

}  // namespace ferry
