#include "engine/receiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
#include "engine/entry_placer.h"
#include "engine/extraneous.h"
#include "engine/incoming_file.h"
#include "engine/installer.h"
#include "engine/leader_paths.h"
#include "engine/metadata_notices.h"
#include "engine/session.h"
#include "engine/spilled_entries.h"
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

class ReceiveSession {
 public:
  ReceiveSession(FrameReader& in, FrameWriter& out, Reporter& reporter, TransferStats& stats,
                 const ReceiverOptions& options, Landing& landing, DestinationState* state, SealRecorder* seal)
      : in_(in), out_(out), reporter_(reporter), stats_(stats), options_(options), landing_(landing),
        root_(landing.tree()), state_(state), seal_(options.dry_run ? nullptr : seal),
        apply_{options.keep_owner, TimeRange{}, options.store_metadata, ::geteuid(), ::getegid(), true, NewFileTraits{}} {}

  Done run() {
    if (state_ != nullptr) report_previous_run();
    if (state_ != nullptr && !options_.dry_run) {
      if (!options_.restoring) notices_.remember_in(state_->state_dir());
      apply_.times = probe_time_range(state_->tmp_dir(), "time-probe");
      apply_.new_in_tmp = probe_new_files(state_->tmp_dir(), "new-file-probe");
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
    while (!list_done_ || placer_.waiting_for_data() || incoming_.active()) {
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
      report_settled();
    }
    SealSummary sealed = finish_tree();
    Done done;
    if (!sealed.id.empty()) {
      done.seal_id = sealed.id;
      done.seal_flags = sealed.flags;
      done.seal_entries = sealed.entries;
      done.seal_root = sealed.root;
      done.previous_seal_id = seal_->previous().id;
      done.previous_seal_root = seal_->previous().root;
    }
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

  // ---- pacing the list ----

  // The index below which nothing more will be asked for: entries not yet placed, files wanted
  // and the file arriving hold it back.
  uint64_t settled_below() const {
    uint64_t below = next_index_;
    if (std::optional<uint64_t> wanted = placer_.first_wanted()) below = std::min(below, *wanted);
    if (incoming_.active()) below = std::min(below, incoming_.index());
    return below;
  }

  // Tells the sender, every kSettleStep entries, so that it lists on (PROTOCOL.md §7a).
  void report_settled() {
    uint64_t below = settled_below();
    if (below < settled_sent_ + wire::kSettleStep) return;
    Encoder e;
    Settled{below}.encode(e);
    {
      std::lock_guard lock(wire_order_);  // never between a Want and its SigBlocks
      out_.send(MsgType::kSettled, e);
    }
    // At once, not when we next wait for input: a busy receiver may not wait for a long time,
    // and the sender's list may be waiting for this.
    out_.flush();
    settled_sent_ = below;
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
    while (!dir_stack_.empty() && dir_stack_.back().path != parent) leave_folder();
    if (dir_stack_.empty()) {
      throw ProtocolError("entry \"" + printable(entry.path) + "\" arrived without its directory");
    }
  }

  // The list is depth-first: once it leaves a folder, it has listed everything in it.
  void leave_folder() {
    ListedDir& dir = dir_stack_.back();
    if (!dir.skipped) sweep_.left_folder(dir.path, dir.listed_names);
    dir_stack_.pop_back();
  }

  // --delete, once the list has ended: the list leaves the folders it is still in.
  void delete_unlisted() {
    while (!dir_stack_.empty()) leave_folder();
    sweep_.run(sender_list_errors_);
  }

  void on_entry(FileEntry entry) {
    if (list_done_) throw ProtocolError("Entry after EndOfList");
    check_order(entry);
    uint64_t index = next_index_++;
    // The sender paces its list by the Settled it got, never more than ours: one past that
    // would have us hold its list without bound.
    if (index >= settled_sent_ + wire::kListWindow) {
      throw ProtocolError("entry " + std::to_string(index) + " is past the list window (" +
                          std::to_string(wire::kListWindow) + " entries after the last Settled, " +
                          std::to_string(settled_sent_) + "): the sender does not pace its list");
    }
    prev_path_ = entry.path;
    if (index > 0 && is_reserved_top_name(entry.path)) {
      throw ProtocolError("entry \"" + printable(entry.path) + "\" has a name Ferry keeps for itself");
    }
    if (seal_ == nullptr) {
      place_entry(index, std::move(entry));
      return;
    }
    seal_->listed(index, entry);
    uint64_t errors = stats_.errors;
    Placement placement = place_entry(index, std::move(entry));
    using Placed = SealRecorder::Placed;
    Placed how = placement.kind == Placement::kFollower ? Placed::kFollower
                 : placement.kind == Placement::kNotPlaced || stats_.errors > errors ? Placed::kNotStored
                 : placer_.is_wanted(index)                                         ? Placed::kWanted
                                                                                    : Placed::kInPlace;
    seal_->placed(index, how, placement.leader);
  }

  // What became of a listed entry, for the seal.
  struct Placement {
    enum Kind { kPlaced, kNotPlaced, kFollower } kind = kPlaced;
    uint64_t leader = 0;  // kFollower: the index of the inode's first name
  };

  Placement place_entry(uint64_t index, FileEntry entry) {
    bool skipped = index > 0 && name_is_taken(entry);
    bool in_new_folder = index > 0 && dir_stack_.back().made_this_run;
    if (index > 0 && sweep_.wants_names()) dir_stack_.back().listed_names.emplace(leaf_of(entry.path));
    if (entry.type == FileType::kDirectory) dir_stack_.push_back({entry.path, skipped, false, {}, {}});
    if (entry.type == FileType::kRegular) stats_.bytes_total += entry.size;
    if (index == 0) {
      root_entry_ = std::move(entry);
      return {};
    }
    ++stats_.files_total;
    if (skipped) {
      if (entry.hardlink_of == index + 1) skipped_leaders_.insert(index);
      return {Placement::kNotPlaced};
    }
    notices_.look_at(entry, root_.shown(entry.path));
    if (temp_file_owner(leaf_of(entry.path))) listed_temp_like_.insert(entry.path);  // never swept

    if (entry.type == FileType::kRegular && entry.hardlink_of != 0) {
      uint64_t leader = entry.hardlink_of - 1;
      if (leader == index) {
        leaders_.add(index, entry.path);
      } else if (leader < index && leaders_.find(leader)) {
        links_.add(std::move(entry));
        return {Placement::kFollower, leader};
      } else if (skipped_leaders_.count(leader) != 0) {
        fail(root_.shown(entry.path) + " was not copied: it is a hard link to a name that was not copied");
        return {Placement::kNotPlaced};
      } else {
        throw ProtocolError("entry \"" + printable(entry.path) + "\" links to an entry that is not a file");
      }
    }

    int dir = root_.parent_dir(entry.path);
    Existing existing;
    bool exists = false;
    if (dir < 0) {
      if (!(options_.dry_run && errno == ENOENT)) {
        fail(errno_message("cannot reach the directory of " + root_.shown(entry.path), errno));
        return {Placement::kNotPlaced};
      }
    } else if (!in_new_folder) {  // a folder this run made holds only what it put there since
      std::string leaf(leaf_of(entry.path));
      if (platform::stat_at(dir, leaf.c_str(), &existing.st, &existing.flags) == 0) {
        exists = true;
      } else if (errno != ENOENT) {
        fail(errno_message("cannot stat " + root_.shown(entry.path), errno));
        return {Placement::kNotPlaced};
      }
    }

    if (entry.type == FileType::kSymlink && apply_.store_metadata &&
        (entry.uid != apply_.own_uid || entry.gid != apply_.own_gid)) {
      append_symlink_owner(&symlink_owners_, entry.path, entry.uid, entry.gid);
    }
    bool is_directory = entry.type == FileType::kDirectory;
    bool made = placer_.place(index, dir, entry, exists ? &existing : nullptr);
    if (is_directory) dir_stack_.back().made_this_run = made;
    return {};
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

  void on_end_of_list(const EndOfList& end) {
    if (list_done_) throw ProtocolError("second EndOfList");
    stats_.listed_all = true;
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
    std::optional<WantedFile> taken = placer_.take_wanted(index);
    if (!taken) throw ProtocolError("data for entry " + std::to_string(index) + ", which was not wanted");
    WantedFile wanted = std::move(*taken);
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
    stats_.bytes_through += data.bytes.size();
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
    if (seal_ != nullptr && !end.has_sha256) throw ProtocolError("FileEnd without the SHA-256 a sealed backup needs");
    IncomingFile::Finished finished = incoming_.end(end);
    switch (finished.outcome) {
      case IncomingFile::Finished::kPlaced:
        if (seal_ != nullptr) seal_->arrived(end.index, end.sha256, finished.file.entry);
        return placer_.protect_later(finished.file.entry);
      case IncomingFile::Finished::kFailed:
        if (seal_ != nullptr) seal_->not_stored(end.index);
        return;
      case IncomingFile::Finished::kRetry:
        placer_.want_again(end.index, std::move(finished.file));
        return;
    }
  }

  void on_file_failed(const FileFailed& failed) {
    // The sender has told the user why; here we only drop what was started.
    std::optional<WantedFile> wanted;
    if (incoming_.active() && incoming_.index() == failed.index) {
      wanted = incoming_.abandon();
    } else if ((wanted = placer_.take_wanted(failed.index))) {
      signer_.take(failed.index);  // forget the shape of a basis no data was matched against
    } else {
      throw ProtocolError("FileFailed for entry " + std::to_string(failed.index) + ", which was not wanted");
    }
    if (failed.flags & wire::kFailedWillRetry) {
      // It changed while the sender read it: ask again, whole (the basis may be what changed).
      wanted->signed_basis.reset();
      placer_.want_again(failed.index, std::move(*wanted));
      return;
    }
    if (failed.flags & wire::kFailedVanished) ++stats_.vanished;
    --stats_.files_transferred;
    if (seal_ != nullptr) seal_->not_stored(failed.index);
  }

  // ---- the end of the run ----

  SealSummary finish_tree() {
    if (options_.dry_run) {
      delete_unlisted();
      return {};
    }
    installer_.install_waiting();  // hardlinks, deletions and directory times need every file in place
    links_.visit_newest_first([this](const FileEntry& link) { make_hardlink(link); });
    delete_unlisted();
    installer_.finish_safety_net();
    installer_.remove_stale_temp_files_where_written(listed_temp_like_);  // before directory mtimes are set
    // Directories last, deepest first: writing into a directory changes its mtime, and a
    // read-only mode must not stop us filling it.
    protect_files();
    placer_.dirs().visit_newest_first([this](const FileEntry& dir) {
      UniqueFd fd = root_.open(dir.path, O_RDONLY | O_DIRECTORY);
      if (fd.valid()) finish_directory(fd.get(), dir);  // else creating it failed and was reported
    });
    if (!options_.leave_root_alone) finish_directory(root_.root_fd(), root_entry_);
    if (apply_.store_metadata && state_ != nullptr) {
      std::string unwritten = write_symlink_owners(state_->state_dir(), symlink_owners_);
      if (!unwritten.empty()) fail(unwritten + "; the owners of symlinks were not kept");
    }
    // The seal goes in place before the tree is published: a run cut off between the two leaves
    // a seal nothing names, never a published tree without its seal. It is written before the
    // run's one flush, which then takes it to disk too; where there is no such flush (FUSE, the
    // posix backend, a run that changed nothing) the seal is synced on its own.
    SealSummary sealed;
    if (seal_ != nullptr) {
      bool flushed_with_the_run = !installer_.fsync_each() && installer_.changed();
      sealed = seal_->finish(tree_is_exactly_the_list(), options_.flush_to_disk && !flushed_with_the_run);
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
    return sealed;
  }

  // Whether nothing but the listed tree is left at the destination: what the seal's kComplete
  // flag says, so that verify can call anything else a difference.
  bool tree_is_exactly_the_list() const {
    return options_.delete_extraneous && (options_.delete_excluded || options_.filters.empty()) &&
           sender_list_errors_ == 0;
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
    for (const FileEntry& entry : placer_.take_to_protect()) {
      UniqueFd fd = root_.open(entry.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      std::string problem = fd.valid() ? protect_fd(fd.get(), entry, apply_)
                                       : errno_message("cannot open", errno);
      if (!problem.empty()) fail(root_.shown(entry.path) + ": " + problem);
    }
  }

  // `link` names an inode whose first name, entry `link.hardlink_of - 1`, was placed.
  void make_hardlink(const FileEntry& link) {
    const std::string leader_path = leaders_.find(link.hardlink_of - 1).value();
    const std::string& path = link.path;
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
  SealRecorder* seal_;       // null when the run is not sealed
  ApplyOptions apply_;
  Installer installer_{root_, state_, reporter_, stats_, options_};
  ExtraneousSweep sweep_{root_, installer_, reporter_, stats_, options_};
  MetadataNotices notices_{reporter_, options_.program_name, apply_, options_.restoring};
  uint64_t sender_list_errors_ = 0;
  std::string symlink_owners_;  // fs/symlink_owners.h records, when storing metadata

  uint64_t next_index_ = 0;
  uint64_t settled_sent_ = 0;  // the last Settled sent
  std::string prev_path_;
  // The folders the list is inside, innermost last: a folder's entries all arrive while it is
  // here (the list is depth-first), so its folded names are complete and go with it.
  struct ListedDir {
    std::string path;
    bool skipped = false;  // its name was taken (name_is_taken): nothing below it is made
    bool made_this_run = false;  // created empty by this run: no entry in it needs a stat
    std::unordered_map<std::string, std::string> folded_names;  // only where folding_.any()
    ExtraneousSweep::ListedNames listed_names;                   // only for --delete
  };
  std::vector<ListedDir> dir_stack_;
  NameFolding folding_;  // what the destination treats as one name
  std::unordered_set<uint64_t> skipped_leaders_;  // hard-link leaders whose names were taken
  bool list_done_ = false;
  FileEntry root_entry_;
  StreamDecompressor decompressor_;
  EntryDecoder entry_codec_;
  // The first name of each hard-linked inode placed, and its later names, linked at the end.
  LeaderPaths leaders_{256, spill_dir_of(state_)};
  SpilledEntries links_{4096, spill_dir_of(state_)};
  std::set<std::string> listed_temp_like_;  // entries whose names look like our temporary files
  // After installer_: a session that ends early leaves its file for the next run to resume.
  IncomingFile incoming_{installer_, landing_, state_, stats_, apply_, options_.flush_to_disk,
                        options_.check_sealed_hashes};
  std::mutex wire_order_;  // held while sending a Want (and its signature)
  // Its thread stops before what it uses goes (the placer, declared after it, holds nothing
  // the thread touches).
  BasisSigner signer_{out_, wire_order_};
  EntryPlacer placer_{options_, apply_, landing_, state_, installer_, reporter_, stats_, out_, wire_order_, signer_};
};

}  // namespace

Done Receiver::run(ConfinedRoot& root, DestinationState* state) {
  MirrorLanding landing(root);
  return run(landing, state);
}

Done Receiver::run(Landing& landing, DestinationState* state, SealRecorder* seal) {
  ReceiveSession session(in_, out_, reporter_, stats_, options_, landing, state, seal);
  in_.set_before_block([this] { out_.flush(); });
  return session.run();
}

}  // namespace ferry
