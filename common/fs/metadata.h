// Applying a FileEntry's metadata to what the receiver created, always through an fd or an
// *at() call on a single name (never a path the kernel would resolve through symlinks).
//
// Order (as restic does it): owner first (chown clears setuid/setgid), then xattrs, then mode,
// then mtime last so nothing after it disturbs it. The first error is kept; the rest still run.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <string>

#include "protocol/file_entry.h"

namespace ferry {

// The modification times a file system can store. Outside its range a time is clamped
// silently (ext4 with small inodes and XFS without bigtime keep 1901-12-13..2038-01-19), and
// below its granularity truncated; comparing with the time as it would be stored keeps such a
// file from looking changed, and so from being sent again, on every run.
struct TimeRange {
  int64_t earliest_sec = INT64_MIN;
  int64_t latest_sec = INT64_MAX;
  uint32_t granularity_ns = 1;  // 1: nanoseconds kept; 1'000'000'000: whole seconds
};

// Finds the range by setting extreme times on a scratch file it creates (and removes) as
// `scratch` in dir_fd. A probe that fails leaves the full range.
TimeRange probe_time_range(int dir_fd, const char* scratch);

struct ApplyOptions {
  bool keep_owner = false;  // chown to the entry's uid/gid (needs root)
  TimeRange times;          // what the destination can store
};

// The entry's mtime as the destination will store it (clamped and truncated to options.times).
timespec storable_mtime(const FileEntry& entry, const ApplyOptions& options);

// The permission bits the receiver gives the entry: all of them when it keeps owners (runs as
// root); otherwise without setuid and setgid on anything but a directory.
uint32_t mode_to_apply(const FileEntry& entry, const ApplyOptions& options);

// For regular files and directories, open as fd. Returns "" or "what failed: why".
std::string apply_metadata_fd(int fd, const FileEntry& entry, const ApplyOptions& options);

// For symlinks, fifos and devices, named by `name` in dir_fd; never follows a symlink.
std::string apply_metadata_at(int dir_fd, const std::string& name, const FileEntry& entry,
                              const ApplyOptions& options);

// Whether an existing object already has the entry's owner (if kept), mode and mtime.
bool stat_matches(const struct stat& st, const FileEntry& entry, const ApplyOptions& options);

}  // namespace ferry
