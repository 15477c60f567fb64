#include "engine/receiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/plural.h"
#include "base/log.h"
#include "compress/zstd_stream.h"
#include "engine/basis_signer.h"
#include "engine/extraneous.h"
#include "engine/incoming_file.h"
#include "engine/installer.h"
#include "engine/metadata_notices.h"
#include "engine/session.h"
#include "fs/metadata.h"
#include "fs/name_folding.h"
#include "fs/rel_path.h"
#include "fs/stored_metadata.h"
#include "fs/symlink_owners.h"
#include "fs/temp_files.h"
#include "platform/platform.h"

namespace ferry {

using wire::MessageLevel;
using wire::MsgType;

namespace {

// What is at an entry's name on the destination before the run touches it.
struct Existing {
  struct stat st {};
  uint32_t flags = 0;  // file_flags bits (platform::stat_at)
};

struct PendingLink {
  FileEntry entry;
  uint64_t leader = 0;
};

class ReceiveSession {
 public:
  ReceiveSession(FrameReader& in, FrameWriter& out, Reporter& reporter, TransferStats& stats,
                 const ReceiverOptions& options, Landing& landing, DestinationState* state)
      : in_(in), out_(out), reporter_(reporter), stats_(stats), options_(options), landing_(landing),
        root_(landing.tree()), state_(state),
        apply_{options.keep_owner, TimeRange{}, options.store_metadata, ::geteuid(), ::getegid()} {}

  Done run() {
    if (state_ != nullptr) report_previous_run();
    if (state_ != nullptr && !options_.dry_run) {
      apply_.times = probe_time_range(state_->tmp_dir(), "time-probe");
      apply_.keeps_acls = probe_acls(state_->tmp_dir(), "acl-probe");
      folding_ = probe_name_folding(state_->tmp_dir());
      if (apply_.store_metadata && !probe_stored_metadata(state_->tmp_dir(), "xattr-probe")) {
        apply_.store_metadata = false;  // MetadataNotices then says what is lost
        reporter_.report(MessageLevel::kWarning,
                         root_.shown("") + " is on a file system without extended attributes, so " +
                             options_.program_name + " (not root) cannot keep owners, setuid bits or devices "
                             "there; put the backup on a file system that has them (ext4, XFS, btrfs, APFS) "
                             "or run the agent as root.");
      }
    }
    while (!list_done_ || !wanted_.empty() || incoming_.active()) {
      Frame f = in_.next();
      if (handle_common_frame(f, reporter_)) continue;
      switch (f.type) {
        case MsgType::kEntry: on_entries(f.payload); break;
        case MsgType::kEndOfList: on_end_of_list(EndOfList::decode(f.payload)); break;
        case MsgType::kFileData: on_file_data(FileDataView::decode(f.payload)); break;
        case MsgType::kFileHole: on_file_hole(FileHole::decode(f.payload)); break;
        case MsgType::kFileDelta: on_file_delta(f.payload); break;
        case MsgType::kCompressed:
          if (!options_.compressed) throw ProtocolError("Compressed frame, but compression was not negotiated");
          on_compressed(CompressedView::decode(f.payload));
          break;
        case MsgType::kFileEnd: on_file_end(FileEnd::decode(f.payload)); break;
        case MsgType::kFileFailed: on_file_failed(FileFailed::decode(f.payload)); break;
        default:
          throw ProtocolError(std::string("unexpected ") + wire::msg_type_name(f.type) + " from the sender");
      }
    }
    finish_tree();
    Done done;
    done.files_total = stats_.files_total;
    done.files_transferred = stats_.files_transferred;
    done.bytes_total = stats_.bytes_total;
    done.bytes_literal = stats_.bytes_literal;
    done.bytes_matched = stats_.bytes_matched;
    done.bytes_compressed_raw = stats_.bytes_compressed_raw;
    done.bytes_compressed_wire = stats_.bytes_compressed_wire;
    done.errors = stats_.errors;
    done.deleted = stats_.deleted;
    done.kept_in_safety_net = stats_.kept_in_safety_net;
    Encoder e;
    done.encode(e);
    out_.send(MsgType::kDone, e);
    out_.flush();
    wait_for_bye();
    return done;
  }

 private:
  void fail(const std::string& text) { installer_.fail(text); }

  void report_previous_run() {
    if (!state_->took_over_from().empty()) {
      spdlog::debug("took over the lock of a run that is gone: {}", state_->took_over_from());
    }
    if (!state_->unfinished_previous_run().empty()) {
      std::string resumable = state_->partials().empty()
                                  ? ""
                                  : " (" + counted(state_->partials().size(), "cut-off file") + " will be resumed)";
      reporter_.report(MessageLevel::kWarning, "the previous run into " + root_.shown("") + " did not finish (" +
                                                state_->unfinished_previous_run() + "); this run completes it" +
                                                resumable);
    }
  }

  // ---- the file list ----

  void check_order(const FileEntry& entry) {
    if (next_index_ == 0) {
      if (!entry.path.empty()) throw ProtocolError("the first entry must be the root");
      return;
    }
    if (entry.path.empty() || compare_paths(prev_path_, entry.path) >= 0) {
      throw ProtocolError("entry \"" + printable(entry.path) + "\" is out of order or a duplicate");
    }
    std::string_view parent = parent_of(entry.path);
    while (!dir_stack_.empty() && dir_stack_.back().path != parent) dir_stack_.pop_back();
    if (dir_stack_.empty()) {
      throw ProtocolError("entry \"" + printable(entry.path) + "\" arrived without its directory");
    }
  }

  void on_entry(FileEntry entry) {
    if (list_done_) throw ProtocolError("Entry after EndOfList");
    check_order(entry);
    uint64_t index = next_index_++;
    prev_path_ = entry.path;
    bool skipped = index > 0 && name_is_taken(entry);
    if (entry.type == FileType::kDirectory) dir_stack_.push_back({entry.path, skipped, {}});
    if (entry.type == FileType::kRegular) stats_.bytes_total += entry.size;
    if (index == 0) {
      root_entry_ = std::move(entry);
      return;
    }
    if (is_reserved_top_name(entry.path)) {
      throw ProtocolError("entry \"" + printable(entry.path) + "\" has a name Ferry keeps for itself");
    }
    ++stats_.files_total;
    sweep_.listed(entry.path);
    if (skipped) {
      if (entry.hardlink_of == index + 1) skipped_leaders_.insert(index);
      return;
    }
    notices_.look_at(entry, root_.shown(entry.path));
    if (temp_file_owner(leaf_of(entry.path))) listed_temp_like_.insert(entry.path);  // never swept

    if (entry.type == FileType::kRegular && entry.hardlink_of != 0) {
      uint64_t leader = entry.hardlink_of - 1;
      if (leader == index) {
        leaders_[index] = entry.path;
      } else if (leader < index && leaders_.count(leader) != 0) {
        links_.push_back({std::move(entry), leader});
        return;
      } else if (skipped_leaders_.count(leader) != 0) {
        return fail(root_.shown(entry.path) + " was not copied: it is a hard link to a name that was not copied");
      } else {
        throw ProtocolError("entry \"" + printable(entry.path) + "\" links to an entry that is not a file");
      }
    }

    int dir = root_.parent_dir(entry.path);
    Existing existing;
    bool exists = false;
    if (dir < 0) {
      if (!(options_.dry_run && errno == ENOENT)) {
        return fail(errno_message("cannot reach the directory of " + root_.shown(entry.path), errno));
      }
    } else {
      std::string leaf(leaf_of(entry.path));
      if (platform::stat_at(dir, leaf.c_str(), &existing.st, &existing.flags) == 0) {
        exists = true;
      } else if (errno != ENOENT) {
        return fail(errno_message("cannot stat " + root_.shown(entry.path), errno));
      }
    }

    if (entry.type == FileType::kSymlink && apply_.store_metadata &&
        (entry.uid != apply_.own_uid || entry.gid != apply_.own_gid)) {
      append_symlink_owner(&symlink_owners_, entry.path, entry.uid, entry.gid);
    }
    switch (entry.type) {
      case FileType::kDirectory: return make_directory(dir, entry, exists ? &existing : nullptr);
      case FileType::kRegular: return plan_file(index, dir, entry, exists ? &existing : nullptr);
      default: return make_special(dir, entry, exists ? &existing : nullptr);
    }
  }

  // On a destination that folds names (name_folding.h), two names of one folder that differ
  // only by case or normalization are one name: the first listed keeps it, the second is not
  // copied (its data would replace the first's), nor anything in it if it is a folder.
  bool name_is_taken(const FileEntry& entry) {
    ListedDir& parent = dir_stack_.back();
    if (parent.skipped) return true;  // reported with the folder
    if (!folding_.any()) return false;
    std::string leaf(leaf_of(entry.path));
    auto [first, inserted] = parent.folded_names.try_emplace(fold_name(leaf, folding_), leaf);
    if (inserted) return false;
    fail("\"" + printable(first->second) + "\" and \"" + printable(leaf) + "\" in " + root_.shown(parent.path) +
         " differ only by letter case or Unicode normalization, and the destination's file system treats them as "
         "one name: \"" + printable(leaf) + "\" was not copied" +
         (entry.type == FileType::kDirectory ? " (a folder: nothing in it was copied either)" : "") +
         ". Rename one of them on the source, or back up to a case-sensitive volume");
    return true;
  }

  void make_directory(int dir, FileEntry& entry, const Existing* existing) {
    if (!options_.dry_run) {
      std::string leaf(leaf_of(entry.path));
      // An immutable or append-only folder cannot take new names; its flags come back at the
      // end, with the rest of its metadata.
      if (existing != nullptr && (existing->flags & file_flags::kProtecting) != 0) unprotect_at(dir, leaf);
      if (existing != nullptr && !S_ISDIR(existing->st.st_mode)) {
        std::string problem = installer_.set_aside(dir, leaf, entry.path, /*about_to_be_replaced=*/false);
        if (!problem.empty()) return fail(problem + "; it was not replaced with a directory");
        if (!installer_.has_safety_net() && ::unlinkat(dir, leaf.c_str(), 0) != 0) {
          return fail(errno_message("cannot replace " + root_.shown(entry.path) + " with a directory", errno));
        }
        existing = nullptr;
      }
      if (existing == nullptr) {
        // 0700 until the end of the run, so a read-only directory can still be filled.
        installer_.note_change();
        if (::mkdirat(dir, leaf.c_str(), 0700) != 0) {
          if (ends_the_run(errno)) installer_.throw_unwritable(entry.path, errno);
          return fail(errno_message("cannot create directory " + root_.shown(entry.path), errno));
        }
      } else if (!options_.keep_owner && (existing->st.st_mode & S_IRWXU) != S_IRWXU) {
        ::fchmodat(dir, leaf.c_str(), (existing->st.st_mode & 07777) | S_IRWXU, 0);
      }
    }
    dirs_.push_back(std::move(entry));
  }

  // The per-file "how to transfer" step: nothing, metadata only, or data. A basis for a delta
  // is chosen here too, once the delta engine exists.
  void plan_file(uint64_t index, int dir, FileEntry& entry, const Existing* existing) {
    bool same_size = existing != nullptr && S_ISREG(existing->st.st_mode) &&
                     static_cast<uint64_t>(existing->st.st_size) == entry.size;
    // The quick check is size and mtime; with --checksum the sender sent the content's hash,
    // and only equal contents count as the same (a file whose mtime alone differs then just
    // gets its mtime).
    timespec mtime = storable_mtime(entry, apply_);
    bool same_content = same_size && (entry.content_hash.empty()
                                          ? platform::modified_time(existing->st).tv_sec == mtime.tv_sec &&
                                                platform::modified_time(existing->st).tv_nsec == mtime.tv_nsec
                                          : hash_of(dir, entry.path) == entry.content_hash);
    if (same_content) return refresh_metadata(dir, entry, *existing);
    if (existing == nullptr && dir >= 0 && !options_.dry_run && reuse_earlier_version(index, dir, entry)) return;
    ++stats_.files_transferred;
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
  bool resume_partial(uint64_t index, WantedFile& wanted) {
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
  bool reuse_earlier_version(uint64_t index, int dir, FileEntry& entry) {
    EarlierVersion earlier = landing_.earlier_version(entry.path);
    if (!earlier) return false;
    timespec mtime = storable_mtime(entry, apply_);
    timespec earlier_mtime = platform::modified_time(earlier.st);
    bool same_content = static_cast<uint64_t>(earlier.st.st_size) == entry.size &&
                        (entry.content_hash.empty()
                             ? earlier_mtime.tv_sec == mtime.tv_sec && earlier_mtime.tv_nsec == mtime.tv_nsec
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
  void copy_with_metadata(int from_dir, const std::string& from_leaf, int dir, const FileEntry& entry) {
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

  std::string hash_of(int dir, const std::string& path) {
    std::string leaf(leaf_of(path));
    UniqueFd fd(::openat(dir, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    return fd.valid() ? hash_whole_file(fd.get()) : "";
  }

  void send_want(const Want& want) {
    std::lock_guard order(wire_order_);
    Encoder e;
    want.encode(e);
    out_.send(MsgType::kWant, e);
  }

  // Whether the file `leaf` in dir (whose stat and flags are given) has the entry's owner,
  // mode, times, flags, xattrs and ACL.
  bool metadata_matches(int dir, const std::string& leaf, const struct stat& st, uint32_t flags,
                        const FileEntry& entry) {
    FileEntry on_disk;
    std::string stored;
    bool attributes_same = platform::read_attributes_at(dir, leaf, &on_disk, &stored);
    on_disk.flags = flags;
    return attributes_same && attributes_match(on_disk, entry, apply_) && stat_matches(st, stored, entry, apply_);
  }

  // An unchanged file may still have a new owner, mode, xattrs or ACL.
  void refresh_metadata(int dir, const FileEntry& entry, const Existing& existing) {
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
  void protect_later(const FileEntry& entry) {
    if ((flags_to_apply(entry, apply_) & file_flags::kProtecting) == 0 || entry.type != FileType::kRegular) return;
    FileEntry later;
    later.path = entry.path;
    later.type = entry.type;
    later.flags = entry.flags;
    to_protect_.push_back(std::move(later));
  }

  // Symlinks, fifos, devices: made under a temporary name, then renamed over the real one.
  void make_special(int dir, FileEntry& entry, const Existing* existing) {
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
  void store_special(int dir, const FileEntry& entry, const Existing* existing) {
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

  void on_end_of_list(const EndOfList& end) {
    if (list_done_) throw ProtocolError("second EndOfList");
    if (end.entries != next_index_) {
      throw ProtocolError("EndOfList counts " + std::to_string(end.entries) + " entries, " +
                          std::to_string(next_index_) + " arrived");
    }
    if (next_index_ == 0) throw ProtocolError("empty file list");
    list_done_ = true;
    sender_list_errors_ = end.list_errors;
  }

  // ---- file data ----

  void on_entries(std::string_view payload) {
    Decoder d(payload);
    if (d.at_end()) throw ProtocolError("empty Entry frame");
    while (!d.at_end()) on_entry(entry_codec_.decode(d));
  }

  // The first data frame of a file starts it; every frame up to its FileEnd must be its own.
  void begin_incoming(uint64_t index) {
    if (incoming_.active()) {
      if (incoming_.index() == index) return;
      throw ProtocolError("data for entry " + std::to_string(index) + " before the end of entry " +
                          std::to_string(incoming_.index()));
    }
    auto it = wanted_.find(index);
    if (it == wanted_.end()) throw ProtocolError("data for entry " + std::to_string(index) + ", which was not wanted");
    WantedFile wanted = std::move(it->second);
    wanted_.erase(it);
    wanted.signed_basis = signer_.take(index);
    incoming_.begin(index, std::move(wanted));
  }

  void on_compressed(const CompressedView& compressed) {
    std::string_view payload = decompressor_.decompress(compressed.stream, wire::kMaxFramePayload);
    stats_.bytes_compressed_wire += compressed.stream.size();
    if (compressed.inner_type == MsgType::kFileData) {
      FileDataView data = FileDataView::decode(payload);
      stats_.bytes_compressed_raw += data.bytes.size();
      on_file_data(data);
    } else {
      stats_.bytes_compressed_raw += payload.size();
      on_file_delta(payload);
    }
  }

  void on_file_data(const FileDataView& data) {
    begin_incoming(data.index);  // a sender may ignore a signature and send data whole
    stats_.bytes_literal += data.bytes.size();
    incoming_.write(data.bytes);
  }

  void on_file_delta(std::string_view payload) {
    Decoder d(payload);
    begin_incoming(d.varint("index"));
    incoming_.apply_delta(d);
  }

  void on_file_hole(const FileHole& hole) {
    begin_incoming(hole.index);
    incoming_.hole(hole.length);
  }

  void on_file_end(const FileEnd& end) {
    begin_incoming(end.index);
    IncomingFile::Finished finished = incoming_.end(end);
    switch (finished.outcome) {
      case IncomingFile::Finished::kPlaced: return protect_later(finished.file.entry);
      case IncomingFile::Finished::kFailed: return;
      case IncomingFile::Finished::kRetry:
        send_want(Want{end.index, wire::kWantRetry});
        wanted_.emplace(end.index, std::move(finished.file));
        return;
    }
  }

  void on_file_failed(const FileFailed& failed) {
    // The sender has told the user why; here we only drop what was started.
    std::optional<WantedFile> wanted;
    if (incoming_.active() && incoming_.index() == failed.index) {
      wanted = incoming_.abandon();
    } else if (auto it = wanted_.find(failed.index); it != wanted_.end()) {
      wanted = std::move(it->second);
      wanted_.erase(it);
      signer_.take(failed.index);  // forget the shape of a basis no data was matched against
    } else {
      throw ProtocolError("FileFailed for entry " + std::to_string(failed.index) + ", which was not wanted");
    }
    if (failed.flags & wire::kFailedWillRetry) {
      // It changed while the sender read it: ask again, whole (the basis may be what changed).
      wanted->signed_basis.reset();
      send_want(Want{failed.index, wire::kWantRetry});
      wanted_.emplace(failed.index, std::move(*wanted));
      return;
    }
    if (failed.flags & wire::kFailedVanished) ++stats_.vanished;
    --stats_.files_transferred;
  }

  // ---- the end of the run ----

  void finish_tree() {
    if (options_.dry_run) return sweep_.run(dirs_, sender_list_errors_);
    installer_.install_waiting();  // hardlinks, deletions and directory times need every file in place
    for (const PendingLink& link : links_) make_hardlink(link);
    sweep_.run(dirs_, sender_list_errors_);
    installer_.finish_safety_net();
    installer_.remove_stale_temp_files_where_written(listed_temp_like_);  // before directory mtimes are set
    // Directories last, deepest first: writing into a directory changes its mtime, and a
    // read-only mode must not stop us filling it.
    protect_files();
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      UniqueFd fd = root_.open(it->path, O_RDONLY | O_DIRECTORY);
      if (!fd.valid()) continue;  // creating it failed and was reported
      finish_directory(fd.get(), *it);
    }
    if (!options_.leave_root_alone) finish_directory(root_.root_fd(), root_entry_);
    if (apply_.store_metadata && state_ != nullptr) {
      std::string unwritten = write_symlink_owners(state_->state_dir(), symlink_owners_);
      if (!unwritten.empty()) fail(unwritten + "; the owners of symlinks were not kept");
    }
    // One flush for the whole run: every file is on disk before we report success. A run that
    // changed nothing skips it: it would only wait for other programs' writes.
    if (!options_.flush_to_disk) {
      if (installer_.changed()) spdlog::debug("not flushing {} to disk (--no-sync)", root_.shown(""));
    } else if (installer_.changed()) {
      installer_.flush_run();
    }
    // The tree becomes what the destination shows (a snapshot gets its name) only once it is
    // complete and on disk.
    if (std::string problem = landing_.publish(options_.flush_to_disk); !problem.empty()) {
      throw FatalError(root_.shown("") + ": " + problem + "; the next run tries again");
    }
    // Last, once everything is in place (and on disk, unless --no-sync): the next run reads it.
    if (state_ != nullptr) state_->mark_finished(stats_.files_transferred, stats_.errors, options_.flush_to_disk);
  }

  void finish_directory(int fd, const FileEntry& entry) {
    struct stat st {};
    std::string stored;
    if (apply_.store_metadata) platform::get_xattr_fd(fd, platform::metadata_xattr_name(), &stored);
    if (::fstat(fd, &st) != 0 || !stat_matches(st, stored, entry, apply_) ||
        platform::file_flags_fd(fd) != flags_to_apply(entry, apply_)) {
      installer_.note_change();
    }
    std::string problem = apply_metadata_fd(fd, entry, apply_);
    if (problem.empty() && (flags_to_apply(entry, apply_) & file_flags::kProtecting) != 0) {
      problem = protect_fd(fd, entry, apply_);
    }
    if (!problem.empty()) fail(root_.shown(entry.path) + ": " + problem);
  }

  void protect_files() {
    for (const FileEntry& entry : to_protect_) {
      UniqueFd fd = root_.open(entry.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      std::string problem = fd.valid() ? protect_fd(fd.get(), entry, apply_)
                                       : errno_message("cannot open", errno);
      if (!problem.empty()) fail(root_.shown(entry.path) + ": " + problem);
    }
    to_protect_.clear();
  }

  void make_hardlink(const PendingLink& link) {
    const std::string& leader_path = leaders_.at(link.leader);
    const std::string& path = link.entry.path;
    UniqueFd leader_dir = root_.open(std::string(parent_of(leader_path)), O_RDONLY | O_DIRECTORY);
    UniqueFd dir = root_.open(std::string(parent_of(path)), O_RDONLY | O_DIRECTORY);
    if (!leader_dir.valid() || !dir.valid()) {
      return fail(errno_message("cannot link " + root_.shown(path) + " to " + root_.shown(leader_path), errno));
    }
    std::string leader_leaf(leaf_of(leader_path));
    std::string leaf(leaf_of(path));
    struct stat a {}, b {};
    if (::fstatat(leader_dir.get(), leader_leaf.c_str(), &a, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(a.st_mode)) {
      return fail("cannot link " + root_.shown(path) + ": " + root_.shown(leader_path) + " was not copied");
    }
    if (::fstatat(dir.get(), leaf.c_str(), &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
        a.st_dev == b.st_dev) {
      return;  // already the same inode
    }
    Installer::TempSpot spot = installer_.temp_spot(path);
    if (!installer_.is_state_tmp(spot.dir)) spot.dir = dir.get();  // temp_spot's fd is the cached parent
    if (::linkat(leader_dir.get(), leader_leaf.c_str(), spot.dir, spot.name.c_str(), 0) != 0) {
      return fail(errno_message("cannot link " + root_.shown(path) + " to " + root_.shown(leader_path), errno));
    }
    installer_.install(spot.dir, spot.name, dir.get(), path);
  }

  void wait_for_bye() {
    try {
      while (true) {
        Frame f = in_.next();
        if (handle_common_frame(f, reporter_)) continue;
        if (f.type == MsgType::kBye) return;
        throw ProtocolError(std::string("expected Bye, got ") + wire::msg_type_name(f.type));
      }
    } catch (const ConnectionError&) {
      // Everything is in place and reported; a sender that hung up without Bye changes nothing.
    }
  }

  FrameReader& in_;
  FrameWriter& out_;
  Reporter& reporter_;
  TransferStats& stats_;
  const ReceiverOptions& options_;
  Landing& landing_;
  ConfinedRoot& root_;  // landing_.tree()
  DestinationState* state_;  // null for a dry run
  ApplyOptions apply_;
  Installer installer_{root_, state_, reporter_, stats_, options_};
  ExtraneousSweep sweep_{root_, installer_, reporter_, stats_, options_};
  MetadataNotices notices_{reporter_, options_.program_name, apply_};
  uint64_t sender_list_errors_ = 0;
  std::string symlink_owners_;  // fs/symlink_owners.h records, when storing metadata

  uint64_t next_index_ = 0;
  std::string prev_path_;
  // The folders the list is inside, innermost last: a folder's entries all arrive while it is
  // here (the list is depth-first), so its folded names are complete and go with it.
  struct ListedDir {
    std::string path;
    bool skipped = false;  // its name was taken (name_is_taken): nothing below it is made
    std::unordered_map<std::string, std::string> folded_names;  // only where folding_.any()
  };
  std::vector<ListedDir> dir_stack_;
  NameFolding folding_;  // what the destination treats as one name
  std::unordered_set<uint64_t> skipped_leaders_;  // hard-link leaders whose names were taken
  bool list_done_ = false;
  FileEntry root_entry_;
  std::unordered_map<uint64_t, WantedFile> wanted_;
  StreamDecompressor decompressor_;
  EntryDecoder entry_codec_;
  std::unordered_map<uint64_t, std::string> leaders_;
  std::vector<PendingLink> links_;
  std::vector<FileEntry> dirs_;
  std::vector<FileEntry> to_protect_;  // files that get immutable or append-only flags at the end
  std::set<std::string> listed_temp_like_;  // entries whose names look like our temporary files
  // After installer_: a session that ends early leaves its file for the next run to resume.
  IncomingFile incoming_{installer_, landing_, state_, stats_, apply_, options_.flush_to_disk};
  std::mutex wire_order_;  // held while sending a Want (and its signature)
  BasisSigner signer_{out_, wire_order_};  // last: its thread stops before the rest goes
};

}  // namespace

Done Receiver::run(ConfinedRoot& root, DestinationState* state) {
  MirrorLanding landing(root);
  return run(landing, state);
}

Done Receiver::run(Landing& landing, DestinationState* state) {
  ReceiveSession session(in_, out_, reporter_, stats_, options_, landing, state);
  in_.set_before_block([this] { out_.flush(); });
  return session.run();
}

}  // namespace ferry
