// File flags through the Linux calls (linux and posix backends on a Linux host; POSIX names no
// flags). statx reports immutable, append-only and nodump without opening the file, so the
// walk costs nothing more than the fstatat it replaces; FS_IOC_GETFLAGS/SETFLAGS need an open
// file. noatime is not carried: statx does not show it, and opening every file to ask would
// cost more than the flag is worth.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>

#include "platform/platform.h"

namespace ferry::platform {
namespace {

struct Mapping {
  uint32_t ferry;
  unsigned statx_attribute;
  int inode_flag;
};
constexpr Mapping kMappings[] = {
    {file_flags::kImmutable, STATX_ATTR_IMMUTABLE, FS_IMMUTABLE_FL},
    {file_flags::kAppendOnly, STATX_ATTR_APPEND, FS_APPEND_FL},
    {file_flags::kNoDump, STATX_ATTR_NODUMP, FS_NODUMP_FL},
};
constexpr uint32_t kCarriedHere = file_flags::kImmutable | file_flags::kAppendOnly | file_flags::kNoDump;

timespec timespec_of(const struct statx_timestamp& t) {
  return {static_cast<time_t>(t.tv_sec), static_cast<long>(t.tv_nsec)};
}

}  // namespace

int stat_at(int dir_fd, const char* name, struct stat* st, uint32_t* flags) {
  struct statx sx {};
  if (::statx(dir_fd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &sx) != 0) return -1;
  *st = {};
  st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  st->st_ino = sx.stx_ino;
  st->st_mode = sx.stx_mode;
  st->st_nlink = sx.stx_nlink;
  st->st_uid = sx.stx_uid;
  st->st_gid = sx.stx_gid;
  st->st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
  st->st_size = static_cast<off_t>(sx.stx_size);
  st->st_blksize = static_cast<blksize_t>(sx.stx_blksize);
  st->st_blocks = static_cast<blkcnt_t>(sx.stx_blocks);
  st->st_atim = timespec_of(sx.stx_atime);
  st->st_mtim = timespec_of(sx.stx_mtime);
  st->st_ctim = timespec_of(sx.stx_ctime);
  *flags = 0;
  if (S_ISREG(sx.stx_mode) || S_ISDIR(sx.stx_mode)) {
    for (const Mapping& m : kMappings) {
      if (sx.stx_attributes_mask & sx.stx_attributes & m.statx_attribute) *flags |= m.ferry;
    }
  }
  return 0;
}

uint32_t file_flags_fd(int fd) {
  int inode_flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &inode_flags) != 0) return 0;
  uint32_t flags = 0;
  for (const Mapping& m : kMappings) {
    if (inode_flags & m.inode_flag) flags |= m.ferry;
  }
  return flags;
}

int set_file_flags_fd(int fd, uint32_t flags) {
  int inode_flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &inode_flags) != 0) {
    // A file system without flags (ENOTTY) has none to clear.
    return flags == 0 ? 0 : (errno == ENOTTY ? ENOTSUP : errno);
  }
  int wanted = inode_flags;
  for (const Mapping& m : kMappings) {
    wanted = (flags & m.ferry) ? (wanted | m.inode_flag) : (wanted & ~m.inode_flag);
  }
  if (wanted != inode_flags && ::ioctl(fd, FS_IOC_SETFLAGS, &wanted) != 0) return errno == ENOTTY ? ENOTSUP : errno;
  return (flags & ~kCarriedHere) != 0 ? ENOTSUP : 0;  // macOS-only flags have no counterpart here
}

}  // namespace ferry::platform
