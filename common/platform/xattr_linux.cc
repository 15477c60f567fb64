// Extended attributes through the Linux calls (linux and posix backends on a Linux host; POSIX
// names no such calls), and the listing that finds the ACLs (acl_linux.cc). Ferry carries the user namespace only: security.* and trusted.* mean
// different things on different machines (SELinux labels, capabilities), and system.* holds
// ACLs. Ferry's own attribute (stored metadata) is never carried as a user's.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "fs/unique_fd.h"
#include "platform/platform.h"
#include "platform/portable.h"

namespace ferry::platform {
namespace {

constexpr const char* kMetadataXattr = "user.ferry.meta";

}  // namespace

bool carries_xattr(std::string_view name) { return name.starts_with("user.") && name != kMetadataXattr; }

namespace {

// Linux 6.13 reads attributes of a name in a directory fd (listxattrat, getxattrat), which
// saves resolving a /proc/self/fd path for every file the receiver checks: an unchanged file
// costs a storing agent a listing and a read of its attribute. glibc 2.36 has no wrappers; the
// numbers are the same on every architecture (the unified table). Older kernels say ENOSYS.
#ifndef SYS_listxattrat
#define SYS_getxattrat 464
#define SYS_listxattrat 465
#endif
struct XattrArgs {  // struct xattr_args
  uint64_t value;
  uint32_t size;
  uint32_t flags;
};
std::atomic<bool> g_no_xattrat{false};

// What read_xattrs reads: a file by its fd, or a name in a directory (never following it).
struct Target {
  int fd = -1;
  int dir_fd = -1;
  const std::string* name = nullptr;
  std::string proc_path;  // /proc/self/fd/<dir_fd>/<name>, for the calls that have no *at form

  ssize_t list(char* buf, size_t size) const {
    if (fd >= 0) return ::flistxattr(fd, buf, size);
    if (!g_no_xattrat.load(std::memory_order_relaxed)) {
      long n = ::syscall(SYS_listxattrat, dir_fd, name->c_str(), AT_SYMLINK_NOFOLLOW, buf, size);
      if (n >= 0 || errno != ENOSYS) return n;
      g_no_xattrat.store(true, std::memory_order_relaxed);
    }
    return ::llistxattr(proc_path.c_str(), buf, size);
  }
  ssize_t get(const std::string& attr, char* buf, size_t size) const {
    if (fd >= 0) return ::fgetxattr(fd, attr.c_str(), buf, size);
    if (!g_no_xattrat.load(std::memory_order_relaxed)) {
      XattrArgs args{reinterpret_cast<uintptr_t>(buf), static_cast<uint32_t>(size), 0};
      long n = ::syscall(SYS_getxattrat, dir_fd, name->c_str(), AT_SYMLINK_NOFOLLOW, attr.c_str(), &args,
                         sizeof args);
      if (n >= 0 || errno != ENOSYS) return n;
      g_no_xattrat.store(true, std::memory_order_relaxed);
    }
    return ::lgetxattr(proc_path.c_str(), attr.c_str(), buf, size);
  }
};

void clear(FileEntry* entry, std::string* stored) {
  entry->xattrs.clear();
  entry->acl.clear();
  entry->default_acl.clear();
  if (stored != nullptr) stored->clear();
}

// Of `fd`, or of `path` (never following its last component) when fd is -1. One listing of
// names serves both: the ACLs live in system.posix_acl_*, so a file without them costs no
// call of its own.
bool read_xattrs(const Target& target, FileEntry* entry, std::string* stored) {
  clear(entry, stored);
  std::string names;
  if (!read_sized([&](char* buf, size_t size) { return target.list(buf, size); }, &names)) {
    return errno == ENOTSUP || errno == ENOSYS ? (errno = 0, true) : false;
  }
  auto get = [&](const std::string& name, std::string* value) {
    return read_sized([&](char* buf, size_t size) { return target.get(name, buf, size); }, value);
  };
  if (!collect_xattrs(names, get, &entry->xattrs, stored)) return false;
  bool has_access = lists_posix_acl(names, false);
  bool has_default = lists_posix_acl(names, true);
  return !(has_access || has_default) ||
         read_posix_acls(target.proc_path, target.fd, has_access, has_default, entry);
}

}  // namespace

const char* metadata_xattr_name() { return kMetadataXattr; }

bool read_attributes_at(int dir_fd, const std::string& name, FileEntry* entry, std::string* stored) {
  // The /proc magic link pins the directory by fd; the last component is never followed.
  Target target{.dir_fd = dir_fd, .name = &name, .proc_path = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name};
  if (read_xattrs(target, entry, stored)) return true;
  if (errno != ENOENT || ::faccessat(dir_fd, name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) != 0) return false;
  // The object exists but its /proc path does not: /proc is not mounted (a container, a
  // chroot). Linux allows user.* attributes only on files and directories, so those are read
  // through an fd of their own; anything else has none. O_NONBLOCK and the type check after
  // the open keep a name swapped for a fifo or a device from blocking or acting.
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid()) {
    bool not_a_file = errno == ELOOP || errno == ENXIO || errno == ENODEV;
    clear(entry, stored);
    return not_a_file;
  }
  if (::fstat(fd.get(), &st) != 0) return false;
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    clear(entry, stored);
    return true;
  }
  return read_attributes_fd(fd.get(), entry, stored);
}

bool read_attributes_fd(int fd, FileEntry* entry, std::string* stored) {
  Target target;
  target.fd = fd;
  return read_xattrs(target, entry, stored);
}

bool get_xattr_fd(int fd, const char* name, std::string* value) {
  if (read_sized([&](char* buf, size_t size) { return ::fgetxattr(fd, name, buf, size); }, value)) return true;
  if (errno == ENODATA) errno = ENOENT;
  return false;
}

int set_xattr_fd(int fd, const char* name, const std::string& value) {
  return ::fsetxattr(fd, name, value.data(), value.size(), 0) == 0 ? 0 : errno;
}

int remove_xattr_fd(int fd, const char* name) {
  if (::fremovexattr(fd, name) == 0 || errno == ENODATA) return 0;
  return errno;
}

}  // namespace ferry::platform
