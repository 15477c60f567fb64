#include "fs/confined_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"
#include "base/log.h"
#include "platform/platform.h"
#include "protocol/rel_path.h"

namespace ferry {

ConfinedRoot::ConfinedRoot(UniqueFd root_fd, std::string root_display)
    : root_(std::move(root_fd)), display_(std::move(root_display)) {
  struct stat st {};
  if (::fstat(root_.get(), &st) == 0) root_device_ = st.st_dev;
}

int ConfinedRoot::parent_dir(std::string_view path, dev_t* device) {
  std::string_view parent = parent_of(path);
  if (parent.empty()) {
    if (device != nullptr) *device = root_device_;
    return root_.get();
  }
  if (!cached_.valid() || cached_path_ != parent) {
    int fd = platform::open_beneath(root_.get(), std::string(parent), O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
      forget();
      return -1;
    }
    struct stat st {};
    cached_device_ = ::fstat(fd, &st) == 0 ? st.st_dev : 0;
    cached_.reset(fd);
    cached_path_ = parent;
  }
  if (device != nullptr) *device = cached_device_;
  return cached_.get();
}

UniqueFd ConfinedRoot::open(std::string_view path, int flags, unsigned mode) {
  if (path.empty()) return UniqueFd(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
  return UniqueFd(platform::open_beneath(root_.get(), std::string(path), flags, mode));
}

std::string ConfinedRoot::shown(std::string_view path) const {
  return printable(join_path(display_, path));
}

ReceiveFolder::ReceiveFolder(const std::string& destination, bool dry_run) : destination_(destination) {
  if (!dry_run || ::access(destination.c_str(), F_OK) == 0) return;
  char tmpl[] = "/tmp/ferry-dry-run.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw FatalError(errno_message("cannot make an empty folder for the dry run", errno));
  stand_in_ = tmpl;
}

ReceiveFolder::~ReceiveFolder() {
  if (!stand_in_.empty()) ::rmdir(stand_in_.c_str());
}

int remove_tree_at(int dir_fd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : errno;
  if (!S_ISDIR(st.st_mode)) return ::unlinkat(dir_fd, name.c_str(), 0) == 0 ? 0 : errno;

  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  // A read-only folder (a backed-up one, say) must take the removal of its names; it goes
  // itself next, so its mode no longer matters.
  if ((st.st_mode & S_IRWXU) != S_IRWXU) ::fchmod(fd, (st.st_mode & 07777) | S_IRWXU);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return err;
  }
  int first_error = 0;
  while (dirent* d = ::readdir(dir)) {
    std::string child = d->d_name;
    if (child == "." || child == "..") continue;
    int err = remove_tree_at(::dirfd(dir), child);
    if (err != 0 && first_error == 0) first_error = err;
  }
  ::closedir(dir);
  if (first_error != 0) return first_error;
  return ::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) == 0 ? 0 : errno;
}

ConfinedRoot open_destination(const std::string& path, const std::string& where) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    if (errno == ENOENT) {
      throw FatalError("cannot create " + path + ": its parent directory does not exist" + where +
                       "; create it first");
    }
    throw FatalError(errno_message("cannot create " + path + where, errno));
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOTDIR) throw FatalError(path + " exists" + where + " and is not a directory");
    throw FatalError(errno_message("cannot open " + path + where, errno));
  }
  return open_destination(std::move(fd), path, where);
}

ConfinedRoot open_destination(UniqueFd fd, const std::string& path, const std::string& where) {
  struct statvfs vfs {};
  if (::fstatvfs(fd.get(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
    throw FatalError(path + " is on a read-only file system" + where);
  }
  if (::faccessat(fd.get(), ".", W_OK, AT_EACCESS) != 0) {
    throw FatalError(errno_message(path + " is not writable" + where + " (uid " + std::to_string(::geteuid()) + ")",
                                   errno));
  }
  return ConfinedRoot(std::move(fd), path);
}

namespace {

// Whether a component of `rel` beneath base_fd is a symlink: what an open that refuses them
// meant by ELOOP or ENOTDIR (openat2 says ENOTDIR for a link where a directory must be).
bool symlink_on_the_way(int base_fd, const std::string& rel) {
  UniqueFd held;
  int at = base_fd;
  for (size_t start = 0; start <= rel.size();) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    std::string name = rel.substr(start, slash - start);
    struct stat st {};
    if (::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (S_ISLNK(st.st_mode)) return true;
    if (!S_ISDIR(st.st_mode)) return false;
    held.reset(::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!held.valid()) return false;
    at = held.get();
    start = slash + 1;
  }
  return false;
}

}  // namespace

UniqueFd open_dir_beneath(int base_fd, const std::string& rel, bool create, const std::string& shown,
                          const std::string& where) {
  if (rel.empty()) return UniqueFd(::fcntl(base_fd, F_DUPFD_CLOEXEC, 0));
  size_t slash = rel.rfind('/');
  std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
  std::string last = rel.substr(slash == std::string::npos ? 0 : slash + 1);
  UniqueFd parent_fd(parent.empty() ? ::fcntl(base_fd, F_DUPFD_CLOEXEC, 0)
                                    : platform::open_beneath(base_fd, parent, O_RDONLY | O_DIRECTORY));
  auto refuse = [&](int err) -> FatalError {
    if (err == ELOOP || err == EXDEV || (err == ENOTDIR && symlink_on_the_way(base_fd, rel))) {
      return FatalError("refused " + shown + where + ": a symlink is in the way (it may have been put there while "
                        "this run started); remove it, or use a path without one");
    }
    if (err == ENOENT && create) {
      return FatalError("cannot create " + shown + ": its parent directory does not exist" + where + "; create it first");
    }
    if (err == ENOTDIR) return FatalError(shown + where + " is not a directory (or something in its path is not)");
    return FatalError(errno_message("cannot open " + shown + where, err));
  };
  if (!parent_fd.valid()) throw refuse(errno);
  if (create && ::mkdirat(parent_fd.get(), last.c_str(), 0700) != 0 && errno != EEXIST) throw refuse(errno);
  UniqueFd dir(::openat(parent_fd.get(), last.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) throw refuse(errno);
  return dir;
}

}  // namespace ferry
