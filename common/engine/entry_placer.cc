#include "engine/entry_placer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/bytes.h"
#include "base/error.h"
#include "base/log.h"
#include "delta/file_hash.h"
#include "fs/rel_path.h"
#include "fs/stored_metadata.h"
#include "fs/temp_files.h"
#include "platform/platform.h"

namespace ferry {

using wire::MessageLevel;
using wire::MsgType;

bool EntryPlacer::place(uint64_t index, int dir, FileEntry& entry, const Existing* existing) {
  switch (entry.type) {
    case FileType::kDirectory: return make_directory(dir, entry, existing);
    case FileType::kRegular: plan_file(index, dir, entry, existing); return false;
    default: make_special(dir, entry, existing); return false;
  }
}

std::optional<WantedFile> EntryPlacer::take_wanted(uint64_t index) {
  auto it = wanted_.find(index);
  if (it == wanted_.end()) return std::nullopt;
  WantedFile wanted = std::move(it->second);
  wanted_.erase(it);
  return wanted;
}

void EntryPlacer::want_again(uint64_t index, WantedFile file) {
  send_want(Want{index, wire::kWantRetry});
  wanted_.emplace(index, std::move(file));
}

bool EntryPlacer::make_directory(int dir, FileEntry& entry, const Existing* existing) {
  bool made = false;
  if (!options_.dry_run) {
    std::string leaf(leaf_of(entry.path));
    // An immutable or append-only folder cannot take new names; its flags come back at the
    // end, with the rest of its metadata.
    if (existing != nullptr && (existing->flags & file_flags::kProtecting) != 0) unprotect_at(dir, leaf);
    if (existing != nullptr && !S_ISDIR(existing->st.st_mode)) {
      std::string problem = installer_.set_aside(dir, leaf, entry.path, /*about_to_be_replaced=*/false);
      if (!problem.empty()) {
        fail(problem + "; it was not replaced with a directory");
        return false;
      }
      if (!installer_.has_safety_net() && ::unlinkat(dir, leaf.c_str(), 0) != 0) {
        fail(errno_message("cannot replace " + root_.shown(entry.path) + " with a directory", errno));
        return false;
      }
      existing = nullptr;
    }
    if (existing == nullptr) {
      // 0700 until the end of the run, so a read-only directory can still be filled.
      installer_.note_change();
      if (::mkdirat(dir, leaf.c_str(), 0700) != 0) {
        if (ends_the_run(errno)) installer_.throw_unwritable(entry.path, errno);
        fail(errno_message("cannot create directory " + root_.shown(entry.path), errno));
        return false;
      }
      made = true;
    } else if (!options_.keep_owner && (existing->st.st_mode & S_IRWXU) != S_IRWXU) {
      ::fchmodat(dir, leaf.c_str(), (existing->st.st_mode & 07777) | S_IRWXU, 0);
    }
  }
  dirs_.add(std::move(entry));
  return made;
}

// The per-file "how to transfer" step: nothing, metadata only, or data. A basis for a delta
// is chosen here too, once the delta engine exists.
void EntryPlacer::plan_file(uint64_t index, int dir, FileEntry& entry, const Existing* existing) {
  bool same_size = existing != nullptr && S_ISREG(existing->st.st_mode) &&
                   static_cast<uint64_t>(existing->st.st_size) == entry.size;
  // The quick check is size and mtime; with --checksum the sender sent the content's hash,
  // and only equal contents count as the same (a file whose mtime alone differs then just
  // gets its mtime).
  timespec mtime = storable_mtime(entry, apply_);
  bool same_content = same_size && (entry.content_hash.empty()
                                        ? platform::same_time(platform::modified_time(existing->st), mtime)
                                        : hash_of(dir, entry.path) == entry.content_hash);
  if (same_content) return refresh_metadata(dir, entry, *existing);
  if (existing == nullptr && dir >= 0 && !options_.dry_run && reuse_earlier_version(index, dir, entry)) return;
  ++stats_.files_transferred;
  stats_.bytes_wanted += entry.size;
  if (!options_.dry_run && existing != nullptr && (existing->flags & file_flags::kProtecting) != 0) {
    unprotect_at(dir, std::string(leaf_of(entry.path)));  // it is about to be replaced
  }
  if (options_.dry_run) {
    // Through the reporter: on backup this runs in the agent, and the user is at the client.
    reporter_.report(MessageLevel::kInfo, "would copy " + printable(entry.path));
    return;
  }
  WantedFile wanted;
  wanted.entry = std::move(entry);
  wanted.replaces_file = existing != nullptr && S_ISREG(existing->st.st_mode);
  if (resume_partial(index, wanted)) return;
  if (existing != nullptr && S_ISREG(existing->st.st_mode) && existing->st.st_size > 0) {
    // We have an old version: the signer describes it and sends the Want.
    std::string leaf(leaf_of(wanted.entry.path));
    UniqueFd basis(::openat(dir, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (basis.valid()) {
      wanted_.emplace(index, std::move(wanted));
      signer_.sign(index, std::move(basis), existing->st);
      return;
    }
  }
  send_want(Want{index});
  wanted_.emplace(index, std::move(wanted));
}

// A run that was cut off left the first part of this file in tmp/: that becomes the basis, so
// what arrived then is not sent again (rsync's --partial). It is set aside as "<name>.basis"
// while the new copy is written under the file's own temporary name.
bool EntryPlacer::resume_partial(uint64_t index, WantedFile& wanted) {
  if (state_ == nullptr) return false;
  std::string name = temp_name_for(wanted.entry.path);
  if (state_->partials().count(name) == 0) return false;
  std::string basis = partial_basis_name(wanted.entry.path);
  int tmp = state_->tmp_dir();
  if (::renameat(tmp, name.c_str(), tmp, basis.c_str()) != 0) return false;
  UniqueFd fd(::openat(tmp, basis.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return false;
  spdlog::debug("{}: resuming from the {} bytes an earlier run received", printable(wanted.entry.path), st.st_size);
  wanted.basis_is_partial = true;
  wanted_.emplace(index, std::move(wanted));
  signer_.sign(index, std::move(fd), st);
  return true;
}

// A file new to the tree that the landing has an earlier version of (the previous
// snapshot's): the same content with the same metadata is linked to it, the same content
// with other metadata is copied (a shared inode never changes), and other content is
// delta-encoded against it. Returns false when there is none.
bool EntryPlacer::reuse_earlier_version(uint64_t index, int dir, FileEntry& entry) {
  EarlierVersion earlier = landing_.earlier_version(entry.path);
  if (!earlier) return false;
  timespec mtime = storable_mtime(entry, apply_);
  timespec earlier_mtime = platform::modified_time(earlier.st);
  bool same_content = static_cast<uint64_t>(earlier.st.st_size) == entry.size &&
                      (entry.content_hash.empty()
                           ? platform::same_time(earlier_mtime, mtime)
                           : hash_of(earlier.dir, entry.path) == entry.content_hash);
  std::string leaf(leaf_of(entry.path));
  if (same_content) {
    if (metadata_matches(earlier.dir, earlier.leaf, earlier.st, earlier.flags, entry)) {
      installer_.note_change();
      if (::linkat(earlier.dir, earlier.leaf.c_str(), dir, leaf.c_str(), 0) == 0) return true;
      // EMLINK (too many links), EPERM (an immutable file), EXDEV: a copy does as well.
      spdlog::debug("{}: cannot link to the earlier version ({}); copying it", printable(entry.path),
                    std::strerror(errno));
    }
    copy_with_metadata(earlier.dir, earlier.leaf, dir, entry);
    return true;
  }
  UniqueFd basis = landing_.open_earlier(entry.path);
  if (!basis.valid() || earlier.st.st_size == 0) return false;
  ++stats_.files_transferred;
  WantedFile wanted;
  wanted.entry = std::move(entry);
  wanted.basis_is_earlier = true;
  wanted_.emplace(index, std::move(wanted));
  signer_.sign(index, std::move(basis), earlier.st);
  return true;
}

// A new inode for `entry` with the content of from_dir/from_leaf and the entry's metadata,
// put at the entry's name in `dir`: the file's metadata changed, but its inode is shared
// with an older snapshot that must not change. A clone where the file system has them.
void EntryPlacer::copy_with_metadata(int from_dir, const std::string& from_leaf, int dir, const FileEntry& entry) {
  installer_.note_change();
  UniqueFd from(::openat(from_dir, from_leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!from.valid()) return fail(errno_message("cannot read the earlier copy of " + root_.shown(entry.path), errno));
  Installer::TempSpot spot = installer_.temp_spot(entry.path);
  UniqueFd to(::openat(spot.dir, spot.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  int err = to.valid() ? platform::copy_file_data(from.get(), to.get()) : errno;
  std::string problem = err == 0 ? apply_metadata_fd(to.get(), entry, apply_) : "";
  if (err != 0 || !problem.empty()) {
    if (to.valid()) ::unlinkat(spot.dir, spot.name.c_str(), 0);
    if (err != 0 && ends_the_run(err)) installer_.throw_unwritable(entry.path, err);
    return fail(err != 0 ? errno_message("cannot copy " + root_.shown(entry.path), err)
                         : root_.shown(entry.path) + ": " + problem);
  }
  installer_.install(spot.dir, spot.name, dir, entry.path);
  protect_later(entry);
}

std::string EntryPlacer::hash_of(int dir, const std::string& path) {
  std::string leaf(leaf_of(path));
  UniqueFd fd(::openat(dir, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  return fd.valid() ? hash_whole_file(fd.get()) : "";
}

void EntryPlacer::send_want(const Want& want) {
  std::lock_guard order(wire_order_);
  Encoder e;
  want.encode(e);
  out_.send(MsgType::kWant, e);
}

// Whether the file `leaf` in dir (whose stat and flags are given) has the entry's owner,
// mode, times, flags, xattrs and ACL.
bool EntryPlacer::metadata_matches(int dir, const std::string& leaf, const struct stat& st, uint32_t flags,
                      const FileEntry& entry) {
  FileEntry on_disk;
  std::string stored;
  bool attributes_same = platform::read_attributes_at(dir, leaf, &on_disk, &stored);
  on_disk.flags = flags;
  return attributes_same && attributes_match(on_disk, entry, apply_) && stat_matches(st, stored, entry, apply_);
}

// An unchanged file may still have a new owner, mode, xattrs or ACL.
void EntryPlacer::refresh_metadata(int dir, const FileEntry& entry, const Existing& existing) {
  std::string leaf(leaf_of(entry.path));
  if (metadata_matches(dir, leaf, existing.st, existing.flags, entry)) return;
  if (options_.dry_run) return;
  if (!landing_.may_change_in_place(existing.st)) return copy_with_metadata(dir, leaf, dir, entry);
  installer_.note_change();
  UniqueFd fd(::openat(dir, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return fail(errno_message("cannot update metadata of " + root_.shown(entry.path), errno));
  std::string problem = apply_metadata_fd(fd.get(), entry, apply_);
  if (!problem.empty()) fail(root_.shown(entry.path) + ": " + problem);
  protect_later(entry);
}

// Immutable and append-only flags go on once the file is in place and linked (an immutable
// file cannot be renamed or linked to): finish_tree sets them.
void EntryPlacer::protect_later(const FileEntry& entry) {
  if ((flags_to_apply(entry, apply_) & file_flags::kProtecting) == 0 || entry.type != FileType::kRegular) return;
  FileEntry later;
  later.path = entry.path;
  later.type = entry.type;
  later.flags = entry.flags;
  to_protect_.push_back(std::move(later));
}

// Symlinks, fifos, devices: made under a temporary name, then renamed over the real one.
void EntryPlacer::make_special(int dir, FileEntry& entry, const Existing* existing) {
  std::string leaf(leaf_of(entry.path));
  if (!options_.dry_run && existing != nullptr && (existing->flags & file_flags::kProtecting) != 0) {
    unprotect_at(dir, leaf);  // a protected file where the sender now has a link or a device
  }
  if (existing != nullptr && entry.type == FileType::kSymlink && S_ISLNK(existing->st.st_mode)) {
    std::string target(kMaxPathBytes + 1, '\0');
    ssize_t n = ::readlinkat(dir, leaf.c_str(), target.data(), target.size());
    if (n >= 0 && std::string_view(target.data(), static_cast<size_t>(n)) == entry.link_target) {
      if (!stat_matches(existing->st, "", entry, apply_) && !options_.dry_run) {
        std::string problem = apply_metadata_at(dir, leaf, entry, apply_);
        if (!problem.empty()) fail(root_.shown(entry.path) + ": " + problem);
      }
      return;
    }
  }
  if (apply_.store_metadata && stored_as_regular_file(entry.type)) return store_special(dir, entry, existing);
  if (options_.dry_run) return;
  Installer::TempSpot spot = installer_.temp_spot(entry.path);
  const char* tmp = spot.name.c_str();
  int rc = 0;
  switch (entry.type) {
    case FileType::kSymlink: rc = ::symlinkat(entry.link_target.c_str(), spot.dir, tmp); break;
    case FileType::kFifo: rc = ::mknodat(spot.dir, tmp, S_IFIFO | 0600, 0); break;
    case FileType::kCharDevice:
    case FileType::kBlockDevice: {
      dev_t device = 0;
      if (!platform::make_device(entry.dev_major, entry.dev_minor, &device)) {
        return fail("cannot create " + root_.shown(entry.path) + ": device " + std::to_string(entry.dev_major) +
                    "," + std::to_string(entry.dev_minor) + " does not exist on this system");
      }
      rc = ::mknodat(spot.dir, tmp, (entry.type == FileType::kCharDevice ? S_IFCHR : S_IFBLK) | 0600, device);
      break;
    }
    default: FERRY_CHECK(false);
  }
  if (rc != 0) {
    if (ends_the_run(errno)) installer_.throw_unwritable(entry.path, errno);
    return fail(errno_message(std::string("cannot create ") + file_type_name(entry.type) + " " +
                                  root_.shown(entry.path), errno));
  }
  std::string problem = apply_metadata_at(spot.dir, spot.name, entry, apply_);
  if (!problem.empty()) fail(root_.shown(entry.path) + ": " + problem);
  installer_.install(spot.dir, spot.name, dir, entry.path);
}

// A fifo or device on a receiver that stores metadata: an empty regular file whose attribute
// says what it is. One that already says so only has its metadata refreshed.
void EntryPlacer::store_special(int dir, const FileEntry& entry, const Existing* existing) {
  std::string leaf(leaf_of(entry.path));
  if (existing != nullptr && S_ISREG(existing->st.st_mode) && existing->st.st_size == 0) {
    UniqueFd fd(::openat(dir, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    std::string stored;
    std::optional<StoredMetadata> was;
    if (fd.valid() && platform::get_xattr_fd(fd.get(), platform::metadata_xattr_name(), &stored)) {
      was = decode_stored_metadata(stored);
    }
    if (was && was->type == entry.type && was->dev_major == entry.dev_major && was->dev_minor == entry.dev_minor) {
      return refresh_metadata(dir, entry, *existing);
    }
  }
  if (options_.dry_run) return;
  installer_.note_change();
  Installer::TempSpot spot = installer_.temp_spot(entry.path);
  UniqueFd fd(::openat(spot.dir, spot.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    if (ends_the_run(errno)) installer_.throw_unwritable(entry.path, errno);
    return fail(errno_message(std::string("cannot create ") + file_type_name(entry.type) + " " +
                                  root_.shown(entry.path), errno));
  }
  std::string problem = apply_metadata_fd(fd.get(), entry, apply_);
  if (!problem.empty()) {
    ::unlinkat(spot.dir, spot.name.c_str(), 0);
    return fail(root_.shown(entry.path) + ": " + problem);
  }
  installer_.install(spot.dir, spot.name, dir, entry.path);
}

}  // namespace ferry
