// The owners of symlinks that a receiving agent which is not root could not give them.
//
// Everything else such an agent cannot apply goes into Ferry's metadata attribute on the entry
// itself (fs/stored_metadata.h), but Linux allows no user attributes on a symlink, and turning
// links into files would spoil the backup for anyone browsing it. So their owners are listed in
// DEST/.ferry-state/symlink-owners, rewritten by every finished run that writes into DEST (it
// sees every symlink in the listing), and read by the agent when it sends DEST back.
//
// Format: records "<uid> <gid> <path>\0", path relative to DEST, in listing order.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

namespace ferry {

inline constexpr const char* kSymlinkOwnersName = "symlink-owners";
// Larger is not read (a message says so): about two million links.
inline constexpr uint64_t kMaxSymlinkOwnersBytes = 128ull << 20;

using SymlinkOwners = std::unordered_map<std::string, std::pair<uint32_t, uint32_t>>;

void append_symlink_owner(std::string* records, const std::string& path, uint32_t uid, uint32_t gid);

// Replaces the file in `state_dir` with `records` (removes it when empty), through a temporary
// name and a rename, and only when it differs. Returns "" or what failed.
std::string write_symlink_owners(int state_dir, const std::string& records);

// The records under `root_fd`'s .ferry-state, or none. A malformed record ends the reading;
// `problem` then says why (and what was read is kept).
SymlinkOwners read_symlink_owners(int root_fd, std::string* problem);

}  // namespace ferry
