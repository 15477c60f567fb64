// --delete: what the destination has in a listed folder and the sender did not list goes (into
// the safety net, if it is on), once every new file is in place, so a run that is cut short
// has never deleted before it copied. Names the filters leave out stay, unless
// --delete-excluded; nothing goes if the sender could not list everything, since a name it
// could not read is not a name it deleted (rsync does the same).
//
// Memory is a folder's names, not the tree's: the list is depth-first, so a folder is complete
// when the list leaves it; its unlisted names are read then and kept (usually none) until the
// end of the run, when they go.
#pragma once

#include <string>
#include <unordered_set>
#include <vector>

#include "engine/installer.h"

namespace ferry {

class ExtraneousSweep {
 public:
  ExtraneousSweep(ConfinedRoot& root, Installer& installer, Reporter& reporter, TransferStats& stats,
                  const ReceiverOptions& options)
      : root_(root), installer_(installer), reporter_(reporter), stats_(stats), options_(options) {}

  // A folder's names as the sender listed them, gathered by the receiver, which keeps the
  // stack of folders the list is in (the list is depth-first). Empty unless wants_names().
  using ListedNames = std::unordered_set<std::string>;
  bool wants_names() const { return options_.delete_extraneous; }

  // The list has left folder `path`, whose listed names were `names`; not for a folder that was
  // not placed (its name was taken, name_is_taken), nor anything in it. What else the folder
  // holds now is unlisted, kept until run().
  void left_folder(const std::string& path, const ListedNames& names);

  // Deletes what the listed folders held that was not listed. Call once the list has ended, the
  // list has left every folder, and every file is in place.
  void run(uint64_t sender_list_errors);

 private:
  struct Unlisted {
    std::string path;
    std::string folder;  // parent_of(path), kept whole for opening
  };
  void delete_one(int dir, const std::string& leaf, const std::string& path, bool is_dir);

  ConfinedRoot& root_;
  Installer& installer_;
  Reporter& reporter_;
  TransferStats& stats_;
  const ReceiverOptions& options_;
  std::vector<Unlisted> unlisted_;  // found when their folder was complete
};

}  // namespace ferry
