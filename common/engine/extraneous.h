// --delete: what the destination has in a listed folder and the sender did not list goes (into
// the safety net, if it is on), once every new file is in place, so a run that is cut short
// has never deleted before it copied. Names the filters leave out stay, unless
// --delete-excluded; nothing goes if the sender could not list everything, since a name it
// could not read is not a name it deleted (rsync does the same).
#pragma once

#include <string>
#include <unordered_set>
#include <vector>

#include "engine/installer.h"
#include "protocol/file_entry.h"

namespace ferry {

class ExtraneousSweep {
 public:
  ExtraneousSweep(ConfinedRoot& root, Installer& installer, Reporter& reporter, TransferStats& stats,
                  const ReceiverOptions& options)
      : root_(root), installer_(installer), reporter_(reporter), stats_(stats), options_(options) {}

  // Every entry the sender listed (kept only when the run deletes).
  void listed(const std::string& path) {
    if (options_.delete_extraneous) listed_paths_.insert(path);
  }

  // Deletes what is in the root and in `dirs` (the listed folders) but was not listed.
  void run(const std::vector<FileEntry>& dirs, uint64_t sender_list_errors);

 private:
  void delete_one(int dir, const std::string& leaf, const std::string& path, bool is_dir);

  ConfinedRoot& root_;
  Installer& installer_;
  Reporter& reporter_;
  TransferStats& stats_;
  const ReceiverOptions& options_;
  std::unordered_set<std::string> listed_paths_;
};

}  // namespace ferry
