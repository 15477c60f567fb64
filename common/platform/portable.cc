// The parts of the seam every backend shares: POSIX.1-2008 calls only.
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>

#include "base/positioned_io.h"
#include "fs/unique_fd.h"
#include "platform/platform.h"
#include "platform/portable.h"

namespace ferry::platform {

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

std::string& remembered_program() {
  static std::string path;
  return path;
}

}  // namespace

void remember_program_path(const char* argv0) {
  if (argv0 == nullptr || *argv0 == '\0') return;
  std::string found = argv0;
  if (found.find('/') == std::string::npos) {
    // Started through PATH: the first executable of that name on it, as the shell found it.
    const char* path = ::getenv("PATH");
    found.clear();
    std::string dirs = path ? path : "";
    for (size_t start = 0; start <= dirs.size();) {
      size_t colon = dirs.find(':', start);
      if (colon == std::string::npos) colon = dirs.size();
      std::string dir = dirs.substr(start, colon - start);
      std::string candidate = (dir.empty() ? "." : dir) + "/" + argv0;
      if (::access(candidate.c_str(), X_OK) == 0) {
        found = candidate;
        break;
      }
      start = colon + 1;
    }
    if (found.empty()) return;
  }
  char resolved[PATH_MAX];
  if (::realpath(found.c_str(), resolved) != nullptr) remembered_program() = resolved;
}

std::string remembered_program_path() { return remembered_program(); }

void keep_listed(std::string name, std::string value, bool ours, std::vector<Xattr>* out, std::string* stored) {
  if (ours) {
    *stored = std::move(value);
  } else {
    out->push_back({std::move(name), std::move(value)});
  }
}

void sort_by_name(std::vector<Xattr>* xattrs) {
  std::sort(xattrs->begin(), xattrs->end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
}

AttributeErrors replace_attributes_fd(int fd, const FileEntry& entry, uint32_t mode, bool with_acls) {
  AttributeErrors errors;
  FileEntry present;
  if (!read_attributes_fd(fd, &present)) {
    errors.xattrs = errno;
    return errors;
  }
  auto keep = [&](int err) {
    if (errors.xattrs == 0) errors.xattrs = err;
  };
  const std::vector<Xattr>& wanted = entry.xattrs;
  for (const Xattr& have : present.xattrs) {
    bool kept = std::any_of(wanted.begin(), wanted.end(), [&](const Xattr& w) { return w.name == have.name; });
    if (!kept) {
      if (int err = remove_xattr_fd(fd, have.name.c_str()); err != 0) keep(err);
    }
  }
  for (const Xattr& want : wanted) {
    // A peer never sets Ferry's own attribute, nor one of a namespace Ferry does not carry.
    if (!carries_xattr(want.name) || std::find(present.xattrs.begin(), present.xattrs.end(), want) != present.xattrs.end()) {
      continue;
    }
    if (int err = set_xattr_fd(fd, want.name.c_str(), want.value); err != 0) keep(err);
  }
  if (with_acls) errors.acls = replace_acls_fd(fd, present, entry, mode);
  return errors;
}

bool volume_of(const std::string& path, Volume* out) {
  // The nearest existing ancestor, then up while the parent is on the same device: the last
  // one that is is the mount point (POSIX has no call that names it).
  std::string at = path.empty() ? "/" : path;
  struct stat st {};
  while (::stat(at.c_str(), &st) != 0) {
    if (errno != ENOENT || at == "/") return false;
    size_t slash = at.rfind('/');
    at = slash == 0 || slash == std::string::npos ? "/" : at.substr(0, slash);
  }
  UniqueFd fd(::open(at.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  struct statvfs vfs {};
  if (!fd.valid() || ::fstatvfs(fd.get(), &vfs) != 0) return false;
  dev_t dev = st.st_dev;
  while (at != "/") {
    size_t slash = at.rfind('/');
    std::string parent = slash == 0 || slash == std::string::npos ? "/" : at.substr(0, slash);
    struct stat up {};
    if (::stat(parent.c_str(), &up) != 0 || up.st_dev != dev) break;
    at = parent;
  }
  // A file system that reports no fsid is told apart by its device number, which a remount
  // of another file system there does not share (but a reboot may change).
  char fsid[40];
  if (vfs.f_fsid != 0) {
    std::snprintf(fsid, sizeof fsid, "%llx", static_cast<unsigned long long>(vfs.f_fsid));
  } else {
    std::snprintf(fsid, sizeof fsid, "dev%llx", static_cast<unsigned long long>(dev));
  }
  out->mount_point = at;
  out->id = file_system_kind(fd.get()) + ":" + fsid;
  return true;
}

int copy_by_reading(int from, int to) {
  std::vector<char> buffer(256 * 1024);
  off_t offset = 0;
  while (true) {
    ssize_t n = ::pread(from, buffer.data(), buffer.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    if (int err = pwrite_full(to, buffer.data(), static_cast<size_t>(n), static_cast<uint64_t>(offset)); err != 0) {
      return err;
    }
    offset += n;
  }
}

int set_close_on_exec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  return flags < 0 ? -1 : ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  return flags < 0 ? -1 : ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace ferry::platform
