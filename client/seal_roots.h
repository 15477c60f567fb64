// FERRY_HOME/seals: the root of every seal this computer made, per destination. The backup
// machine keeps each seal whole; the root kept here is what makes that copy trustworthy: a
// seal rewritten there no longer matches it (docs/SEALS.md).
//
// One line per seal, appended in one write and never rewritten:
//   <root: 64 hex digits> <entries> <seal ID> <destination, %-escaped>
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "seal/sha256.h"

namespace ferry {

struct RememberedSeal {
  Sha256Digest root{};
  uint64_t entries = 0;
};

class SealRoots {
 public:
  explicit SealRoots(std::string path);

  // Appends a seal made for `destination` (volume_key's form). Throws FatalError.
  void remember(const std::string& destination, const std::string& id, const Sha256Digest& root,
                uint64_t entries) const;
  // The seal `id` of `destination`, if this computer made it.
  std::optional<RememberedSeal> find(const std::string& destination, const std::string& id) const;
  // Whether this computer made any seal of `destination`.
  bool knows(const std::string& destination) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string default_seal_roots();  // FERRY_HOME/seals

}  // namespace ferry
