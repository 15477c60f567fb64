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

// Whether the destination keeps Ferry's metadata attribute: sets it on a scratch file it
// creates (and removes) as `scratch` in dir_fd.
bool probe_stored_metadata(int dir_fd, const char* scratch);

// Whether the destination keeps POSIX ACLs: sets one on a scratch file it creates (and
// removes) as `scratch` in dir_fd.
bool probe_acls(int dir_fd, const char* scratch);

// What a file the receiver has just created in a folder starts with, found once per run on a
// scratch file (probe_new_files), so that apply_metadata_fd can leave out the calls that would
// change nothing: on a first copy of many small files they were half of the receiving thread's
// system calls. `known` is false where new files carry something of their own (a default ACL, a
// security label) or the probe failed: every call is then made.
struct NewFileTraits {
  bool known = false;
  uint32_t uid = 0;             // the owner a new file gets (the receiver's)
  uint32_t gid = 0;             // its group (the receiver's, or the folder's when setgid)
  uint32_t lost_mode_bits = 0;  // permission bits the umask takes from the mode it is created with
  uint32_t flags = 0;           // file flags it inherits from the folder
};
NewFileTraits probe_new_files(int dir_fd, const char* scratch);

struct ApplyOptions {
  bool keep_owner = false;  // chown to the entry's uid/gid (needs root)
  TimeRange times;          // what the destination can store
  // Keep what cannot be applied (owner, setuid/setgid, the type and numbers of fifos and
  // devices) in Ferry's metadata attribute (fs/stored_metadata.h): a non-root agent.
  bool store_metadata = false;
  uint32_t own_uid = 0;  // the receiver's euid and egid: what a file it makes is owned by
  uint32_t own_gid = 0;
  // The destination keeps ACLs (probe_acls). When it does not, an entry's ACLs go in the
  // stored attribute if metadata is stored, and are lost (said once) if not.
  bool keeps_acls = true;
  NewFileTraits new_in_tmp;  // files the receiver creates in .ferry-state/tmp
};

// Whether ACLs are set on the files themselves (else stored, or not kept at all).
bool applies_acls(const ApplyOptions& options);

// The file flags the receiver gives the entry's file: all of them as root; without the
// system's immutable and append-only flags otherwise (they need root); none when it stores
// metadata (they are in the attribute).
uint32_t flags_to_apply(const FileEntry& entry, const ApplyOptions& options);

// The entry's mtime as the destination will store it (clamped and truncated to options.times).
timespec storable_mtime(const FileEntry& entry, const ApplyOptions& options);

// The permission bits the receiver gives the entry: all of them when it keeps owners (runs as
// root); otherwise without setuid and setgid on anything but a directory; when storing
// metadata, also readable and writable by the owner, so the agent can read it back and replace it.
uint32_t mode_to_apply(const FileEntry& entry, const ApplyOptions& options);

// With options.store_metadata: the value Ferry's attribute must hold for the entry, or "" when
// the file itself says everything (owner, mode and type as applied).
std::string stored_value_for(const FileEntry& entry, const ApplyOptions& options);

// Whether what `on_disk` holds beside its stat (read_attributes_*: xattrs, and ACLs where they
// are applied; its flags, which the caller fills in) is what the entry asks for.
bool attributes_match(const FileEntry& on_disk, const FileEntry& entry, const ApplyOptions& options);

// For regular files and directories, open as fd. Returns "" or "what failed: why".
// Protecting flags (immutable, append-only) the fd has are cleared first, so the rest can be
// set; those the entry asks for are not set here but by protect_fd, once the file is in place
// (an immutable file cannot be renamed, nor linked to).
std::string apply_metadata_fd(int fd, const FileEntry& entry, const ApplyOptions& options);
// The same for a file just created in .ferry-state/tmp with `created_mode` (file_mode_to_create),
// whose state options.new_in_tmp says without asking.
std::string apply_metadata_new_fd(int fd, const FileEntry& entry, const ApplyOptions& options, uint32_t created_mode);
// The permission bits to create a new file with in .ferry-state/tmp (a folder only the receiver
// can enter), so that it needs no chmod when the umask allows: the entry's own, without
// setuid, setgid or sticky (given, if at all, once its data is verified). The receiver can write
// a new file whatever its mode: open() checks the mode only of a file that exists.
uint32_t file_mode_to_create(const FileEntry& entry, const ApplyOptions& options);
// Sets all of flags_to_apply(entry), protecting ones included: the last call on a file.
std::string protect_fd(int fd, const FileEntry& entry, const ApplyOptions& options);
// Clears the protecting flags of `name` in dir_fd (a regular file or directory, never
// followed), so it can be replaced, renamed or removed. Whether it had any.
bool unprotect_at(int dir_fd, const std::string& name);

// For symlinks, fifos and devices, named by `name` in dir_fd; never follows a symlink.
std::string apply_metadata_at(int dir_fd, const std::string& name, const FileEntry& entry,
                              const ApplyOptions& options);

// Whether an existing object already has the entry's owner (if kept), mode and mtime; when
// storing metadata, `stored` is the object's attribute value ("" if none) and must be the one
// stored_value_for gives.
bool stat_matches(const struct stat& st, const std::string& stored, const FileEntry& entry,
                  const ApplyOptions& options);

}  // namespace ferry
