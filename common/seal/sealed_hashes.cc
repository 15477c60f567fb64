#include "seal/sealed_hashes.h"

#include "protocol/rel_path.h"

namespace ferry {

SealedHashes::SealedHashes(UniqueFd seals_dir, std::string name, std::string prefix)
    : dir_(std::move(seals_dir)), name_(std::move(name)), prefix_(std::move(prefix)) {
  open_from_start();
}

void SealedHashes::open_from_start() { cursor_ = SealCursor::open(dir_.get(), name_, ".ferry-state/seals/" + name_); }

std::optional<Sha256Digest> SealedHashes::find(const std::string& path) {
  std::string sealed_path = child_path(prefix_, path);
  if (!last_.empty() && compare_paths(sealed_path, last_) < 0) open_from_start();
  last_ = sealed_path;
  const SealRecord* record = cursor_.find(sealed_path);
  if (record == nullptr || record->entry.type != FileType::kRegular || (record->flags & SealRecord::kNotStored)) {
    return std::nullopt;
  }
  return record->content;
}

}  // namespace ferry
