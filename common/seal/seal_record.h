// One entry of a seal: what a backup stored at a path, as the client sent it. A record is the
// entry's metadata in the protocol's own entry coding (one coding to validate, one to fuzz)
// plus the SHA-256 of a regular file's content, and its leaf in the seal's hash tree is the
// SHA-256 of the record's bytes.
//
// Body layout (docs/SEALS.md):
//   flags:u8  content:32  mtime_sec:8 (LE, signed)  mtime_nsec:4 (LE)  entry (encode_entry)
// The fixed-size fields come first so that a receiver can write a file's record when the file
// is listed and fill in its content hash and final mtime when its data has arrived.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/file_entry.h"
#include "protocol/wire.h"
#include "seal/sha256.h"

namespace ferry {

struct SealRecord {
  // The run could not store this entry (its data failed, or its name was taken): the seal
  // says nothing about what is at its path.
  static constexpr uint8_t kNotStored = 1u << 0;
  // A record of what verify found on disk whose content it did not read (--sample).
  static constexpr uint8_t kContentUnread = 1u << 1;
  static constexpr uint8_t kKnownFlags = kNotStored | kContentUnread;

  uint8_t flags = 0;
  Sha256Digest content{};  // regular files: SHA-256 of the data; zeros otherwise
  FileEntry entry;         // canonical (canonical_entry)
};

inline constexpr size_t kSealContentOffset = 1;
inline constexpr size_t kSealMtimeOffset = 33;
inline constexpr size_t kSealFixedBytes = 45;
using wire::kMaxSealRecordBytes;

// What a seal keeps of an entry: everything but what depends on the run (the index of a hard
// link's first name, a --checksum hash).
FileEntry canonical_entry(FileEntry entry);

std::string encode_seal_record(const SealRecord& record);
// Throws SealFormatError naming the field for anything malformed.
SealRecord decode_seal_record(std::string_view body);

// The leaf of a record in the hash tree: SHA-256 of 0x00 and the body.
Sha256Digest seal_leaf(std::string_view body);

// How `now` differs from `sealed`, in words ("content", "mode 0644 -> 0600", …); empty when they
// are the same. A record whose content was not read is compared on metadata only.
std::vector<std::string> seal_differences(const SealRecord& sealed, const SealRecord& now);

}  // namespace ferry
