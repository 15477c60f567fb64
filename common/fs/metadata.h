// Applying a FileEntry's metadata to what the receiver created, always through an fd or an
// *at() call on a single name (never a path the kernel would resolve through symlinks).
//
// Order (as restic does it): owner first (chown clears setuid/setgid), then xattrs, then mode,
// then mtime last so nothing after it disturbs it. The first error is kept; the rest still run.
#pragma once

#include <sys/stat.h>

#include <string>

#include "protocol/file_entry.h"

namespace ferry {

struct ApplyOptions {
  bool keep_owner = false;  // chown to the entry's uid/gid (needs root)
};

// For regular files and directories, open as fd. Returns "" or "what failed: why".
std::string apply_metadata_fd(int fd, const FileEntry& entry, const ApplyOptions& options);

// For symlinks, fifos and devices, named by `name` in dir_fd; never follows a symlink.
std::string apply_metadata_at(int dir_fd, const std::string& name, const FileEntry& entry,
                              const ApplyOptions& options);

// Whether an existing object already has the entry's owner (if kept), mode and mtime.
bool stat_matches(const struct stat& st, const FileEntry& entry, const ApplyOptions& options);

}  // namespace ferry
