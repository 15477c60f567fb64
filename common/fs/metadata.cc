#include "fs/metadata.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fs/platform.h"

namespace ferry {
namespace {

timespec mtime_of(const FileEntry& e) {
  return timespec{static_cast<time_t>(e.mtime_sec), static_cast<long>(e.mtime_nsec)};
}

void keep_first(std::string* first, const char* what, int err) {
  if (first->empty()) *first = std::string(what) + ": " + std::strerror(err);
}

}  // namespace

uint32_t mode_to_apply(const FileEntry& entry, const ApplyOptions& options) {
  // A receiver that cannot give a file its owner must not make it run as someone: a setuid
  // file would run as the agent's user, a setgid one as its group, whoever sent it.
  if (options.keep_owner || entry.type == FileType::kDirectory) return entry.mode;
  return entry.mode & ~uint32_t{S_ISUID | S_ISGID};
}

std::string apply_metadata_fd(int fd, const FileEntry& entry, const ApplyOptions& options) {
  std::string first;
  if (options.keep_owner && ::fchown(fd, entry.uid, entry.gid) != 0) keep_first(&first, "chown", errno);
  if (int err = platform::replace_xattrs_fd(fd, entry.xattrs); err != 0) {
    keep_first(&first, "set extended attributes", err);
  }
  if (::fchmod(fd, mode_to_apply(entry, options)) != 0) keep_first(&first, "chmod", errno);
  timespec times[2] = {{0, UTIME_OMIT}, mtime_of(entry)};
  if (::futimens(fd, times) != 0) keep_first(&first, "set mtime", errno);
  return first;
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

bool stat_matches(const struct stat& st, const FileEntry& entry, const ApplyOptions& options) {
  if (options.keep_owner && (st.st_uid != entry.uid || st.st_gid != entry.gid)) return false;
  if (entry.type != FileType::kSymlink && (st.st_mode & 07777) != mode_to_apply(entry, options)) return false;
  return st.st_mtim.tv_sec == entry.mtime_sec && st.st_mtim.tv_nsec == entry.mtime_nsec;
}

}  // namespace ferry
