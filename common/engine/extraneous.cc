#include "engine/extraneous.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "base/error.h"
#include "base/plural.h"
#include "base/log.h"
#include "fs/dest_state.h"
#include "fs/dir_names.h"
#include "fs/metadata.h"
#include "fs/rel_path.h"
#include "fs/temp_files.h"
#include "platform/platform.h"

namespace ferry {

using wire::MessageLevel;

// Everything in the folder was listed, so what else it holds now is unlisted. (The run adds no
// names of its own but temporary ones, which never count.)
void ExtraneousSweep::left_folder(const std::string& path, const ListedNames& names) {
  if (!options_.delete_extraneous) return;
  UniqueFd dir = root_.open(path, O_RDONLY | O_DIRECTORY);
  if (!dir.valid()) return;  // not made (reported), or a dry run's new folder
  for (const std::string& name : dir_names(dir.get())) {
    if (names.count(name) != 0) continue;
    if (path.empty() && is_reserved_top_name(name)) continue;
    if (temp_file_owner(name)) continue;  // another run's, or swept by the Installer
    unlisted_.push_back({child_path(path, name), path});
  }
}

void ExtraneousSweep::run(uint64_t sender_list_errors) {
  if (!options_.delete_extraneous) return;
  if (sender_list_errors > 0) {
    reporter_.report(MessageLevel::kWarning,
                     "nothing was deleted from " + root_.shown("") + ": the sender could not read " +
                         counted(sender_list_errors, "item") +
                         " (reported above), so a missing name need not be a deleted one");
    return;
  }
  // In list order, as the user reads the list.
  std::sort(unlisted_.begin(), unlisted_.end(),
            [](const Unlisted& a, const Unlisted& b) { return compare_paths(a.path, b.path) < 0; });
  UniqueFd dir;
  std::string dir_path;
  for (const Unlisted& item : unlisted_) {
    if (!dir.valid() || dir_path != item.folder) {
      dir = root_.open(item.folder, O_RDONLY | O_DIRECTORY);
      dir_path = item.folder;
      if (!dir.valid()) continue;
    }
    std::string name(leaf_of(item.path));
    struct stat st {};
    uint32_t flags = 0;
    if (platform::stat_at(dir.get(), name.c_str(), &st, &flags) != 0) continue;
    bool is_dir = S_ISDIR(st.st_mode);
    if (!options_.delete_excluded && options_.filters.excluded(item.path, is_dir)) continue;
    // An immutable or append-only file cannot be moved or removed; a mirror removes it all
    // the same (rsync --delete does not, and fails).
    if ((flags & file_flags::kProtecting) != 0 && !options_.dry_run) unprotect_at(dir.get(), name);
    delete_one(dir.get(), name, item.path, is_dir);
  }
  unlisted_.clear();
}

void ExtraneousSweep::delete_one(int dir, const std::string& leaf, const std::string& path, bool is_dir) {
  std::string shown = printable(path) + (is_dir ? "/" : "");
  if (options_.dry_run) {
    reporter_.report(MessageLevel::kInfo, "would delete " + shown);
    ++stats_.deleted;
    return;
  }
  installer_.note_change();
  std::string problem;
  if (installer_.has_safety_net()) {
    problem = installer_.set_aside(dir, leaf, path, /*about_to_be_replaced=*/false);
  } else if (int err = remove_tree_at(dir, leaf); err != 0) {
    problem = errno_message("cannot delete " + root_.shown(path), err);
  }
  if (is_dir) root_.forget();
  if (!problem.empty()) return installer_.fail(problem);
  reporter_.report(MessageLevel::kInfo, "deleted " + shown);
  ++stats_.deleted;
}

}  // namespace ferry
