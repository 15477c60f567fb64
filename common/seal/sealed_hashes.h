// A restore from a sealed backup: the content hash the seal holds for each file as it is sent.
// The sender looks a file up when it sends it (the hash travels in its FileEnd), not when it
// lists it, so a restore that sends nothing sends no hashes: 32 bytes an entry less on the
// wire of every no-change restore.
#pragma once

#include <optional>
#include <string>

#include "fs/unique_fd.h"
#include "seal/seal_cursor.h"
#include "seal/sha256.h"

namespace ferry {

class SealedHashes {
 public:
  // The seal `name` in the folder `seals_dir` (owned); `prefix` is where the tree sent is in
  // the sealed tree ("" = its top).
  SealedHashes(UniqueFd seals_dir, std::string name, std::string prefix);

  // The hash the seal holds for the regular file at `path` (relative to the tree sent), or
  // nothing when the seal does not hold one (no record, not a regular file, not stored, or the
  // seal is missing or damaged). Files are asked for nearly in list order, so the seal is read
  // forward once; a path before the last one asked for (a file sent again) reads it again from
  // its start.
  std::optional<Sha256Digest> find(const std::string& path);

  // Whether there is a seal to look in (it may still turn out damaged): without one, there is
  // nothing to check a restored file against, and no reason to hash it.
  bool exists() const { return cursor_.exists(); }

 private:
  void open_from_start();

  UniqueFd dir_;
  std::string name_;
  std::string prefix_;
  SealCursor cursor_;
  std::string last_;  // the last sealed path asked for; "" before the first
};

}  // namespace ferry
