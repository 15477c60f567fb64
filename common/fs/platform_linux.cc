#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>
#include <vector>

#include "fs/platform.h"
#include "fs/unique_fd.h"

namespace ferry::platform {
namespace {

// Only the user namespace: security.* and trusted.* mean different things on different
// machines (SELinux labels, capabilities), and system.* holds ACLs handled separately.
bool carried(std::string_view name) { return name.starts_with("user."); }

}  // namespace

int open_beneath_by_walk(int dir_fd, const std::string& rel, int flags, unsigned mode) {
  UniqueFd current;
  int at = dir_fd;
  size_t start = 0;
  while (true) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) break;
    std::string name = rel.substr(start, slash - start);
    if (name.empty() || name == "." || name == "..") {
      errno = EXDEV;
      return -1;
    }
    int fd = ::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    current.reset(fd);
    at = fd;
    start = slash + 1;
  }
  std::string last = rel.substr(start);
  if (last == "." || last == "..") {
    errno = EXDEV;
    return -1;
  }
  return ::openat(at, last.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

namespace {

bool read_xattrs(ssize_t (*list)(const char*, char*, size_t),
                 ssize_t (*get)(const char*, const char*, void*, size_t), const std::string& path,
                 int fd, std::vector<Xattr>* out) {
  out->clear();
  std::string names;
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t n = fd >= 0 ? ::flistxattr(fd, nullptr, 0) : list(path.c_str(), nullptr, 0);
    if (n < 0) return errno == ENOTSUP || errno == ENOSYS ? (errno = 0, true) : false;
    if (n == 0) return true;
    names.resize(static_cast<size_t>(n));
    n = fd >= 0 ? ::flistxattr(fd, names.data(), names.size())
                : list(path.c_str(), names.data(), names.size());
    if (n >= 0) {
      names.resize(static_cast<size_t>(n));
      break;
    }
    if (errno != ERANGE) return false;  // ERANGE: the list grew between the two calls
  }
  for (size_t start = 0; start < names.size();) {
    size_t end = names.find('\0', start);
    if (end == std::string::npos) end = names.size();
    std::string name = names.substr(start, end - start);
    start = end + 1;
    if (!carried(name)) continue;
    std::string value;
    ssize_t n = fd >= 0 ? ::fgetxattr(fd, name.c_str(), nullptr, 0)
                        : get(path.c_str(), name.c_str(), nullptr, 0);
    if (n < 0) {
      if (errno == ENODATA) continue;  // removed meanwhile
      return false;
    }
    value.resize(static_cast<size_t>(n));
    n = fd >= 0 ? ::fgetxattr(fd, name.c_str(), value.data(), value.size())
                : get(path.c_str(), name.c_str(), value.data(), value.size());
    if (n < 0) return false;
    value.resize(static_cast<size_t>(n));
    out->push_back({std::move(name), std::move(value)});
  }
  std::sort(out->begin(), out->end(),
            [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
  return true;
}

}  // namespace

int open_beneath(int dir_fd, const std::string& rel, int flags, unsigned mode) {
  // Written by whichever thread first meets an old kernel, read by all.
  static std::atomic<bool> have_openat2{true};
  if (have_openat2.load(std::memory_order_relaxed)) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, dir_fd, rel.c_str(), &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
    have_openat2.store(false, std::memory_order_relaxed);  // kernel older than 5.6
  }
  return open_beneath_by_walk(dir_fd, rel, flags, mode);
}

namespace {

// statfs f_type of FUSE file systems (linux/magic.h); virtiofs reports it too.
constexpr unsigned long kFuseMagic = 0x65735546;

}  // namespace

bool syncfs_reaches_disk(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return true;
  // virtiofs forwards syncfs, but cannot be told apart from other FUSE file systems by f_type:
  // an fsync per file is correct on both, only slower on virtiofs.
  return static_cast<unsigned long>(fs.f_type) != kFuseMagic;
}

std::string file_system_kind(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return "unknown";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x6969: return "nfs";
    case 0xFF534D42: return "cifs";
    case 0x2FC12FC1: return "zfs";
    case kFuseMagic: return "fuse";
    default: return "other";
  }
}

bool list_xattrs_at(int dir_fd, const std::string& name, std::vector<Xattr>* out) {
  // The /proc magic link pins the directory by fd; the last component is never followed.
  std::string path = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
  if (read_xattrs(::llistxattr, ::lgetxattr, path, -1, out)) return true;
  if (errno != ENOENT || ::faccessat(dir_fd, name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) != 0) return false;
  // The object exists but its /proc path does not: /proc is not mounted (a container, a
  // chroot). Linux allows user.* attributes only on files and directories, so those are read
  // through an fd of their own; anything else has none. O_NONBLOCK and the type check after
  // the open keep a name swapped for a fifo or a device from blocking or acting.
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid()) {
    bool not_a_file = errno == ELOOP || errno == ENXIO || errno == ENODEV;
    out->clear();
    return not_a_file;
  }
  if (::fstat(fd.get(), &st) != 0) return false;
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    out->clear();
    return true;
  }
  return list_xattrs_fd(fd.get(), out);
}

bool list_xattrs_fd(int fd, std::vector<Xattr>* out) {
  return read_xattrs(::llistxattr, ::lgetxattr, {}, fd, out);
}

int replace_xattrs_fd(int fd, const std::vector<Xattr>& wanted) {
  std::vector<Xattr> present;
  if (!list_xattrs_fd(fd, &present)) return errno;
  int first_error = 0;
  for (const Xattr& have : present) {
    bool keep = std::any_of(wanted.begin(), wanted.end(),
                            [&](const Xattr& w) { return w.name == have.name; });
    if (!keep && ::fremovexattr(fd, have.name.c_str()) != 0 && first_error == 0) first_error = errno;
  }
  for (const Xattr& want : wanted) {
    auto same = std::find(present.begin(), present.end(), want);
    if (same != present.end()) continue;
    if (::fsetxattr(fd, want.name.c_str(), want.value.data(), want.value.size(), 0) != 0 &&
        first_error == 0) {
      first_error = errno;
    }
  }
  return first_error;
}

}  // namespace ferry::platform
