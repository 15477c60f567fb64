// What a destination could not apply to an entry, kept in one extended attribute beside it
// (platform::metadata_xattr_name(); docs/STORED_METADATA.md), as rsync's --fake-super does.
//
// A non-root agent cannot chown, must not leave a file setuid or setgid under its own name, and
// cannot make devices; it stores the entry's owner, full mode, type and device numbers in the
// attribute, and gives the real file a safe mode and a regular-file body. The agent reads the
// attribute back when it sends (a restore), so the client sees the entry as it was backed up;
// a later backup compares against it, so an unchanged tree changes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/file_entry.h"
#include "protocol/wire.h"

namespace ferry {

struct StoredMetadata {
  FileType type = FileType::kRegular;
  uint32_t mode = 0;  // 07777
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  std::string acl;          // only where the destination keeps no ACLs (FileEntry::acl)
  std::string default_acl;
  uint32_t flags = 0;       // file_flags bits: a storing agent sets none on the files themselves
  bool operator==(const StoredMetadata&) const = default;
};

// The largest value decode accepts; longer is malformed.
inline constexpr size_t kMaxStoredMetadataBytes = 128 + 2 * (3 + wire::kMaxAclTextBytes);

// Version 1, text so that getfattr shows it: "1 <type> <mode octal> <uid> <gid> <major> <minor>"
// with type one of f d l p c b, then " a=<ACL>" and " d=<default ACL>" where the destination
// keeps no ACLs of its own (Ferry's ACL text has no spaces: valid_acl_text), then " f=<flags>"
// (decimal file_flags bits) when the entry has file flags.
std::string encode_stored_metadata(const StoredMetadata& stored);
// nullopt for anything malformed, of another version, or out of range.
std::optional<StoredMetadata> decode_stored_metadata(std::string_view text);

StoredMetadata stored_metadata_of(const FileEntry& entry);
// Puts the stored fields back into an entry read from the destination's disk (its type,
// owner, mode and device; a special file stored as an empty regular file has no size).
void overlay_stored_metadata(const StoredMetadata& stored, FileEntry* entry);

// Whether a fifo or device must be kept as an empty regular file with the attribute: always
// when storing, since a non-root agent cannot make devices and Linux gives fifos no user
// attributes.
bool stored_as_regular_file(FileType type);

}  // namespace ferry
