#include "fs/metadata.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fs/stored_metadata.h"
#include "platform/platform.h"

namespace ferry {
namespace {

timespec mtime_of(const FileEntry& e) {
  return timespec{static_cast<time_t>(e.mtime_sec), static_cast<long>(e.mtime_nsec)};
}

void keep_first(std::string* first, const char* what, int err) {
  if (first->empty()) *first = std::string(what) + ": " + std::strerror(err);
}

}  // namespace

TimeRange probe_time_range(int dir_fd, const char* scratch) {
  TimeRange range;
  int fd = ::openat(dir_fd, scratch, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return range;
  // Far enough out that every file system clamps; not so far that the kernel's own
  // conversions overflow (it refuses tv_sec beyond about 2^62 ns).
  constexpr int64_t kFar = int64_t{1} << 40;  // about 35,000 years
  auto stored = [&](int64_t sec, long nsec, timespec* out) {
    timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(sec), nsec}};
    struct stat st {};
    if (::futimens(fd, times) != 0 || ::fstat(fd, &st) != 0) return false;
    *out = platform::modified_time(st);
    return true;
  };
  timespec low {}, high {}, fine {};
  if (stored(-kFar, 0, &low) && stored(kFar, 0, &high) && stored(1'000'000'000, 999'999'999, &fine)) {
    if (low.tv_sec > -kFar) range.earliest_sec = low.tv_sec;
    if (high.tv_sec < kFar) range.latest_sec = high.tv_sec;
    range.granularity_ns = static_cast<uint32_t>(1'000'000'000 - fine.tv_nsec);
    if (range.granularity_ns == 0) range.granularity_ns = 1;
  }
  ::close(fd);
  ::unlinkat(dir_fd, scratch, 0);
  return range;
}

bool probe_stored_metadata(int dir_fd, const char* scratch) {
  int fd = ::openat(dir_fd, scratch, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  FileEntry probe;
  probe.mode = 04755;
  bool kept = platform::set_xattr_fd(fd, platform::metadata_xattr_name(), encode_stored_metadata(stored_metadata_of(probe))) == 0;
  ::close(fd);
  ::unlinkat(dir_fd, scratch, 0);
  return kept;
}

bool probe_acls(int dir_fd, const char* scratch) {
  int fd = ::openat(dir_fd, scratch, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  FileEntry probe;
  probe.acl = "u:0:r--,g::---";
  bool kept = platform::replace_attributes_fd(fd, probe, 0600, true).acls == 0;
  ::close(fd);
  ::unlinkat(dir_fd, scratch, 0);
  return kept;
}

NewFileTraits probe_new_files(int dir_fd, const char* scratch) {
  NewFileTraits traits;
  ::unlinkat(dir_fd, scratch, 0);
  int fd = ::openat(dir_fd, scratch, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0777);
  if (fd < 0) return traits;
  struct stat st {};
  FileEntry present;
  if (::fstat(fd, &st) == 0 && platform::read_attributes_fd(fd, &present) && present.xattrs.empty() &&
      present.acl.empty() && present.default_acl.empty()) {
    traits.known = true;
    traits.uid = st.st_uid;
    traits.gid = st.st_gid;
    traits.lost_mode_bits = 0777 & ~(st.st_mode & 0777);
    traits.flags = platform::file_flags_fd(fd);
  }
  ::close(fd);
  ::unlinkat(dir_fd, scratch, 0);
  return traits;
}

bool applies_acls(const ApplyOptions& options) { return options.keeps_acls; }

uint32_t flags_to_apply(const FileEntry& entry, const ApplyOptions& options) {
  bool can_have = entry.type == FileType::kRegular || entry.type == FileType::kDirectory;
  if (options.store_metadata || !can_have) return 0;
  // The system's immutable and append-only flags need root (CAP_LINUX_IMMUTABLE; macOS schg).
  constexpr uint32_t kRootOnly = file_flags::kImmutable | file_flags::kAppendOnly;
  return options.keep_owner ? entry.flags : entry.flags & ~kRootOnly;
}

bool attributes_match(const FileEntry& on_disk, const FileEntry& entry, const ApplyOptions& options) {
  if (on_disk.xattrs != entry.xattrs || on_disk.flags != flags_to_apply(entry, options)) return false;
  return !applies_acls(options) || (on_disk.acl == entry.acl && on_disk.default_acl == entry.default_acl);
}

timespec storable_mtime(const FileEntry& entry, const ApplyOptions& options) {
  const TimeRange& r = options.times;
  if (entry.mtime_sec < r.earliest_sec) return {static_cast<time_t>(r.earliest_sec), 0};
  if (entry.mtime_sec > r.latest_sec) return {static_cast<time_t>(r.latest_sec), 0};
  return {static_cast<time_t>(entry.mtime_sec), static_cast<long>(entry.mtime_nsec - entry.mtime_nsec % r.granularity_ns)};
}

uint32_t mode_to_apply(const FileEntry& entry, const ApplyOptions& options) {
  // A receiver that cannot give a file its owner must not make it run as someone: a setuid
  // file would run as the agent's user, a setgid one as its group, whoever sent it.
  if (options.keep_owner || entry.type == FileType::kDirectory) return entry.mode;
  uint32_t mode = entry.mode & ~uint32_t{S_ISUID | S_ISGID};
  if (options.store_metadata && entry.type != FileType::kSymlink) mode |= S_IRUSR | S_IWUSR;
  return mode;
}

std::string stored_value_for(const FileEntry& entry, const ApplyOptions& options) {
  if (!options.store_metadata || entry.type == FileType::kSymlink) return "";
  StoredMetadata stored = stored_metadata_of(entry);
  if (entry.type != FileType::kRegular && entry.type != FileType::kDirectory) stored.flags = 0;
  if (applies_acls(options)) {
    stored.acl.clear();
    stored.default_acl.clear();
  }
  bool as_is = entry.uid == options.own_uid && entry.gid == options.own_gid &&
               mode_to_apply(entry, options) == entry.mode && !stored_as_regular_file(entry.type) &&
               stored.acl.empty() && stored.default_acl.empty() && stored.flags == 0;
  return as_is ? "" : encode_stored_metadata(stored);
}

namespace {

// What apply_metadata_fd knows of the file before it starts: nothing (it asks), or, for a file
// just created, what options.new_in_tmp says.
struct KnownState {
  bool is_new = false;
  uint32_t uid = 0, gid = 0, mode = 0, flags = 0;
};

std::string apply_metadata(int fd, const FileEntry& entry, const ApplyOptions& options, const KnownState& known) {
  std::string first;
  uint32_t had_flags = known.is_new ? known.flags : platform::file_flags_fd(fd);
  uint32_t flags = flags_to_apply(entry, options) & ~file_flags::kProtecting;
  if ((had_flags & file_flags::kProtecting) != 0) {
    if (int err = platform::set_file_flags_fd(fd, had_flags & ~file_flags::kProtecting); err != 0) {
      keep_first(&first, "clear file flags", err);
    }
  }
  bool owned = known.is_new && known.uid == entry.uid && known.gid == entry.gid;
  if (options.keep_owner && !owned && ::fchown(fd, entry.uid, entry.gid) != 0) keep_first(&first, "chown", errno);
  // ACLs before the mode: chmod then sets the owner, mask and other entries from the mode.
  uint32_t mode = mode_to_apply(entry, options);
  // A new file has no extended attributes or ACLs (probe_new_files): nothing to replace.
  bool bare = entry.xattrs.empty() && entry.acl.empty() && entry.default_acl.empty();
  if (!known.is_new || !bare) {
    platform::AttributeErrors errors = platform::replace_attributes_fd(fd, entry, mode, applies_acls(options));
    if (errors.xattrs != 0) keep_first(&first, "set extended attributes", errors.xattrs);
    if (errors.acls != 0) keep_first(&first, "set ACL", errors.acls);
  }
  if (options.store_metadata) {
    std::string value = stored_value_for(entry, options);
    int err = !value.empty() ? platform::set_xattr_fd(fd, platform::metadata_xattr_name(), value)
              : known.is_new ? 0
                             : platform::remove_xattr_fd(fd, platform::metadata_xattr_name());
    if (err != 0) keep_first(&first, "store owner and mode in an extended attribute", err);
  }
  // An ACL sets the mode's bits: chmod comes after it. (A mode equal to the one created with has
  // no setuid or setgid bit for chown to clear.)
  bool has_mode = known.is_new && known.mode == mode && bare;
  if (!has_mode && ::fchmod(fd, mode) != 0) keep_first(&first, "chmod", errno);
  timespec times[2] = {{0, UTIME_OMIT}, mtime_of(entry)};
  if (::futimens(fd, times) != 0) keep_first(&first, "set mtime", errno);
  if ((had_flags & ~file_flags::kProtecting) != flags) {
    if (int err = platform::set_file_flags_fd(fd, flags); err != 0) keep_first(&first, "set file flags", err);
  }
  return first;
}

}  // namespace

std::string apply_metadata_fd(int fd, const FileEntry& entry, const ApplyOptions& options) {
  return apply_metadata(fd, entry, options, KnownState{});
}

std::string apply_metadata_new_fd(int fd, const FileEntry& entry, const ApplyOptions& options, uint32_t created_mode) {
  const NewFileTraits& traits = options.new_in_tmp;
  if (!traits.known) return apply_metadata_fd(fd, entry, options);
  return apply_metadata(fd, entry, options,
                        KnownState{true, traits.uid, traits.gid, created_mode & ~traits.lost_mode_bits, traits.flags});
}

uint32_t file_mode_to_create(const FileEntry& entry, const ApplyOptions& options) {
  return mode_to_apply(entry, options) & 0777;
}

std::string protect_fd(int fd, const FileEntry& entry, const ApplyOptions& options) {
  std::string first;
  if (int err = platform::set_file_flags_fd(fd, flags_to_apply(entry, options)); err != 0) {
    keep_first(&first, "set file flags", err);
  }
  return first;
}

bool unprotect_at(int dir_fd, const std::string& name) {
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  uint32_t had = ::fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) ? platform::file_flags_fd(fd) : 0;
  bool cleared = (had & file_flags::kProtecting) != 0 &&
                 platform::set_file_flags_fd(fd, had & ~file_flags::kProtecting) == 0;
  ::close(fd);
  return cleared;
}

std::string apply_metadata_at(int dir_fd, const std::string& name, const FileEntry& entry,
                              const ApplyOptions& options) {
  std::string first;
  const char* n = name.c_str();
  if (options.keep_owner && ::fchownat(dir_fd, n, entry.uid, entry.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    keep_first(&first, "chown", errno);
  }
  // Symlinks have no mode of their own on Linux; fchmodat would follow them.
  if (entry.type != FileType::kSymlink && ::fchmodat(dir_fd, n, mode_to_apply(entry, options), 0) != 0) {
    keep_first(&first, "chmod", errno);
  }
  timespec times[2] = {{0, UTIME_OMIT}, mtime_of(entry)};
  if (::utimensat(dir_fd, n, times, AT_SYMLINK_NOFOLLOW) != 0) keep_first(&first, "set mtime", errno);
  return first;
}

bool stat_matches(const struct stat& st, const std::string& stored, const FileEntry& entry,
                  const ApplyOptions& options) {
  if (options.keep_owner && (st.st_uid != entry.uid || st.st_gid != entry.gid)) return false;
  if (options.store_metadata && stored != stored_value_for(entry, options)) return false;
  if (entry.type != FileType::kSymlink && (st.st_mode & 07777) != mode_to_apply(entry, options)) return false;
  return platform::same_time(platform::modified_time(st), storable_mtime(entry, options));
}

}  // namespace ferry
