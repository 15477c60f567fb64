// The one seam between Ferry and the operating system's non-POSIX calls: confined path
// resolution, extended attributes. A macOS port replaces platform_linux.cc and nothing else.
#pragma once

#include <string>
#include <vector>

#include "protocol/file_entry.h"

namespace ferry::platform {

// openat() of `rel` beneath `dir_fd` that never leaves dir_fd and never follows a symlink in
// any component (the last one included). Linux: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
// elsewhere a component walk with O_NOFOLLOW. Returns the fd, or -1 with errno set
// (ELOOP or ENOTDIR when a symlink or non-directory is in the way, EXDEV on an escape).
int open_beneath(int dir_fd, const std::string& rel, int flags, unsigned mode = 0);
// The portable fallback open_beneath uses where openat2 is missing; public so tests reach it.
int open_beneath_by_walk(int dir_fd, const std::string& rel, int flags, unsigned mode = 0);

// Whether syncfs() on the file system holding `fd` really puts its data on disk. Not on FUSE
// (sshfs, GlusterFS, ceph-fuse, s3fs): Linux passes syncfs to a FUSE server only for virtiofs,
// so it returns success and flushes nothing; there each file needs its own fsync.
bool syncfs_reaches_disk(int fd);
// A short name of the kind of file system holding `fd` ("ext4", "fuse", …), for messages.
std::string file_system_kind(int fd);

// The extended attributes Ferry carries (user namespace), sorted by name.
// Of the object `name` in `dir_fd` without following it if it is a symlink.
// Returns false with errno set on failure; ENOTSUP counts as "none".
bool list_xattrs_at(int dir_fd, const std::string& name, std::vector<Xattr>* out);
// Of an open file or directory.
bool list_xattrs_fd(int fd, std::vector<Xattr>* out);
// Sets `wanted` on fd and removes the carried attributes fd has that `wanted` lacks.
// Returns 0 or the first errno.
int replace_xattrs_fd(int fd, const std::vector<Xattr>& wanted);

}  // namespace ferry::platform
