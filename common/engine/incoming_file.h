// The file whose data is arriving, from its first FileData, FileDelta or FileHole to its
// FileEnd: written under a temporary name (Installer::temp_spot), hashed as it is written,
// patched from the old version when the sender sends a delta, verified against the sender's
// hash, given its metadata and handed to the Installer to be renamed into place.
//
// The receiver asks for files (WantedFile) while the list is still arriving; the data of one
// file at a time follows, so there is at most one IncomingFile.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/page_buffer.h"
#include "delta/file_hash.h"
#include "seal/content_hash.h"
#include "engine/basis_signer.h"
#include "engine/installer.h"
#include "engine/landing.h"
#include "fs/metadata.h"
#include "fs/unique_fd.h"
#include "protocol/messages.h"

namespace ferry {

// A file whose data was asked for. With a basis, the sender answers with a delta against the
// file of the same name we already have.
struct WantedFile {
  FileEntry entry;
  std::optional<BasisShape> signed_basis;  // what the signer described; unset: the file comes whole
  bool replaces_file = false;    // renamed over an existing regular file when done
  bool basis_is_partial = false;  // the basis is what an earlier, cut-off run wrote (resume)
  bool basis_is_earlier = false;  // the basis is the landing's earlier version (a snapshot's)
  bool retried = false;
};

// The name under which a cut-off file waits in .ferry-state/tmp while it is the basis of its
// own resumed copy.
std::string partial_basis_name(const std::string& path);

class IncomingFile {
 public:
  IncomingFile(Installer& installer, Landing& landing, DestinationState* state, TransferStats& stats,
               const ApplyOptions& apply, bool flush_to_disk, bool check_sealed_hashes);
  // A session that ends early (connection cut, protocol error) leaves the file it was writing
  // in .ferry-state/tmp: the next run resumes from it, or removes it.
  ~IncomingFile() { discard(/*keep_for_resume=*/true); }
  IncomingFile(const IncomingFile&) = delete;
  IncomingFile& operator=(const IncomingFile&) = delete;

  bool active() const { return active_; }
  uint64_t index() const { return index_; }

  // Starts entry `index`: creates its temporary file. A failure here is kept and reported at
  // FileEnd; the data that follows is then counted and dropped.
  void begin(uint64_t index, WantedFile wanted);

  // FileData (and a FileDelta's literals).
  void write(std::string_view bytes);
  // A FileDelta's instructions, after its index: literals are written, copies are read from
  // the basis after checking they lie inside it.
  void apply_delta(Decoder& d);
  // A hole in the sender's file stays a hole here: the offset moves on, nothing is written,
  // and the file gets its size at FileEnd if it ends with one.
  void hole(uint64_t length);

  // FileEnd: the file is verified and put in place, or dropped with its error reported.
  struct Finished {
    enum Outcome { kPlaced, kFailed, kRetry } outcome;
    // kPlaced: the entry as placed. kRetry: the file to ask for again, whole (its delta did
    // not verify: a weak+strong collision, or the basis changed under us).
    WantedFile file;
  };
  Finished end(const FileEnd& end);
  // FileFailed for this file: drops what was written and returns what was wanted.
  WantedFile abandon();

 private:
  void take(std::string_view bytes, bool store);
  bool put(const char* p, size_t len, uint64_t offset);
  void write_zeros(uint64_t offset, uint64_t length);
  void open_basis();
  void clone_basis();
  bool basis_changed_since_clone();
  void copy_from_basis(uint64_t offset, uint64_t length);
  void start_writeback(bool file_complete);
  [[noreturn]] void throw_unwritable(int err);
  // Drops the file being written. Its temporary file is removed, except when the session is
  // ending early and the file is in .ferry-state/tmp, where the next run can resume from it.
  void discard(bool keep_for_resume = false);
  void drop_partial_basis();
  bool matches_seal(const FileEnd& end);

  Installer& installer_;
  Landing& landing_;
  ConfinedRoot& root_;  // landing_.tree()
  DestinationState* state_;
  TransferStats& stats_;
  const ApplyOptions& apply_;
  const bool flush_to_disk_;
  const bool check_sealed_hashes_;  // ReceiverOptions::check_sealed_hashes
  PageBuffer copy_buf_;

  bool active_ = false;
  uint64_t index_ = 0;
  WantedFile wanted_;
  FileEntry& entry_ = wanted_.entry;
  UniqueFd basis_;  // opened at the first FileDelta
  bool cloned_ = false;     // the file began as a clone of basis_ (platform::clone_file_data)
  timespec cloned_ctime_{};  // the basis's ctime just after the clone
  UniqueFd dir_;    // the destination directory, pinned for the whole file when it is needed
  int tmp_dir_ = -1;  // where tmp_name_ is: .ferry-state/tmp or dir_
  bool in_state_tmp_ = false;
  std::string tmp_name_;
  uint32_t created_mode_ = 0600;
  UniqueFd fd_;
  FileHasher hasher_;
  // A restore from a sealed backup: the content hash of what is written, checked against the
  // seal's (seal/content_hash.h), which FileEnd carries (or, from a sealed --checksum backup's
  // sender, the entry).
  std::optional<ContentHasher> sealed_hasher_;
  uint64_t bytes_ = 0;
  uint64_t writeback_from_ = 0;  // start of the range not yet handed to writeback
  bool ends_in_hole_ = false;    // the last thing that arrived was a FileHole: size it at the end
  std::string error_;  // set once writing failed; the rest of the data is then dropped
};

}  // namespace ferry
