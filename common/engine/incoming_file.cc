#include "engine/incoming_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <span>

#include "base/error.h"
#include "base/log.h"
#include "base/positioned_io.h"
#include "delta/patch.h"
#include "fs/dest_state.h"
#include "fs/rel_path.h"
#include "platform/platform.h"

namespace ferry {

std::string partial_basis_name(const std::string& path) { return temp_name_for(path) + ".basis"; }

IncomingFile::IncomingFile(Installer& installer, Landing& landing, DestinationState* state, TransferStats& stats,
                           const ApplyOptions& apply, bool flush_to_disk, bool check_sealed_hashes)
    : installer_(installer), landing_(landing), root_(landing.tree()), state_(state), stats_(stats), apply_(apply), flush_to_disk_(flush_to_disk),
      check_sealed_hashes_(check_sealed_hashes), copy_buf_(wire::kDataChunkBytes) {}

void IncomingFile::begin(uint64_t index, WantedFile wanted) {
  active_ = true;
  index_ = index;
  wanted_ = std::move(wanted);
  basis_.reset();
  cloned_ = false;
  bytes_ = 0;
  writeback_from_ = 0;
  ends_in_hole_ = false;
  error_.clear();
  hasher_.reset();
  sealed_hasher_.reset();
  if (check_sealed_hashes_ || !entry_.sealed_content.empty()) sealed_hasher_.emplace();
  tmp_dir_ = -1;
  const std::string& path = entry_.path;
  stats_.set_current_file(path);
  int dir = root_.parent_dir(path);
  if (dir < 0) {
    error_ = errno_message("cannot reach the directory of " + root_.shown(path), errno);
    return;
  }
  Installer::TempSpot spot = installer_.temp_spot(path);  // `dir` stays valid: the same folder
  in_state_tmp_ = installer_.is_state_tmp(spot.dir);
  // The folder itself is needed only to read the old version, or to rename the file into place
  // at its end; a file in .ferry-state/tmp is renamed with its batch (Installer::install_in_batch).
  if (wanted_.signed_basis || !in_state_tmp_ || installer_.fsync_each()) dir_.reset(::fcntl(dir, F_DUPFD_CLOEXEC, 0));
  tmp_dir_ = spot.dir == dir ? dir_.get() : spot.dir;
  tmp_name_ = std::move(spot.name);
  // In .ferry-state/tmp, which only the receiver can enter, with the mode it will have.
  created_mode_ = in_state_tmp_ ? file_mode_to_create(entry_, apply_) : 0600;
  fd_.reset(::openat(tmp_dir_, tmp_name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, created_mode_));
  if (!fd_.valid()) {
    int err = errno;
    tmp_name_.clear();
    if (ends_the_run(err)) throw_unwritable(err);
    error_ = errno_message("cannot create a file in the directory of " + root_.shown(path), err);
  }
}

void IncomingFile::write(std::string_view bytes) { take(bytes, /*store=*/true); }

// Every byte of the file passes here in order: hashed, and written at its offset unless it is
// already there (a clone's byte at the place it had in the basis).
void IncomingFile::take(std::string_view bytes, bool store) {
  ends_in_hole_ = false;
  uint64_t offset = bytes_;
  bytes_ += bytes.size();
  if (!error_.empty()) return;
  hasher_.update(bytes.data(), bytes.size());
  if (sealed_hasher_) sealed_hasher_->update(bytes.data(), bytes.size());
  if (!store || !put(bytes.data(), bytes.size(), offset)) return;
  start_writeback(false);
}

// Writes all of [p, p + len) at `offset`; on failure sets error_ (or ends the run) and returns false.
bool IncomingFile::put(const char* p, size_t len, uint64_t offset) {
  if (int err = pwrite_full(fd_.get(), p, len, offset); err != 0) {
    if (ends_the_run(err)) throw_unwritable(err);
    error_ = errno_message("write error in " + root_.shown(entry_.path), err);
    return false;
  }
  return true;
}

void IncomingFile::apply_delta(Decoder& d) {
  if (!wanted_.signed_basis) throw ProtocolError("FileDelta for entry " + std::to_string(index_) + ", which has no basis");
  if (!basis_.valid() && error_.empty()) {
    open_basis();
    if (basis_.valid() && bytes_ == 0) clone_basis();
  }
  struct Apply : PatchSink {
    explicit Apply(IncomingFile& file) : f(file) {}
    void literal(std::string_view bytes) override {
      f.stats_.bytes_literal += bytes.size();
      f.stats_.bytes_through += bytes.size();
      f.write(bytes);
    }
    void copy(uint64_t offset, uint64_t length) override { f.copy_from_basis(offset, length); }
    IncomingFile& f;
  } apply(*this);
  const BasisShape& basis = *wanted_.signed_basis;
  ferry::apply_delta(d, basis.size, basis.block_size, index_, apply);
}

void IncomingFile::open_basis() {
  const BasisShape& signed_basis = *wanted_.signed_basis;
  if (wanted_.basis_is_partial) {
    std::string name = partial_basis_name(entry_.path);
    basis_.reset(::openat(state_->tmp_dir(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  } else if (wanted_.basis_is_earlier) {
    basis_ = landing_.open_earlier(entry_.path);
  } else {
    std::string leaf(leaf_of(entry_.path));
    basis_.reset(::openat(dir_.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  }
  struct stat st {};
  if (!basis_.valid() || ::fstat(basis_.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != signed_basis.size ||
      platform::modified_time(st).tv_sec != signed_basis.mtime_sec ||
      static_cast<uint32_t>(platform::modified_time(st).tv_nsec) != signed_basis.mtime_nsec) {
    basis_.reset();
    error_ = "basis changed";  // retried whole at FileEnd
  }
}

// Where the file system can, the new file starts as a clone of the basis (no block copied), and
// a copy that puts blocks back where they were writes nothing: a 4 GiB disk image with ten
// changed blocks costs ten block writes instead of 4 GiB (btrfs, XFS; rsync rewrites it all).
// The bytes are still read from the basis, for the hash that verifies the result; a basis
// changed after the clone (its ctime moves) makes that hash meaningless, so end() asks again.
void IncomingFile::clone_basis() {
  struct stat st {};
  if (!platform::clone_file_data(basis_.get(), fd_.get()) || ::fstat(basis_.get(), &st) != 0) return;
  cloned_ = true;
  cloned_ctime_ = platform::changed_time(st);
}

bool IncomingFile::basis_changed_since_clone() {
  struct stat st {};
  if (::fstat(basis_.get(), &st) != 0) return true;
  return !platform::same_time(platform::changed_time(st), cloned_ctime_);
}

void IncomingFile::copy_from_basis(uint64_t offset, uint64_t length) {
  stats_.bytes_matched += length;
  stats_.bytes_through += length;
  if (!error_.empty()) {
    bytes_ += length;
    return;
  }
  while (length > 0) {
    std::span<char> slot = copy_buf_.slot_for(offset);
    size_t want = static_cast<size_t>(std::min<uint64_t>(length, slot.size()));
    ssize_t n = ::pread(basis_.get(), slot.data(), want, static_cast<off_t>(offset));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      error_ = "basis changed";
      bytes_ += length;
      return;
    }
    // In a clone, bytes copied to the offset they came from are there already.
    take(std::string_view(slot.data(), static_cast<size_t>(n)), /*store=*/!cloned_ || offset != bytes_);
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
}

void IncomingFile::hole(uint64_t length) {
  if (length > wire::kMaxFileBytes - bytes_) {
    throw ProtocolError("FileHole makes " + root_.shown(entry_.path) + " larger than " +
                        std::to_string(wire::kMaxFileBytes) + " bytes");
  }
  stats_.bytes_literal += length;
  stats_.bytes_through += length;
  bytes_ += length;
  if (!error_.empty()) return;
  hasher_.update_zeros(length);
  if (sealed_hasher_) sealed_hasher_->update_zeros(length);
  ends_in_hole_ = true;
  // Writes go to their offsets (pwrite), so a hole needs nothing more, except in a file that
  // began as a clone, where the range holds the basis's bytes: there it is punched out, or
  // written as zeros where the file system cannot punch.
  if (cloned_ && !platform::punch_hole(fd_.get(), bytes_ - length, length)) write_zeros(bytes_ - length, length);
}

void IncomingFile::write_zeros(uint64_t offset, uint64_t length) {
  static const char kZeros[64 * 1024] = {};
  while (length > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, sizeof kZeros));
    if (!put(kZeros, n, offset)) return;
    offset += n;
    length -= n;
  }
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
void IncomingFile::start_writeback(bool file_complete) {
  static constexpr uint64_t kWritebackChunk = 8 * 1024 * 1024;
  static constexpr uint64_t kWritebackMinFile = 1024 * 1024;
  if (!flush_to_disk_ && !wanted_.replaces_file) return;
  uint64_t pending = bytes_ - writeback_from_;
  if (pending == 0 || (!file_complete && pending < kWritebackChunk)) return;
  if (file_complete && bytes_ < kWritebackMinFile) return;
  platform::start_writeback(fd_.get(), writeback_from_, pending);
  writeback_from_ = bytes_;
}

IncomingFile::Finished IncomingFile::end(const FileEnd& end) {
  std::string shown = root_.shown(entry_.path);
  if (end.size != bytes_) {
    throw ProtocolError("FileEnd for " + shown + " says " + std::to_string(end.size) + " bytes, " +
                        std::to_string(bytes_) + " arrived");
  }
  if (cloned_ && error_.empty() && basis_changed_since_clone()) error_ = "basis changed";  // retried whole
  // A clone is as long as its basis; a file that ends in a hole is as long as its last write.
  if ((cloned_ || ends_in_hole_) && error_.empty() && ::ftruncate(fd_.get(), static_cast<off_t>(bytes_)) != 0) {
    if (ends_the_run(errno)) throw_unwritable(errno);
    error_ = errno_message("cannot size " + shown, errno);
  }
  bool verified = error_.empty() && hasher_.digest() == end.hash;
  if (verified) start_writeback(true);
  if (!verified && wanted_.signed_basis && !wanted_.retried) {
    spdlog::debug("{}: delta did not verify ({}), asking for the whole file", shown,
                  error_.empty() ? "hash mismatch" : error_);
    drop_partial_basis();
    WantedFile again = std::move(wanted_);
    again.signed_basis.reset();
    again.retried = true;
    discard();
    return {Finished::kRetry, std::move(again)};
  }
  if (!error_.empty() || !verified) {
    installer_.fail(!error_.empty() ? error_
                                    : "verification failed for " + shown +
                                          ": the data written does not match the sender's hash (was the file "
                                          "changed on the sending side while it was sent?); the old version was "
                                          "kept, run again to copy it");
    discard();
    return {Finished::kFailed, {}};
  }
  if (sealed_hasher_ && !matches_seal(end)) {
    installer_.fail(shown + " does not match the seal made when it was backed up: its copy on the backup machine "
                            "changed since (a failing disk, or a change made there), so it was not restored and "
                            "any local file of that name was kept; `ferry verify` on the backup lists what else "
                            "changed");
    ++stats_.seal_mismatches;
    discard();
    return {Finished::kFailed, {}};
  }
  FileEntry& entry = entry_;
  entry.size = end.size;
  entry.mtime_sec = end.mtime_sec;  // as the file was when its data was read
  entry.mtime_nsec = end.mtime_nsec;
  std::string problem = in_state_tmp_ ? apply_metadata_new_fd(fd_.get(), entry, apply_, created_mode_)
                                      : apply_metadata_fd(fd_.get(), entry, apply_);
  if (!problem.empty()) installer_.fail(shown + ": " + problem);
  if (int err = installer_.fsync_each() ? platform::flush_file(fd_.get()) : 0; err != 0) {
    if (ends_the_run(err)) throw_unwritable(err);
    installer_.fail(errno_message("cannot flush " + shown + " to disk", err) + "; the old version was kept");
    discard();
    return {Finished::kFailed, {}};
  }
  fd_.reset();
  std::string tmp = std::move(tmp_name_);
  tmp_name_.clear();
  if (in_state_tmp_ && !installer_.fsync_each()) {
    installer_.install_in_batch(std::move(tmp), entry.path, end.size);
  } else {
    installer_.install(tmp_dir_, tmp, dir_.get(), entry.path);
  }
  drop_partial_basis();
  active_ = false;
  dir_.reset();
  basis_.reset();
  return {Finished::kPlaced, std::move(wanted_)};
}

// True when no seal hash came with the file (the seal holds none for it).
bool IncomingFile::matches_seal(const FileEnd& end) {
  std::string_view sealed = entry_.sealed_content;
  if (sealed.empty() && end.has_sha256) sealed = as_chars(end.sha256);
  if (sealed.empty()) return true;
  Sha256Digest digest = sealed_hasher_->finish();
  return sealed == as_chars(digest);
}

WantedFile IncomingFile::abandon() {
  drop_partial_basis();
  WantedFile wanted = std::move(wanted_);
  discard();
  return wanted;
}

void IncomingFile::throw_unwritable(int err) {
  std::string path = entry_.path;
  discard();  // what is half-written goes: the disk needs the room
  installer_.throw_unwritable(path, err);
}

void IncomingFile::discard(bool keep_for_resume) {
  if (!tmp_name_.empty() && !(keep_for_resume && installer_.is_state_tmp(tmp_dir_))) {
    ::unlinkat(tmp_dir_, tmp_name_.c_str(), 0);
  }
  if (!keep_for_resume && active_) drop_partial_basis();
  tmp_name_.clear();
  fd_.reset();
  dir_.reset();
  basis_.reset();
  active_ = false;
}

void IncomingFile::drop_partial_basis() {
  if (!wanted_.basis_is_partial) return;
  ::unlinkat(state_->tmp_dir(), partial_basis_name(entry_.path).c_str(), 0);
  wanted_.basis_is_partial = false;
}

}  // namespace ferry
