// The darwin backend (macOS 11 or later). Not compiled on the project's Linux machines: the
// macOS workflow (.github/workflows/macos.yml) builds it and runs the tests.
#include <fcntl.h>
#include <limits.h>
#include <copyfile.h>
#include <mach-o/dyld.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "fs/unique_fd.h"
#include "platform/platform.h"
#include "platform/portable.h"

namespace ferry::platform {
namespace {

constexpr const char* kMetadataXattr = "org.ferry.meta";

}  // namespace

// Everything but what the kernel owns (compression, System Integrity Protection, the
// com.apple.system.* attributes that hold ACL-like state) and Ferry's own.
bool carries_xattr(std::string_view name) {
  return !name.starts_with("com.apple.system.") && name != "com.apple.decmpfs" &&
         name != "com.apple.rootless" && name != kMetadataXattr;
}

namespace {

// ACLs are not read here yet: macOS extended ACLs (acl_get_link_np, ACL_TYPE_EXTENDED) are
// NFSv4-style and need their own text form; until then a Mac neither sends nor applies them.
bool read_xattrs(int fd, FileEntry* entry, std::string* stored) {
  std::vector<Xattr>* out = &entry->xattrs;
  out->clear();
  entry->acl.clear();
  entry->default_acl.clear();
  if (stored != nullptr) stored->clear();
  std::string names;
  auto list = [&](char* buf, size_t size) { return ::flistxattr(fd, buf, size, XATTR_NOFOLLOW); };
  if (!read_sized(list, &names)) return errno == ENOTSUP ? (errno = 0, true) : false;
  auto get = [&](const std::string& name, std::string* value) { return get_xattr_fd(fd, name.c_str(), value); };
  return collect_xattrs(names, get, out, stored);
}

}  // namespace

const char* name() { return "darwin"; }

int open_beneath(int dir_fd, const std::string& rel, int flags, unsigned mode) {
#ifdef O_NOFOLLOW_ANY
  // O_NOFOLLOW_ANY refuses a symlink in any component; ".." and absolute paths are refused
  // here, so nothing resolves outside dir_fd.
  if (rel.empty() || rel.front() == '/') {
    errno = EXDEV;
    return -1;
  }
  for (size_t start = 0; start <= rel.size();) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    std::string_view part(rel.data() + start, slash - start);
    if (part.empty() || part == "." || part == "..") {
      errno = EXDEV;
      return -1;
    }
    start = slash + 1;
  }
  int fd = ::openat(dir_fd, rel.c_str(), flags | O_NOFOLLOW_ANY | O_CLOEXEC, mode);
  if (fd >= 0 || errno != EINVAL) return fd;  // EINVAL: a kernel before macOS 11
#endif
  return open_beneath_by_walk(dir_fd, rel, flags, mode);
}

int read_flags_without_atime() { return O_RDONLY; }
void advise_sequential(int fd) { ::fcntl(fd, F_RDAHEAD, 1); }

timespec modified_time(const struct stat& st) { return st.st_mtimespec; }
timespec changed_time(const struct stat& st) { return st.st_ctimespec; }
uint32_t device_major(dev_t dev) { return static_cast<uint32_t>(major(dev)); }
uint32_t device_minor(dev_t dev) { return static_cast<uint32_t>(minor(dev)); }
bool make_device(uint32_t maj, uint32_t min, dev_t* out) {
  // macOS dev_t: 8 bits of major, 24 of minor.
  if (maj > 0xff || min > 0xffffff) return false;
  *out = makedev(maj, min);
  return true;
}

namespace {

// st_flags bits and Ferry's. Kernel-owned flags (UF_COMPRESSED, SF_DATALESS, SF_RESTRICTED,
// SF_FIRMLINK…) are never read into an entry nor written: set_file_flags_fd keeps them.
struct FlagMapping {
  uint32_t ferry;
  uint32_t st_flag;
};
constexpr FlagMapping kFlagMappings[] = {
    {file_flags::kImmutable, SF_IMMUTABLE},  {file_flags::kAppendOnly, SF_APPEND},
    {file_flags::kNoDump, UF_NODUMP},        {file_flags::kUserImmutable, UF_IMMUTABLE},
    {file_flags::kUserAppendOnly, UF_APPEND}, {file_flags::kHidden, UF_HIDDEN},
};

uint32_t ferry_flags(const struct stat& st) {
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return 0;
  uint32_t flags = 0;
  for (const FlagMapping& m : kFlagMappings) {
    if (st.st_flags & m.st_flag) flags |= m.ferry;
  }
  return flags;
}

}  // namespace

int stat_at(int dir_fd, const char* name, struct stat* st, uint32_t* flags) {
  if (::fstatat(dir_fd, name, st, AT_SYMLINK_NOFOLLOW) != 0) return -1;
  *flags = ferry_flags(*st);
  return 0;
}

uint32_t file_flags_fd(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? ferry_flags(st) : 0;
}

int set_file_flags_fd(int fd, uint32_t flags) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno;
  uint32_t wanted = st.st_flags;
  for (const FlagMapping& m : kFlagMappings) {
    wanted = (flags & m.ferry) ? (wanted | m.st_flag) : (wanted & ~m.st_flag);
  }
  if (wanted != st.st_flags && ::fchflags(fd, wanted) != 0) return errno;
  return 0;
}

// sync() on macOS schedules the writes and returns; each file is flushed with F_FULLFSYNC.
bool can_flush_file_system(int) { return false; }
int copy_file_data(int from, int to) {
  // fcopyfile clones on APFS when it can (COPYFILE_CLONE is honoured by copyfile() only for
  // paths; by fd it copies the data, which is still one call).
  if (::fcopyfile(from, to, nullptr, COPYFILE_DATA) == 0) return 0;
  return copy_by_reading(from, to);
}

// APFS clones by name only (fclonefileat makes a new file, with the source's attributes): a
// delta's temporary file, already open, cannot become a clone. Not done until it can be
// tested on a Mac (README, "Platforms").
bool clone_file_data(int, int) { return false; }
bool punch_hole(int, uint64_t, uint64_t) { return false; }

int flush_file_system(int) { return ENOTSUP; }

int flush_file(int fd) {
  // fsync reaches the drive's cache only; F_FULLFSYNC asks the drive to write it. Some file
  // systems (network, FAT) refuse it: fsync is then the best there is.
  if (::fcntl(fd, F_FULLFSYNC) == 0) return 0;
  return ::fsync(fd) == 0 ? 0 : errno;
}

void start_writeback(int, uint64_t, uint64_t) {}

std::string file_system_kind(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return "unknown";
  return fs.f_fstypename;
}

const char* metadata_xattr_name() { return kMetadataXattr; }

bool read_attributes_at(int dir_fd, const std::string& name, FileEntry* entry, std::string* stored) {
  // O_SYMLINK opens a symlink itself, so its own attributes are read, never its target's.
  // Devices are never opened (an open may act); they carry none here.
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  entry->xattrs.clear();
  entry->acl.clear();
  entry->default_acl.clear();
  if (stored != nullptr) stored->clear();
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode)) return true;
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_SYMLINK | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) return false;
  return read_xattrs(fd.get(), entry, stored);
}

bool read_attributes_fd(int fd, FileEntry* entry, std::string* stored) { return read_xattrs(fd, entry, stored); }

// POSIX.1e ACLs from a Linux sender cannot be represented here; the receiver keeps them as
// stored metadata when it can (probe_acls says ENOTSUP).
int replace_acls_fd(int, const FileEntry&, const FileEntry& wanted, uint32_t) {
  return wanted.acl.empty() && wanted.default_acl.empty() ? 0 : ENOTSUP;
}

bool get_xattr_fd(int fd, const char* name, std::string* value) {
  if (read_sized([&](char* buf, size_t size) { return ::fgetxattr(fd, name, buf, size, 0, 0); }, value)) return true;
  if (errno == ENOATTR) errno = ENOENT;
  return false;
}

int set_xattr_fd(int fd, const char* name, const std::string& value) {
  return ::fsetxattr(fd, name, value.data(), value.size(), 0, 0) == 0 ? 0 : errno;
}

int remove_xattr_fd(int fd, const char* name) {
  if (::fremovexattr(fd, name, 0) == 0 || errno == ENOATTR) return 0;
  return errno;
}

const char* native_scheduler() { return "launchd"; }

std::string executable_path() {
  char buf[PATH_MAX];
  uint32_t size = sizeof buf;
  if (::_NSGetExecutablePath(buf, &size) != 0) return remembered_program_path();
  char resolved[PATH_MAX];
  return ::realpath(buf, resolved) ? std::string(resolved) : std::string(buf);
}

bool socket_peer_uid(int socket_fd, uid_t* uid) {
  gid_t gid = 0;
  return ::getpeereid(socket_fd, uid, &gid) == 0;
}

}  // namespace ferry::platform
