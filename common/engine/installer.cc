#include "engine/installer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <functional>

#include "base/error.h"
#include "base/plural.h"
#include "fs/metadata.h"
#include "fs/rel_path.h"
#include "fs/temp_files.h"
#include "fs/unique_fd.h"
#include "platform/platform.h"

namespace ferry {

using wire::MessageLevel;

Installer::Installer(ConfinedRoot& root, DestinationState* state, Reporter& reporter, TransferStats& stats,
                     const ReceiverOptions& options)
    : root_(root), state_(state), reporter_(reporter), stats_(stats), options_(options),
      fsync_each_(options.flush_to_disk && !options.dry_run && !platform::can_flush_file_system(root.root_fd())),
      safety_net_(options.safety_net && !options.dry_run
                      ? std::make_unique<SafetyNet>(root.root_fd(), root.display(), ::time(nullptr))
                      : nullptr) {}

Installer::TempSpot Installer::temp_spot(const std::string& path) {
  dev_t device = 0;
  int dir = root_.parent_dir(path, &device);
  if (state_ != nullptr && device == state_->device()) {
    std::string name = temp_name_for(path);
    // A cut-off run's leftover that was not resumed (it could not be, or the entry is no
    // longer a file) is in the way; only this run writes in tmp/.
    if (state_->partials().count(name) != 0) ::unlinkat(state_->tmp_dir(), name.c_str(), 0);
    return {state_->tmp_dir(), std::move(name)};
  }
  return {dir, temp_file_name(++tmp_counter_)};
}

void Installer::note_folder_written(std::string folder) {
  if (folders_written_.size() > 0 && folder == last_folder_written_) return;
  last_folder_written_ = folder;
  FileEntry entry;
  entry.path = std::move(folder);
  entry.type = FileType::kDirectory;
  folders_written_.add(std::move(entry));
}

void Installer::install(int tmp_dir, const std::string& tmp, int dir, const std::string& path) {
  std::string leaf(leaf_of(path));
  changed_ = true;
  note_folder_written(std::string(parent_of(path)));
  bool removed_dir = false;
  int err = 0;
  if (safety_net_) {
    std::string problem = set_aside(dir, leaf, path, /*about_to_be_replaced=*/true, &removed_dir);
    if (!problem.empty()) {
      ::unlinkat(tmp_dir, tmp.c_str(), 0);
      return fail(problem + "; the new version was not put in its place, run again");
    }
  }
  if (::renameat(tmp_dir, tmp.c_str(), dir, leaf.c_str()) != 0) {
    err = errno;
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
      // A folder where the sender now has a file. What it holds was never listed (nothing is
      // listed below a file), so only a mirror run (--delete) may remove a folder with
      // contents; otherwise it stays, as rsync leaves it without --delete or --force.
      err = options_.delete_extraneous ? remove_tree_at(dir, leaf)
                                       : (::unlinkat(dir, leaf.c_str(), AT_REMOVEDIR) == 0 ? 0 : errno);
      if (err == ENOTEMPTY || err == EEXIST) {
        ::unlinkat(tmp_dir, tmp.c_str(), 0);
        return fail(root_.shown(path) + " is a folder with contents on the destination, where the source now has "
                    "a file: it was left as it is. Run with --delete to replace it (what it holds then goes to the "
                    "safety net)");
      }
      removed_dir = err == 0;
      if (err == 0 && ::renameat(tmp_dir, tmp.c_str(), dir, leaf.c_str()) != 0) err = errno;
    }
  }
  if (removed_dir) root_.forget();  // a cached folder may have been inside it
  if (err == 0) return;
  if (ends_the_run(err)) throw_unwritable(path, err);
  ::unlinkat(tmp_dir, tmp.c_str(), 0);
  fail(errno_message("cannot put " + root_.shown(path) + " in place", err));
}

void Installer::install_in_batch(std::string tmp, const std::string& path, uint64_t size) {
  static constexpr size_t kBatchFiles = 1024;
  static constexpr uint64_t kBatchBytes = 256ull << 20;
  waiting_.push_back({std::move(tmp), path});
  waiting_bytes_ += size;
  if (waiting_.size() >= kBatchFiles || waiting_bytes_ >= kBatchBytes) start_flush();
}

void Installer::install_waiting() {
  if (!waiting_.empty()) start_flush();
  finish_flush();
}

void Installer::start_flush() {
  finish_flush();
  flushing_ = std::move(waiting_);
  waiting_.clear();
  waiting_bytes_ = 0;
  if (!options_.flush_to_disk) return finish_flush();
  // Its own descriptor: the flush may outlive the root's (an exception unwinding the run).
  // Without one (out of descriptors), the batch is flushed here when finish_flush asks.
  UniqueFd fd(::fcntl(root_.root_fd(), F_DUPFD_CLOEXEC, 0));
  if (!fd.valid()) {
    flushed_ = std::async(std::launch::deferred, [this] { return platform::flush_file_system(root_.root_fd()); });
    return;
  }
  flushed_ = std::async(std::launch::async, [fd = std::move(fd)] { return platform::flush_file_system(fd.get()); });
}

void Installer::finish_flush() {
  if (flushed_.valid()) {
    if (int err = flushed_.get(); err != 0) fail(errno_message("cannot flush " + root_.shown("") + " to disk", err));
  }
  for (const Waiting& w : flushing_) {
    int dir = root_.parent_dir(w.path);
    if (dir < 0) {
      fail(errno_message("cannot reach the directory of " + root_.shown(w.path), errno));
      continue;
    }
    install(state_->tmp_dir(), w.tmp, dir, w.path);
  }
  flushing_.clear();
}

std::string Installer::set_aside(int dir, const std::string& leaf, const std::string& path,
                                 bool about_to_be_replaced, bool* moved_dir) {
  if (moved_dir != nullptr) *moved_dir = false;
  if (!safety_net_) return "";
  struct stat st {};
  if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return "";
  bool link = about_to_be_replaced && !S_ISDIR(st.st_mode);
  std::string problem = link ? safety_net_->keep_linked(dir, leaf, path) : safety_net_->keep_moved(dir, leaf, path);
  if (problem.empty()) ++stats_.kept_in_safety_net;
  if (moved_dir != nullptr) *moved_dir = problem.empty() && S_ISDIR(st.st_mode);
  return problem;
}

void Installer::fail(const std::string& text) {
  check_still_writable("");
  ++stats_.errors;
  reporter_.report(MessageLevel::kError, text);
}

void Installer::throw_unwritable(const std::string& path, int err) {
  std::string what = err == EROFS ? ": the destination's file system became read-only (the kernel does this after a "
                                    "disk error: see its log); repair it and run again"
                                  : ": the destination is full; free space there and run again";
  throw FatalError(errno_message("cannot write " + root_.shown(path), err) + what +
                   " (files already copied are complete, nothing was left half-written)");
}

void Installer::check_still_writable(const std::string& path) {
  if (state_ == nullptr) return;
  const char* probe = "write-probe";
  UniqueFd fd(::openat(state_->tmp_dir(), probe, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid() && ends_the_run(errno)) throw_unwritable(path, errno);
  if (fd.valid()) ::unlinkat(state_->tmp_dir(), probe, 0);
}

void Installer::remove_stale_temp_files_where_written(const std::set<std::string>& listed) {
  folders_written_.visit_newest_first([&](const FileEntry& folder) {
    const std::string& dir_path = folder.path;
    UniqueFd dir = root_.open(dir_path, O_RDONLY | O_DIRECTORY);
    if (!dir.valid()) return;
    // With the safety net on, even these go there: the name may be a user's file after all,
    // and an append-only key must not be able to destroy one by leaving it out of its list.
    auto into_safety_net = [&](const std::string& leaf) {
      struct stat st {};
      if (::fstatat(dir.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode)) return false;
      return set_aside(dir.get(), leaf, child_path(dir_path, leaf), /*about_to_be_replaced=*/false).empty();
    };
    size_t removed = remove_stale_temp_files(
        dir.get(), [&](std::string_view leaf) { return listed.count(child_path(dir_path, leaf)) != 0; },
        safety_net_ ? std::function<bool(const std::string&)>(into_safety_net) : nullptr);
    if (removed > 0) {
      reporter_.report(MessageLevel::kInfo, "removed " + counted(removed, "temporary file") +
                                                " an interrupted run left in " +
                                                root_.shown(dir_path));
      changed_ = true;
    }
  });
}

void Installer::finish_safety_net() {
  if (!safety_net_) return;
  if (safety_net_->kept() > 0) {
    reporter_.report(MessageLevel::kInfo, "kept " + counted(safety_net_->kept(), "deleted or replaced item") + " in " +
                                              safety_net_->folder_shown());
  }
  std::string problem;
  size_t pruned = safety_net_->prune(options_.safety_net_keep_s, options_.safety_net_keep_bytes, &problem);
  if (pruned > 0) {
    changed_ = true;
    reporter_.report(MessageLevel::kInfo, "pruned the " + counted(pruned, "oldest safety-net folder") + " in " +
                                              root_.shown(std::string(kSafetyNetDirName)));
  }
  if (!problem.empty()) reporter_.report(MessageLevel::kWarning, problem);
}

void Installer::flush_run() {
  if (!fsync_each_) {
    if (int err = platform::flush_file_system(root_.root_fd()); err != 0) {
      fail(errno_message("cannot flush " + root_.shown("") + " to disk", err));
    }
    return;
  }
  auto flush_folder = [&](const std::string& folder) {
    UniqueFd fd = root_.open(folder, O_RDONLY | O_DIRECTORY);
    int err = fd.valid() ? platform::flush_file(fd.get()) : 0;
    if (err != 0 && err != EINVAL) fail(errno_message("cannot flush " + root_.shown(folder) + " to disk", err));
  };
  bool root_flushed = false;
  folders_written_.visit_newest_first([&](const FileEntry& folder) {
    root_flushed |= folder.path.empty();
    flush_folder(folder.path);
  });
  if (!root_flushed) flush_folder("");
}

}  // namespace ferry
