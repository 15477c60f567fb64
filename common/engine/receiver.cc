#include "engine/receiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/log.h"
#include "base/page_buffer.h"
#include "compress/zstd_stream.h"
#include "delta/delta.h"
#include "delta/file_hash.h"
#include "delta/patch.h"
#include "delta/signature.h"
#include "engine/basis_signer.h"
#include "engine/metadata_notices.h"
#include "engine/session.h"
#include "fs/dir_names.h"
#include "fs/metadata.h"
#include "fs/rel_path.h"
#include "fs/safety_net.h"
#include "fs/stored_metadata.h"
#include "fs/symlink_owners.h"
#include "fs/temp_files.h"
#include "platform/platform.h"

namespace ferry {

using wire::MessageLevel;
using wire::MsgType;

namespace {

// A file whose data is arriving: written under a temporary name in its destination directory
// and renamed over the real name only once complete and verified.
// A file whose data was asked for. With a basis, the sender answers with a delta against the
// file of the same name we already have.
struct WantedFile {
  FileEntry entry;
  std::optional<BasisShape> signed_basis;  // what the signer described; unset: the file comes whole
  bool replaces_file = false;  // renamed over an existing regular file when done
  bool basis_is_partial = false;  // the basis is what an earlier, cut-off run wrote (resume)
  bool retried = false;
};

struct Incoming {
  bool active = false;
  uint64_t index = 0;
  WantedFile wanted;
  FileEntry& entry = wanted.entry;
  UniqueFd basis;  // opened at the first FileDelta
  UniqueFd dir;  // the destination directory, pinned for the whole file
  int tmp_dir = -1;  // where tmp_name is: .ferry-state/tmp or `dir`
  std::string tmp_name;
  UniqueFd fd;
  FileHasher hasher;
  uint64_t bytes = 0;
  uint64_t writeback_from = 0;  // start of the range not yet handed to writeback
  bool ends_in_hole = false;    // the last thing that arrived was a FileHole: size it at the end
  std::string error;  // set once writing failed; the rest of the data is then dropped
};

// What is at an entry's name on the destination before the run touches it.
struct Existing {
  struct stat st {};
  uint32_t flags = 0;  // file_flags bits (platform::stat_at)
};

struct PendingLink {
  FileEntry entry;
  uint64_t leader = 0;
};

// Errors that say the destination as a whole can take no more: the run ends at the first,
// with its cause, instead of failing every file that follows.
bool ends_the_run(int err) { return err == ENOSPC || err == EDQUOT || err == EROFS; }

class ReceiveSession {
 public:
  ReceiveSession(FrameReader& in, FrameWriter& out, Reporter& reporter, TransferStats& stats,
                 const ReceiverOptions& options, ConfinedRoot& root, DestinationState* state)
      : in_(in), out_(out), reporter_(reporter), stats_(stats), options_(options), root_(root), state_(state),
        apply_{options.keep_owner, TimeRange{}, options.store_metadata, ::geteuid(), ::getegid()},
        fsync_each_(options.flush_to_disk && !options.dry_run && !platform::can_flush_file_system(root.root_fd())) {}

  // A session that ends early (connection cut, protocol error) leaves the file it was writing
  // in .ferry-state/tmp: the next run resumes from it, or removes it.
  ~ReceiveSession() { discard_incoming(/*keep_for_resume=*/true); }

  Done run() {
    if (state_ != nullptr) report_previous_run();
    if (state_ != nullptr && !options_.dry_run) {
      apply_.times = probe_time_range(state_->tmp_dir(), "time-probe");
      apply_.keeps_acls = probe_acls(state_->tmp_dir(), "acl-probe");
      if (apply_.store_metadata && !probe_stored_metadata(state_->tmp_dir(), "xattr-probe")) {
        apply_.store_metadata = false;  // MetadataNotices then says what is lost
        reporter_.report(MessageLevel::kWarning,
                         root_.shown("") + " is on a file system without extended attributes, so " +
                             options_.program_name + " (not root) cannot keep owners, setuid bits or devices "
                             "there; put the backup on a file system that has them (ext4, XFS, btrfs, APFS) "
                             "or run the agent as root.");
      }
    }
    while (!list_done_ || !wanted_.empty() || incoming_.active) {
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
  void fail(const std::string& text) {
    check_still_writable("");
    ++stats_.errors;
    reporter_.report(MessageLevel::kError, text);
  }

  void report_previous_run() {
    if (!state_->took_over_from().empty()) {
      spdlog::debug("took over the lock of a run that is gone: {}", state_->took_over_from());
    }
    if (!state_->unfinished_previous_run().empty()) {
      std::string resumable = state_->partials().empty()
                                  ? ""
                                  : " (" + std::to_string(state_->partials().size()) + " cut-off file(s) will be resumed)";
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
    while (!dir_stack_.empty() && dir_stack_.back() != parent) dir_stack_.pop_back();
    if (dir_stack_.empty()) {
      throw ProtocolError("entry \"" + printable(entry.path) + "\" arrived without its directory");
    }
  }

  void on_entry(FileEntry entry) {
    if (list_done_) throw ProtocolError("Entry after EndOfList");
    check_order(entry);
    uint64_t index = next_index_++;
    prev_path_ = entry.path;
    if (entry.type == FileType::kDirectory) dir_stack_.push_back(entry.path);
    if (entry.type == FileType::kRegular) stats_.bytes_total += entry.size;
    if (index == 0) {
      root_entry_ = std::move(entry);
      return;
    }
    if (is_reserved_top_name(entry.path)) {
      throw ProtocolError("entry \"" + printable(entry.path) + "\" has a name Ferry keeps for itself");
    }
    ++stats_.files_total;
    if (options_.delete_extraneous) listed_paths_.insert(entry.path);
    notices_.look_at(entry, root_.shown(entry.path));
    if (temp_file_owner(leaf_of(entry.path))) listed_temp_like_.insert(entry.path);  // never swept

    if (entry.type == FileType::kRegular && entry.hardlink_of != 0) {
      uint64_t leader = entry.hardlink_of - 1;
      if (leader == index) {
        leaders_[index] = entry.path;
      } else if (leader < index && leaders_.count(leader) != 0) {
        links_.push_back({std::move(entry), leader});
        return;
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

  void make_directory(int dir, FileEntry& entry, const Existing* existing) {
    if (!options_.dry_run) {
      std::string leaf(leaf_of(entry.path));
      // An immutable or append-only folder cannot take new names; its flags come back at the
      // end, with the rest of its metadata.
      if (existing != nullptr && (existing->flags & file_flags::kProtecting) != 0) unprotect_at(dir, leaf);
      if (existing != nullptr && !S_ISDIR(existing->st.st_mode)) {
        std::string problem = set_aside(dir, leaf, entry.path, /*about_to_be_replaced=*/false);
        if (!problem.empty()) return fail(problem + "; it was not replaced with a directory");
        if (!safety_net_ && ::unlinkat(dir, leaf.c_str(), 0) != 0) {
          return fail(errno_message("cannot replace " + root_.shown(entry.path) + " with a directory", errno));
        }
        existing = nullptr;
      }
      if (existing == nullptr) {
        // 0700 until the end of the run, so a read-only directory can still be filled.
        changed_ = true;
        if (::mkdirat(dir, leaf.c_str(), 0700) != 0) {
          if (ends_the_run(errno)) throw_unwritable(entry.path, errno);
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
    std::string basis = name + ".basis";
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

  // An unchanged file may still have a new owner, mode, xattrs or ACL.
  void refresh_metadata(int dir, const FileEntry& entry, const Existing& existing) {
    std::string leaf(leaf_of(entry.path));
    FileEntry on_disk;
    std::string stored;
    bool attributes_same = platform::read_attributes_at(dir, leaf, &on_disk, &stored);
    on_disk.flags = existing.flags;
    attributes_same = attributes_same && attributes_match(on_disk, entry, apply_);
    if (stat_matches(existing.st, stored, entry, apply_) && attributes_same) return;
    if (options_.dry_run) return;
    changed_ = true;
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
    TempSpot spot = temp_spot(entry.path);
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
      if (ends_the_run(errno)) throw_unwritable(entry.path, errno);
      return fail(errno_message(std::string("cannot create ") + file_type_name(entry.type) + " " +
                                    root_.shown(entry.path), errno));
    }
    std::string problem = apply_metadata_at(spot.dir, spot.name, entry, apply_);
    if (!problem.empty()) fail(root_.shown(entry.path) + ": " + problem);
    install(spot.dir, spot.name, dir, entry.path);
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
    changed_ = true;
    TempSpot spot = temp_spot(entry.path);
    UniqueFd fd(::openat(spot.dir, spot.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
      if (ends_the_run(errno)) throw_unwritable(entry.path, errno);
      return fail(errno_message(std::string("cannot create ") + file_type_name(entry.type) + " " +
                                    root_.shown(entry.path), errno));
    }
    std::string problem = apply_metadata_fd(fd.get(), entry, apply_);
    if (!problem.empty()) {
      ::unlinkat(spot.dir, spot.name.c_str(), 0);
      return fail(root_.shown(entry.path) + ": " + problem);
    }
    install(spot.dir, spot.name, dir, entry.path);
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

  void begin_incoming(uint64_t index) {
    if (incoming_.active) {
      if (incoming_.index == index) return;
      throw ProtocolError("data for entry " + std::to_string(index) + " before the end of entry " +
                          std::to_string(incoming_.index));
    }
    auto it = wanted_.find(index);
    if (it == wanted_.end()) throw ProtocolError("data for entry " + std::to_string(index) + ", which was not wanted");
    incoming_.active = true;
    incoming_.index = index;
    incoming_.wanted = std::move(it->second);
    incoming_.basis.reset();
    wanted_.erase(it);
    incoming_.wanted.signed_basis = signer_.take(index);
    incoming_.bytes = 0;
    incoming_.ends_in_hole = false;
    incoming_.error.clear();
    incoming_.hasher.reset();
    incoming_.tmp_dir = -1;
    const std::string& path = incoming_.entry.path;
    int dir = root_.parent_dir(path);
    if (dir < 0) {
      incoming_.error = errno_message("cannot reach the directory of " + root_.shown(path), errno);
      return;
    }
    incoming_.dir.reset(::fcntl(dir, F_DUPFD_CLOEXEC, 0));
    TempSpot spot = temp_spot(path);
    incoming_.tmp_dir = spot.dir == dir ? incoming_.dir.get() : spot.dir;
    incoming_.tmp_name = std::move(spot.name);
    incoming_.fd.reset(::openat(incoming_.tmp_dir, incoming_.tmp_name.c_str(),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!incoming_.fd.valid()) {
      int err = errno;
      incoming_.tmp_name.clear();
      if (ends_the_run(err)) throw_unwritable(path, err);
      incoming_.error = errno_message("cannot create a file in the directory of " + root_.shown(path), err);
    }
  }

  void on_entries(std::string_view payload) {
    Decoder d(payload);
    if (d.at_end()) throw ProtocolError("empty Entry frame");
    while (!d.at_end()) on_entry(entry_codec_.decode(d));
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
    write_incoming(data.bytes);
  }

  // Applies a FileDelta: literals are written, copies are read from the basis after checking
  // they lie inside it.
  void on_file_delta(std::string_view payload) {
    Decoder d(payload);
    uint64_t index = d.varint("index");
    begin_incoming(index);
    if (!incoming_.wanted.signed_basis) throw ProtocolError("FileDelta for entry " + std::to_string(index) + ", which has no basis");
    if (!incoming_.basis.valid() && incoming_.error.empty()) open_basis();
    struct Apply : PatchSink {
      explicit Apply(ReceiveSession& session) : s(session) {}
      void literal(std::string_view bytes) override {
        s.stats_.bytes_literal += bytes.size();
        s.write_incoming(bytes);
      }
      void copy(uint64_t offset, uint64_t length) override { s.copy_from_basis(offset, length); }
      ReceiveSession& s;
    } apply(*this);
    const BasisShape& basis = *incoming_.wanted.signed_basis;
    apply_delta(d, basis.size, basis.block_size, index, apply);
  }

  void open_basis() {
    const BasisShape& signed_basis = *incoming_.wanted.signed_basis;
    if (incoming_.wanted.basis_is_partial) {
      std::string name = partial_basis_name(incoming_.entry.path);
      incoming_.basis.reset(::openat(state_->tmp_dir(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    } else {
      std::string leaf(leaf_of(incoming_.entry.path));
      incoming_.basis.reset(::openat(incoming_.dir.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    }
    struct stat st {};
    if (!incoming_.basis.valid() || ::fstat(incoming_.basis.get(), &st) != 0 ||
        static_cast<uint64_t>(st.st_size) != signed_basis.size ||
        platform::modified_time(st).tv_sec != signed_basis.mtime_sec ||
        static_cast<uint32_t>(platform::modified_time(st).tv_nsec) != signed_basis.mtime_nsec) {
      incoming_.basis.reset();
      incoming_.error = "basis changed";  // retried whole at FileEnd
    }
  }

  void copy_from_basis(uint64_t offset, uint64_t length) {
    stats_.bytes_matched += length;
    if (!incoming_.error.empty()) {
      incoming_.bytes += length;
      return;
    }
    while (length > 0) {
      std::span<char> slot = copy_buf_.slot_for(offset);
      size_t want = static_cast<size_t>(std::min<uint64_t>(length, slot.size()));
      ssize_t n = ::pread(incoming_.basis.get(), slot.data(), want, static_cast<off_t>(offset));
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        incoming_.error = "basis changed";
        incoming_.bytes += length;
        return;
      }
      write_incoming(std::string_view(slot.data(), static_cast<size_t>(n)));
      offset += static_cast<uint64_t>(n);
      length -= static_cast<uint64_t>(n);
    }
  }

  // A hole in the sender's file stays a hole here: the offset moves on, nothing is written,
  // and the file gets its size at FileEnd if it ends with one.
  void on_file_hole(const FileHole& hole) {
    begin_incoming(hole.index);
    if (hole.length > wire::kMaxFileBytes - incoming_.bytes) {
      throw ProtocolError("FileHole makes " + root_.shown(incoming_.entry.path) + " larger than " +
                          std::to_string(wire::kMaxFileBytes) + " bytes");
    }
    stats_.bytes_literal += hole.length;
    incoming_.bytes += hole.length;
    if (!incoming_.error.empty()) return;
    incoming_.hasher.update_zeros(hole.length);
    incoming_.ends_in_hole = true;
    if (::lseek(incoming_.fd.get(), static_cast<off_t>(incoming_.bytes), SEEK_SET) < 0) {
      incoming_.error = errno_message("cannot leave a hole in " + root_.shown(incoming_.entry.path), errno);
    }
  }

  void write_incoming(std::string_view bytes) {
    incoming_.ends_in_hole = false;
    incoming_.bytes += bytes.size();
    if (!incoming_.error.empty()) return;
    incoming_.hasher.update(bytes.data(), bytes.size());
    const char* p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = ::write(incoming_.fd.get(), p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        if (ends_the_run(err)) throw_unwritable(incoming_.entry.path, err);
        incoming_.error = errno_message("write error in " + root_.shown(incoming_.entry.path), err);
        return;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    start_writeback(false);
  }

  // Hands written data to the kernel's writeback as it arrives (in 8 MiB ranges, and each file's
  // rest when it is complete), so the disk writes while the network delivers and the syncfs at
  // the end has little left to wait for. rsync leaves it all to the kernel, or, with --fsync,
  // waits for each file in turn.
  //
  // Files under kWritebackMinFile are left to the kernel and the final syncfs: one writeback
  // call per small file costs more than the overlap gains (50,000 files of 100 B-12 KB, durable
  // first copy on a journaled ext4 image: 8.08 s with a call per file, 6.34 s without).
  //
  // With --no-sync, a file that will be renamed over an existing one is still handed over as
  // it arrives: ext4 (auto_da_alloc, its default) starts writeback of such a file at the
  // rename, all of it at once and in the renaming thread, which stalled the receiver for as long
  // as the disk took to accept a large file (four 512 MiB deltas: 3.53-4.10 s -> 2.88-3.11 s).
  void start_writeback(bool file_complete) {
    static constexpr uint64_t kWritebackChunk = 8 * 1024 * 1024;
    static constexpr uint64_t kWritebackMinFile = 1024 * 1024;
    if (!options_.flush_to_disk && !incoming_.wanted.replaces_file) return;
    uint64_t pending = incoming_.bytes - incoming_.writeback_from;
    if (pending == 0 || (!file_complete && pending < kWritebackChunk)) return;
    if (file_complete && incoming_.bytes < kWritebackMinFile) return;
    platform::start_writeback(incoming_.fd.get(), incoming_.writeback_from, pending);
    incoming_.writeback_from = incoming_.bytes;
  }

  void on_file_end(const FileEnd& end) {
    begin_incoming(end.index);
    std::string shown = root_.shown(incoming_.entry.path);
    if (end.size != incoming_.bytes) {
      throw ProtocolError("FileEnd for " + shown + " says " + std::to_string(end.size) + " bytes, " +
                          std::to_string(incoming_.bytes) + " arrived");
    }
    if (incoming_.ends_in_hole && incoming_.error.empty() &&
        ::ftruncate(incoming_.fd.get(), static_cast<off_t>(incoming_.bytes)) != 0) {
      if (ends_the_run(errno)) throw_unwritable(incoming_.entry.path, errno);
      incoming_.error = errno_message("cannot size " + shown, errno);
    }
    bool verified = incoming_.error.empty() && incoming_.hasher.digest() == end.hash;
    if (verified) start_writeback(true);
    if (!verified && incoming_.wanted.signed_basis && !incoming_.wanted.retried) {
      // A weak+strong collision, or the basis changed under us: ask once more, whole.
      spdlog::debug("{}: delta did not verify ({}), asking for the whole file", shown,
                    incoming_.error.empty() ? "hash mismatch" : incoming_.error);
      drop_partial_basis();
      WantedFile again = std::move(incoming_.wanted);
      again.signed_basis.reset();
      again.retried = true;
      discard_incoming();
      send_want(Want{end.index, wire::kWantRetry});
      wanted_.emplace(end.index, std::move(again));
      return;
    }
    if (!incoming_.error.empty()) {
      fail(incoming_.error);
      discard_incoming();
      return;
    }
    if (!verified) {
      fail("verification failed for " + shown + ": the data written does not match the sender's hash "
           "(was the file changed on the sending side while it was sent?); the old version was kept, run "
           "again to copy it");
      discard_incoming();
      return;
    }
    FileEntry& entry = incoming_.entry;
    entry.size = end.size;
    entry.mtime_sec = end.mtime_sec;  // as the file was when its data was read
    entry.mtime_nsec = end.mtime_nsec;
    std::string problem = apply_metadata_fd(incoming_.fd.get(), entry, apply_);
    if (!problem.empty()) fail(shown + ": " + problem);
    protect_later(entry);
    if (int err = fsync_each_ ? platform::flush_file(incoming_.fd.get()) : 0; err != 0) {
      if (ends_the_run(err)) throw_unwritable(entry.path, err);
      fail(errno_message("cannot flush " + shown + " to disk", err) + "; the old version was kept");
      return discard_incoming();
    }
    incoming_.fd.reset();
    std::string tmp = std::move(incoming_.tmp_name);
    incoming_.tmp_name.clear();
    bool in_state = state_ != nullptr && incoming_.tmp_dir == state_->tmp_dir();
    if (options_.flush_to_disk && in_state && !fsync_each_) {
      install_when_on_disk(std::move(tmp), entry.path, end.size);
    } else {
      install(incoming_.tmp_dir, tmp, incoming_.dir.get(), entry.path);
    }
    drop_partial_basis();
    incoming_.active = false;
    incoming_.dir.reset();
    incoming_.basis.reset();
  }

  void on_file_failed(const FileFailed& failed) {
    // The sender has told the user why; here we only drop what was started.
    std::optional<WantedFile> wanted;
    if (incoming_.active && incoming_.index == failed.index) {
      drop_partial_basis();
      wanted = std::move(incoming_.wanted);
      discard_incoming();
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

  // Drops the file being written. Its temporary file is removed, except when the session is
  // ending early and the file is in .ferry-state/tmp, where the next run can resume from it.
  void discard_incoming(bool keep_for_resume = false) {
    bool in_state = state_ != nullptr && incoming_.tmp_dir == state_->tmp_dir();
    if (!incoming_.tmp_name.empty() && !(keep_for_resume && in_state)) {
      ::unlinkat(incoming_.tmp_dir, incoming_.tmp_name.c_str(), 0);
    }
    if (!keep_for_resume && incoming_.active) drop_partial_basis();
    incoming_.tmp_name.clear();
    incoming_.fd.reset();
    incoming_.dir.reset();
    incoming_.basis.reset();
    incoming_.active = false;
  }

  // A complete, verified file waits in tmp/ until its data is on disk, and only then is renamed
  // over its real name, so that after a power cut the name holds the old version or the whole
  // new one, never an empty or partial file. The wait is shared: one syncfs for every 1024
  // files or 256 MiB (one fsync per file would cost a journal commit each: rsync --fsync), then
  // their renames; the syncfs at the end of the run makes the renames themselves durable.
  void install_when_on_disk(std::string tmp, const std::string& path, uint64_t size) {
    static constexpr size_t kBatchFiles = 1024;
    static constexpr uint64_t kBatchBytes = 256ull << 20;
    waiting_.push_back({std::move(tmp), path});
    waiting_bytes_ += size;
    if (waiting_.size() >= kBatchFiles || waiting_bytes_ >= kBatchBytes) install_waiting();
  }

  void install_waiting() {
    if (waiting_.empty()) return;
    if (int err = platform::flush_file_system(root_.root_fd()); err != 0) {
      fail(errno_message("cannot flush " + root_.shown("") + " to disk", err));
    }
    for (const Waiting& w : waiting_) {
      int dir = root_.parent_dir(w.path);
      if (dir < 0) {
        fail(errno_message("cannot reach the directory of " + root_.shown(w.path), errno));
        continue;
      }
      install(state_->tmp_dir(), w.tmp, dir, w.path);
    }
    waiting_.clear();
    waiting_bytes_ = 0;
  }

  void drop_partial_basis() {
    if (!incoming_.wanted.basis_is_partial) return;
    ::unlinkat(state_->tmp_dir(), partial_basis_name(incoming_.entry.path).c_str(), 0);
    incoming_.wanted.basis_is_partial = false;
  }

  static std::string partial_basis_name(const std::string& path) { return temp_name_for(path) + ".basis"; }

  // Renames tmp (in tmp_dir) over `path`'s name in dir. A directory in the way (the sender has
  // a file where we have a directory) is removed first, as a mirror must. `dir` may be the
  // root's cached fd: the cache is dropped only once we are done with it.
  void install(int tmp_dir, const std::string& tmp, int dir, const std::string& path) {
    std::string leaf(leaf_of(path));
    changed_ = true;
    dirs_written_.emplace(parent_of(path));
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

  [[noreturn]] void throw_unwritable(const std::string& path, int err) {
    discard_incoming();
    std::string what = err == EROFS ? ": the destination's file system became read-only (the kernel does this after a "
                                      "disk error: see its log); repair it and run again"
                                    : ": the destination is full; free space there and run again";
    throw FatalError(errno_message("cannot write " + root_.shown(path), err) + what +
                     " (files already copied are complete, nothing was left half-written)");
  }

  // A write failed in a way that names no errno we can see (a metadata call, a rename): first
  // make sure the destination can still be written at all, by creating a file where we keep
  // our own. One that cannot ends the run with that cause, instead of one error per file.
  void check_still_writable(const std::string& path) {
    if (state_ == nullptr) return;
    const char* probe = "write-probe";
    UniqueFd fd(::openat(state_->tmp_dir(), probe, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid() && ends_the_run(errno)) throw_unwritable(path, errno);
    if (fd.valid()) ::unlinkat(state_->tmp_dir(), probe, 0);
  }

  // Where a new version of `path` is made before it is renamed over the real name: in
  // .ferry-state/tmp, named after the path, when that is on the same file system as the
  // destination directory; otherwise (another file system mounted inside the destination, or
  // no state: a test) beside the real name under a pid-stamped name, because renameat cannot
  // cross file systems. Call right after root_.parent_dir(path) succeeded.
  struct TempSpot {
    int dir;
    std::string name;
  };
  TempSpot temp_spot(const std::string& path) {
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

  // A run that was killed left temporary files where it was writing; the next run writes there
  // again (those files were not finished), so sweeping the folders this run wrote into finds
  // them, at the cost of one directory read per folder written.
  void remove_stale_temp_files_where_written() {
    for (const std::string& dir_path : dirs_written_) {
      UniqueFd dir = root_.open(dir_path, O_RDONLY | O_DIRECTORY);
      if (!dir.valid()) continue;
      // With the safety net on, even these go there: the name may be a user's file after all,
      // and an append-only key must not be able to destroy one by leaving it out of its list.
      auto into_safety_net = [&](const std::string& leaf) {
        struct stat st {};
        if (::fstatat(dir.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode)) return false;
        return set_aside(dir.get(), leaf, child_path(dir_path, leaf), /*about_to_be_replaced=*/false).empty();
      };
      size_t removed = remove_stale_temp_files(
          dir.get(), [&](std::string_view leaf) { return listed_temp_like_.count(child_path(dir_path, leaf)) != 0; },
          safety_net_ ? std::function<bool(const std::string&)>(into_safety_net) : nullptr);
      if (removed > 0) {
        reporter_.report(MessageLevel::kInfo, "removed " + std::to_string(removed) +
                                                  " temporary file(s) an interrupted run left in " +
                                                  root_.shown(dir_path));
        changed_ = true;
      }
    }
  }

  // ---- deleting, and the safety net ----

  // With the safety net on, moves what is at `leaf` in dir (the entry at `path`) into it before
  // it is deleted or replaced: a file that a rename is about to replace is hard-linked there,
  // anything else (a directory, or a file that will be unlinked) is moved. Returns "" or the
  // problem; "" also when there is no safety net or nothing is there.
  // *moved_dir, if asked, says whether a directory went (the caller then drops the root's fd
  // cache once it is done with `dir`).
  std::string set_aside(int dir, const std::string& leaf, const std::string& path, bool about_to_be_replaced,
                        bool* moved_dir = nullptr) {
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

  // --delete: what the destination has in a listed folder and the sender did not list goes
  // (into the safety net, if it is on), once every new file is in place, so a run that is cut
  // short has never deleted before it copied. Names the filters leave out stay, unless
  // --delete-excluded; nothing goes if the sender could not list everything, since a name it
  // could not read is not a name it deleted (rsync does the same).
  void delete_extraneous() {
    if (!options_.delete_extraneous) return;
    if (sender_list_errors_ > 0) {
      reporter_.report(MessageLevel::kWarning,
                       "nothing was deleted from " + root_.shown("") + ": the sender could not read " +
                           std::to_string(sender_list_errors_) +
                           " item(s) (reported above), so a missing name need not be a deleted one");
      return;
    }
    std::vector<std::string> listed_dirs{""};
    for (const FileEntry& dir : dirs_) listed_dirs.push_back(dir.path);
    for (const std::string& dir_path : listed_dirs) {
      UniqueFd dir = root_.open(dir_path, O_RDONLY | O_DIRECTORY);
      if (!dir.valid()) continue;  // not made (reported), or a dry run's new folder
      for (const std::string& name : dir_names(dir.get())) {
        std::string path = child_path(dir_path, name);
        if (listed_paths_.count(path) != 0) continue;
        if (dir_path.empty() && is_reserved_top_name(name)) continue;
        if (temp_file_owner(name)) continue;  // another run's, or swept below
        struct stat st {};
        uint32_t flags = 0;
        if (platform::stat_at(dir.get(), name.c_str(), &st, &flags) != 0) continue;
        bool is_dir = S_ISDIR(st.st_mode);
        if (!options_.delete_excluded && options_.filters.excluded(path, is_dir)) continue;
        // An immutable or append-only file cannot be moved or removed; a mirror removes it all
        // the same (rsync --delete does not, and fails).
        if ((flags & file_flags::kProtecting) != 0 && !options_.dry_run) unprotect_at(dir.get(), name);
        delete_one(dir.get(), name, path, is_dir);
      }
    }
  }

  void delete_one(int dir, const std::string& leaf, const std::string& path, bool is_dir) {
    std::string shown = printable(path) + (is_dir ? "/" : "");
    if (options_.dry_run) {
      reporter_.report(MessageLevel::kInfo, "would delete " + shown);
      ++stats_.deleted;
      return;
    }
    changed_ = true;
    std::string problem;
    if (safety_net_) {
      problem = set_aside(dir, leaf, path, /*about_to_be_replaced=*/false);
    } else if (int err = remove_tree_at(dir, leaf); err != 0) {
      problem = errno_message("cannot delete " + root_.shown(path), err);
    }
    if (is_dir) root_.forget();
    if (!problem.empty()) return fail(problem);
    reporter_.report(MessageLevel::kInfo, "deleted " + shown);
    ++stats_.deleted;
  }

  void finish_safety_net() {
    if (!safety_net_) return;
    if (safety_net_->kept() > 0) {
      reporter_.report(MessageLevel::kInfo, "kept " + std::to_string(safety_net_->kept()) +
                                                " deleted or replaced item(s) in " + safety_net_->folder_shown());
    }
    std::string problem;
    size_t pruned = safety_net_->prune(options_.safety_net_keep_s, options_.safety_net_keep_bytes, &problem);
    if (pruned > 0) {
      changed_ = true;
      reporter_.report(MessageLevel::kInfo, "pruned the " + std::to_string(pruned) + " oldest safety-net folder(s) in " +
                                                root_.shown(std::string(kSafetyNetDirName)));
    }
    if (!problem.empty()) reporter_.report(MessageLevel::kWarning, problem);
  }

  // ---- the end of the run ----

  // Puts what the run wrote on disk: one syncfs, or where that flushes nothing (FUSE) the
  // folders that received renames, each file having been fsynced before its own.
  void flush_run() {
    if (!fsync_each_) {
      if (int err = platform::flush_file_system(root_.root_fd()); err != 0) {
        fail(errno_message("cannot flush " + root_.shown("") + " to disk", err));
      }
      return;
    }
    std::set<std::string> folders = dirs_written_;
    folders.insert("");
    for (const std::string& folder : folders) {
      UniqueFd fd = root_.open(folder, O_RDONLY | O_DIRECTORY);
      int err = fd.valid() ? platform::flush_file(fd.get()) : 0;
      if (err != 0 && err != EINVAL) fail(errno_message("cannot flush " + root_.shown(folder) + " to disk", err));
    }
  }

  void finish_tree() {
    if (options_.dry_run) return delete_extraneous();
    install_waiting();  // hardlinks, deletions and directory times need every file in place
    for (const PendingLink& link : links_) make_hardlink(link);
    delete_extraneous();
    finish_safety_net();
    remove_stale_temp_files_where_written();  // before directory mtimes are set
    // Directories last, deepest first: writing into a directory changes its mtime, and a
    // read-only mode must not stop us filling it.
    protect_files();
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      UniqueFd fd = root_.open(it->path, O_RDONLY | O_DIRECTORY);
      if (!fd.valid()) continue;  // creating it failed and was reported
      finish_directory(fd.get(), *it);
    }
    finish_directory(root_.root_fd(), root_entry_);
    if (apply_.store_metadata && state_ != nullptr) {
      std::string unwritten = write_symlink_owners(state_->state_dir(), symlink_owners_);
      if (!unwritten.empty()) fail(unwritten + "; the owners of symlinks were not kept");
    }
    // One flush for the whole run: every file is on disk before we report success. A run that
    // changed nothing skips it: it would only wait for other programs' writes.
    if (!options_.flush_to_disk) {
      if (changed_) spdlog::debug("not flushing {} to disk (--no-sync)", root_.shown(""));
    } else if (changed_) {
      flush_run();
    }
    // Last, once everything is in place (and on disk, unless --no-sync): the next run reads it.
    if (state_ != nullptr) state_->mark_finished(stats_.files_transferred, stats_.errors, options_.flush_to_disk);
  }

  int state_tmp_dir() const { return state_ != nullptr ? state_->tmp_dir() : -1; }

  void finish_directory(int fd, const FileEntry& entry) {
    struct stat st {};
    std::string stored;
    if (apply_.store_metadata) platform::get_xattr_fd(fd, platform::metadata_xattr_name(), &stored);
    if (::fstat(fd, &st) != 0 || !stat_matches(st, stored, entry, apply_) ||
        platform::file_flags_fd(fd) != flags_to_apply(entry, apply_)) {
      changed_ = true;
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
    TempSpot spot = temp_spot(path);
    if (spot.dir != state_tmp_dir()) spot.dir = dir.get();  // temp_spot's fd is the cached parent
    if (::linkat(leader_dir.get(), leader_leaf.c_str(), spot.dir, spot.name.c_str(), 0) != 0) {
      return fail(errno_message("cannot link " + root_.shown(path) + " to " + root_.shown(leader_path), errno));
    }
    install(spot.dir, spot.name, dir.get(), path);
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
  ConfinedRoot& root_;
  DestinationState* state_;  // null for a dry run
  // Set when the safety net is on and this is not a dry run.
  std::unique_ptr<SafetyNet> safety_net_ =
      options_.safety_net && !options_.dry_run ? std::make_unique<SafetyNet>(root_.root_fd(), root_.display(), ::time(nullptr))
                                               : nullptr;
  std::unordered_set<std::string> listed_paths_;  // every entry's path, for --delete
  struct Waiting {
    std::string tmp;  // in .ferry-state/tmp
    std::string path;
  };
  std::vector<Waiting> waiting_;  // verified files waiting for their data to be on disk
  uint64_t waiting_bytes_ = 0;
  uint64_t sender_list_errors_ = 0;
  ApplyOptions apply_;
  MetadataNotices notices_{reporter_, options_.program_name, apply_};
  // syncfs does not reach the disk here (FUSE): each file is fsynced before its rename.
  const bool fsync_each_;
  std::string symlink_owners_;  // fs/symlink_owners.h records, when storing metadata

  uint64_t next_index_ = 0;
  std::string prev_path_;
  std::vector<std::string> dir_stack_;
  bool list_done_ = false;
  FileEntry root_entry_;
  std::unordered_map<uint64_t, WantedFile> wanted_;
  PageBuffer copy_buf_{wire::kDataChunkBytes};
  StreamDecompressor decompressor_;
  bool changed_ = false;  // anything written: the run ends with a syncfs
  EntryDecoder entry_codec_;
  std::unordered_map<uint64_t, std::string> leaders_;
  std::vector<PendingLink> links_;
  std::vector<FileEntry> dirs_;
  std::vector<FileEntry> to_protect_;  // files that get immutable or append-only flags at the end
  Incoming incoming_;
  uint64_t tmp_counter_ = 0;
  std::set<std::string> dirs_written_;       // where this run put files in place
  std::set<std::string> listed_temp_like_;   // entries whose names look like our temporary files
  std::mutex wire_order_;  // held while sending a Want (and its signature)
  BasisSigner signer_{out_, wire_order_};  // last: its thread stops before the rest goes
};

}  // namespace

Done Receiver::run(ConfinedRoot& root, DestinationState* state) {
  ReceiveSession session(in_, out_, reporter_, stats_, options_, root, state);
  in_.set_before_block([this] { out_.flush(); });
  return session.run();
}

}  // namespace ferry
