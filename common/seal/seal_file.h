// A seal as a file: DEST/.ferry-state/seals/<name>.seal on the backup machine (docs/SEALS.md).
//
//   magic "FERRYSEAL\n"  version:u8 (1)  flags:u8  id_len:u8  id
//   records: length:4 (LE, 1..1 MiB) then the record body (seal_record.h), in list order
//   end: length 0, then root:32 and count:8 (LE)
//
// The writer appends a record when its entry is listed and patches a file's content hash and
// mtime in place once its data has arrived; finish() reads the records back once, in order,
// to build the hash tree (seal_tree.h), appends the root and renames the file into place. The
// reader streams the records back, bounding every length before it reads.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fs/unique_fd.h"
#include "protocol/wire.h"
#include "seal/seal_record.h"
#include "seal/sha256.h"

namespace ferry {

// The seal's header flags.
namespace seal_flags {
// The destination holds exactly the listed tree (a snapshot, or a mirror backed up with
// --delete): anything else found there is a difference, not a leftover of earlier runs.
inline constexpr uint8_t kComplete = 1u << 0;
inline constexpr uint8_t kKnown = kComplete;
}  // namespace seal_flags

using wire::kMaxSealIdBytes;

struct SealSummary {
  std::string id;
  uint8_t flags = 0;
  Sha256Digest root{};
  uint64_t entries = 0;
};

class SealWriter {
 public:
  // Starts `name` in the folder `dir` (borrowed; it outlives the writer), replacing a file a
  // cut-off run left there. Throws FatalError when it cannot be created.
  SealWriter(int dir, std::string name, std::string id, uint8_t flags);
  SealWriter(const SealWriter&) = delete;
  SealWriter& operator=(const SealWriter&) = delete;

  // Appends a record (or its encoded body); returns where it is, for patch().
  uint64_t append(const SealRecord& record) { return append_body(encode_seal_record(record)); }
  uint64_t append_body(std::string_view body);
  // A file's content hash and the mtime it was given, once its data arrived.
  void patch(uint64_t at, const Sha256Digest& content, int64_t mtime_sec, uint32_t mtime_nsec);
  // The entry was not stored after all.
  void mark_not_stored(uint64_t at);
  // A hard link: the record at `to` takes the content hash and mtime the record at `from` holds
  // now, or its not-stored mark. `from` must not be a record this method wrote to (a link's first
  // name, never another link), so that what it reads is settled.
  void copy_content(uint64_t from, uint64_t to);
  // The header's flags, known only at the end of a run.
  void set_flags(uint8_t flags);

  // Builds the tree, appends the root, syncs (with `sync`) and renames the file to `final_name`
  // in the same folder. Throws FatalError when the disk refuses.
  SealSummary finish(const std::string& final_name, bool sync);
  // Removes what was written: the seal is not needed after all.
  void abandon();

 private:
  void flush();
  // Writes at `at`: into the buffer when that part is not written yet, else as a patch.
  void write_at(uint64_t at, const void* data, size_t len);
  // Writes the patches waiting: each span of the file they cover is read, patched and written
  // back whole.
  void apply_patches();
  void set_not_stored(uint64_t at);

  int dir_;
  std::string name_;
  std::string id_;
  uint8_t flags_;
  UniqueFd fd_;
  std::string buffer_;       // not yet written; starts at flushed_
  uint64_t flushed_ = 0;     // bytes already in the file
  // Changes to records already in the file, waiting to be written together. A file's record is
  // written when it is listed and patched when its data has arrived, by then mostly in the
  // file: one pwrite per patch was two system calls per file on the receiver's one thread.
  struct Patch {
    uint64_t at;
    uint8_t len;
    std::array<char, 4 + kSealFixedBytes> bytes;
  };
  std::vector<Patch> patches_;
  // Everything appended and patched is in the file (copy_content reads records from there); only
  // copy_content's own writes came after.
  bool settled_ = false;
};

class SealReader {
 public:
  // Reads the seal open at `fd` (owned); `shown` names it in messages. Throws SealFormatError
  // for a header that is not a seal's.
  SealReader(UniqueFd fd, std::string shown);

  const std::string& id() const { return id_; }
  uint8_t flags() const { return flags_; }

  // The next record's body; false at the end, after which summary() holds the stored root and
  // count. Throws SealFormatError for a truncated or malformed file.
  bool next(std::string* body);
  const SealSummary& summary() const { return summary_; }

 private:
  void fill(size_t want);
  std::string_view take(size_t n, const char* what);

  UniqueFd fd_;
  std::string shown_;
  std::string id_;
  uint8_t flags_ = 0;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  bool ended_ = false;
  SealSummary summary_;
};

// Reads a whole seal, rebuilding its tree: the summary with the root the records give, or
// SealFormatError when the file is damaged or its stored root does not match its records.
SealSummary check_seal_file(UniqueFd fd, const std::string& shown);

}  // namespace ferry
