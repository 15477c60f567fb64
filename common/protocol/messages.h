// The messages of Ferry's protocol and their codec. Pure: no IO, no allocation beyond the
// bounds in wire.h. decode() validates every field and throws ProtocolError naming it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/file_entry.h"
#include "protocol/wire.h"

namespace ferry {

class Decoder;
class Encoder;

struct Hello {
  uint32_t protocol_version = wire::kProtocolVersion;
  uint32_t min_protocol_version = wire::kMinProtocolVersion;
  std::string software_version;
  uint64_t capabilities = wire::kCapabilities;
  uint32_t euid = 0;

  void encode(Encoder& e) const;
  static Hello decode(std::string_view payload);
};

struct Open {
  wire::Operation operation = wire::Operation::kBackup;
  std::string path;  // on the agent's machine; relative: under the key's root, or the user's home
  uint64_t flags = 0;
  uint32_t timeout_s = 60;
  int32_t compress_level = 0;     // zstd level, with kOpenCompress
  std::string skip_compress;      // slash-separated suffixes the sender does not compress
  uint64_t rate_limit = 0;        // bytes per second each side may write; 0 = no limit
  std::string filters;            // FilterRules::serialize(): what the sender leaves out
  uint64_t safety_net_keep_s = 0;      // prune safety-net folders older than this; 0 = by age never
  uint64_t safety_net_keep_bytes = 0;  // ... and the oldest while all of them exceed this; 0 = never
  // A backup: the volume earlier backups to this path went to, as the agent reported it in
  // Opened ("" = none known, or --accept-new-volume). The agent refuses a path on any other
  // volume before it creates anything: a backup disk that is not mounted.
  std::string volume_mount;
  std::string volume_id;
  // A restore from a snapshot store: which snapshot ("" = the newest; fs/snapshot_store.h's
  // resolve_snapshot reads it).
  std::string at;
  // kForget: the rules of what to keep (KeepRules::serialize).
  std::string keep;
  // kVerify: the share of regular files whose content the agent reads (1..100); the rest are
  // checked on metadata only.
  uint32_t sample_percent = 100;

  void encode(Encoder& e) const;
  static Open decode(std::string_view payload);
};

struct Opened {
  bool receiver_is_root = false;  // whether ownership can be kept on the receiving side
  // A backup: the volume the destination is on (platform::volume_of), for the client to
  // remember; "" when the agent cannot tell.
  std::string volume_mount;
  std::string volume_id;

  // A restore of one file: the list's root stands for the folder the file is in, whose
  // metadata the receiver leaves alone, and nothing else there is the restore's business.
  bool single_file = false;
  // A restore from a sealed backup: the FileEnd of each file the seal holds carries the hash it
  // holds, for the receiver to check what it wrote against (so it hashes what it writes).
  bool sealed_hashes = false;

  void encode(Encoder& e) const;
  static Opened decode(std::string_view payload);
};

// Entries travel several to an Entry frame, each encoded against the entry before it in the
// list, as rsync's file list is: a path sends only what differs from the previous path's
// leading bytes, and mode, owner, group and mtime seconds are left out when they repeat. For
// 50,000 small files this halves the list on the wire. Both ends keep one codec for the whole
// list, fed in list order.
class EntryEncoder {
 public:
  void encode(const FileEntry& entry, Encoder& e);

 private:
  FileEntry prev_;
};

class EntryDecoder {
 public:
  // Decodes the next entry from d, validating every field.
  FileEntry decode(Decoder& d);

 private:
  FileEntry prev_;
};

// A single entry coded against an empty list, for tests and deliberately hostile peers.
void encode_entry(const FileEntry& entry, Encoder& e);
FileEntry decode_entry(std::string_view payload);  // exactly one entry, nothing after it

struct EndOfList {
  uint64_t entries = 0;
  uint64_t list_errors = 0;  // what the sender could not list: the receiver then deletes nothing
  void encode(Encoder& e) const;
  static EndOfList decode(std::string_view payload);
};

// The receiver will ask for nothing below `below` again: every entry before it is placed, and
// every file before it that was wanted has ended (FileEnd or FileFailed). The sender may forget
// those entries and list up to `below + kListWindow`.
struct Settled {
  uint64_t below = 0;
  void encode(Encoder& e) const;
  static Settled decode(std::string_view payload);
};

// Asks for a file's data. With kWantHasSignature, the shape of the receiver's basis follows and
// its block signatures arrive in SigBlocks frames right after; the sender then sends FileDelta.
struct Want {
  uint64_t index = 0;
  uint64_t flags = 0;
  uint64_t basis_size = 0;
  uint32_t block_size = 0;
  uint32_t strong_len = 0;
  uint64_t block_count = 0;
  void encode(Encoder& e) const;
  static Want decode(std::string_view payload);
};

// FileData is the index followed by raw bytes; decode returns a view into the payload.
struct FileDataView {
  uint64_t index = 0;
  std::string_view bytes;
  static FileDataView decode(std::string_view payload);
};
void encode_file_data_head(uint64_t index, Encoder& e);

// FileHole: `length` zero bytes of the file at this point of its data, which the sender's file
// system holds as a hole (SEEK_HOLE): sent as a count, written as a hole where it can be.
struct FileHole {
  uint64_t index = 0;
  uint64_t length = 0;  // 1..kMaxFileBytes
  void encode(Encoder& e) const;
  static FileHole decode(std::string_view payload);
};

// Compressed: the type of the frame it carries, then a flushed segment of the session's zstd
// stream that decodes to that frame's payload. Only FileData and FileDelta travel this way.
struct CompressedView {
  wire::MsgType inner_type = wire::MsgType::kFileData;
  std::string_view stream;
  static CompressedView decode(std::string_view payload);
};

using Hash128 = std::array<uint8_t, wire::kHashBytes>;
using Hash256 = std::array<uint8_t, wire::kSealHashBytes>;

struct FileEnd {
  uint64_t index = 0;
  uint64_t size = 0;
  int64_t mtime_sec = 0;  // as the sender saw the file after reading it
  uint32_t mtime_nsec = 0;
  Hash128 hash{};
  // A sealed backup (Open bit 11): the SHA-256 of the same bytes, for the seal.
  bool has_sha256 = false;
  Hash256 sha256{};

  void encode(Encoder& e) const;
  static FileEnd decode(std::string_view payload);
};

struct FileFailed {
  uint64_t index = 0;
  std::string reason;
  uint64_t flags = 0;  // wire::kFailedWillRetry, wire::kFailedVanished
  void encode(Encoder& e) const;
  static FileFailed decode(std::string_view payload);
};

struct Message {
  wire::MessageLevel level = wire::MessageLevel::kInfo;
  std::string text;
  void encode(Encoder& e) const;
  static Message decode(std::string_view payload);
};

// What the receiver did, sent once when everything is in place.
struct Done {
  uint64_t files_total = 0;
  uint64_t files_transferred = 0;
  uint64_t bytes_total = 0;
  uint64_t bytes_literal = 0;        // file bytes that travelled as data
  uint64_t bytes_matched = 0;        // file bytes rebuilt from the receiver's basis
  uint64_t bytes_compressed_raw = 0;   // data bytes that arrived compressed, before compression
  uint64_t bytes_compressed_wire = 0;  // ... and their size as they travelled
  uint64_t errors = 0;
  uint64_t deleted = 0;  // entries --delete removed (or moved into the safety net)
  uint64_t kept_in_safety_net = 0;  // entries deleted or replaced that the safety net holds
  // A sealed backup: the seal the receiver made (seal/seal_file.h); seal_id "" when none.
  std::string seal_id;
  uint8_t seal_flags = 0;
  uint64_t seal_entries = 0;
  Hash256 seal_root{};
  // ... and the seal it built on ("" = none; root zero: unreadable, or not its records' root).
  std::string previous_seal_id;
  Hash256 previous_seal_root{};
  void encode(Encoder& e) const;
  static Done decode(std::string_view payload);
};

// The agent's answer to Open(kProbe): what `ferry doctor` needs to know about the path and
// the agent's machine.
struct ProbeReport {
  uint32_t euid = 0;
  int64_t time_ns = 0;       // the agent's clock (UTC, ns since the epoch)
  bool exists = false;       // the path exists and is a directory
  bool parent_exists = false;
  bool writable = false;     // by the agent, as it runs
  bool read_only_fs = false;
  bool keeps_xattrs = false;  // Ferry's metadata attribute can be set there (a non-root agent's owners)
  uint64_t free_bytes = 0;   // on the path's (or its parent's) file system
  uint64_t total_bytes = 0;
  std::string last_run;  // the first line of DEST/.ferry-state/last-run ("" if none)
  std::string holder;    // the lock's line while a run holds it ("" if none does)
  std::string fs_kind;   // the path's (or its parent's) file system: "ext4", "fuse", …
  std::string volume_mount;  // the volume the path is on (platform::volume_of); "" if unknown
  std::string volume_id;

  void encode(Encoder& e) const;
  static ProbeReport decode(std::string_view payload);
};

// One snapshot of a store, answering kSnapshots and kForget.
struct SnapshotInfo {
  static constexpr uint64_t kLatest = 1;   // the one `latest` names
  static constexpr uint64_t kRemoved = 2;  // kForget: removed (or, in a dry run, would be)
  std::string id;       // an ID (fs/snapshot_store.h)
  uint64_t flags = 0;
  std::string reasons;  // kForget: why it is kept ("last, daily"), "" if removed
  uint64_t entries = 0;
  uint64_t bytes = 0;
  uint64_t own_bytes = 0;  // what removing it alone would free
  void encode(Encoder& e) const;
  static SnapshotInfo decode(std::string_view payload);
};

// The end of an answer to kSnapshots, kList or kForget.
struct ListingEnd {
  uint64_t count = 0;        // SnapshotInfo or Entry frames sent (entries, for kList)
  uint64_t freed_bytes = 0;  // kForget: what the removal freed (or would free)
  uint64_t errors = 0;       // parts that could not be read (each said in a Message)
  void encode(Encoder& e) const;
  static ListingEnd decode(std::string_view payload);
};

// The answer to kVerify, several items to a frame: the stored seal's records in order, each
// followed by what the agent found at its path when that differs, and the entries it found that
// the seal does not hold, where they fall in the order.
struct VerifyItem {
  enum Kind : uint8_t {
    kSealed = 1,      // the next record of the stored seal (its body)
    kFound = 2,       // what is at that record's path now, as a record: it differs
    kMissing = 3,     // nothing is at that record's path (no data)
    kExtra = 4,       // an entry the seal does not hold, as a record
    kUnreadable = 5,  // that record's file could not be read: why (text)
  };
  Kind kind = kSealed;
  std::string data;
  void encode(Encoder& e) const;
  static VerifyItem decode(Decoder& d);
};

// The end of a verify: the stored seal's header and trailer, and what the agent read.
struct VerifyEnd {
  std::string seal_id;
  uint8_t seal_flags = 0;
  Hash256 stored_root{};
  uint64_t stored_entries = 0;
  uint64_t files_read = 0;
  uint64_t bytes_read = 0;
  void encode(Encoder& e) const;
  static VerifyEnd decode(std::string_view payload);
};

struct Fatal {
  uint8_t exit_code = 1;
  std::string text;
  void encode(Encoder& e) const;
  static Fatal decode(std::string_view payload);
};

}  // namespace ferry
