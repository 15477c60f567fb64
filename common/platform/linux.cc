// The linux backend: today's fast paths (openat2, syncfs, sync_file_range, splice, eventfd).
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <string>

#include "base/error.h"
#include "platform/platform.h"
#include "platform/portable.h"

namespace ferry::platform {

const char* name() { return "linux"; }

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

int read_flags_without_atime() { return O_RDONLY | O_NOATIME; }
void advise_sequential(int fd) { ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); }

timespec modified_time(const struct stat& st) { return st.st_mtim; }
timespec changed_time(const struct stat& st) { return st.st_ctim; }
uint32_t device_major(dev_t dev) { return ::major(dev); }
uint32_t device_minor(dev_t dev) { return ::minor(dev); }
bool make_device(uint32_t major, uint32_t minor, dev_t* out) {
  *out = ::makedev(major, minor);
  return ::major(*out) == major && ::minor(*out) == minor;
}

namespace {

// statfs f_type of FUSE file systems (linux/magic.h); virtiofs reports it too.
constexpr unsigned long kFuseMagic = 0x65735546;

}  // namespace

bool can_flush_file_system(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return true;
  // virtiofs forwards syncfs, but cannot be told apart from other FUSE file systems by f_type:
  // an fsync per file is correct on both, only slower on virtiofs.
  return static_cast<unsigned long>(fs.f_type) != kFuseMagic;
}

bool clone_file_data(int from, int to) { return ::ioctl(to, FICLONE, from) == 0; }

bool punch_hole(int fd, uint64_t offset, uint64_t length) {
  return ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                     static_cast<off_t>(length)) == 0;
}

int copy_file_data(int from, int to) {
  if (clone_file_data(from, to)) return 0;  // btrfs, XFS with reflink: no blocks copied
  for (loff_t in = 0, out = 0;;) {
    ssize_t n = ::copy_file_range(from, &in, to, &out, 1 << 30, 0);
    if (n > 0) continue;
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    // Older kernels and some file systems (across mounts, FUSE) refuse it before copying.
    if (in == 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) break;
    return errno;
  }
  return copy_by_reading(from, to);
}

int flush_file_system(int fd) { return ::syncfs(fd) == 0 ? 0 : errno; }
int flush_file(int fd) { return ::fsync(fd) == 0 ? 0 : errno; }

void start_writeback(int fd, uint64_t offset, uint64_t len) {
  ::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(len), SYNC_FILE_RANGE_WRITE);
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

void enlarge_pipe(int fd) { ::fcntl(fd, F_SETPIPE_SZ, 1 << 20); }

ssize_t splice_file_to_pipe(int file_fd, uint64_t offset, int pipe_fd, size_t len) {
  auto at = static_cast<loff_t>(offset);
  return ::splice(file_fd, &at, pipe_fd, nullptr, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

int stream_socketpair(int sv[2]) { return ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv); }
int stream_socket(int family, bool nonblocking) {
  return ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
}

Waker::Waker() {
  read_fd_ = write_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (read_fd_ < 0) throw ConnectionError(errno_message("cannot make an eventfd to wake the connection's thread", errno));
}

Waker::~Waker() { ::close(read_fd_); }

void Waker::wake() {
  uint64_t one = 1;
  (void)!::write(write_fd_, &one, sizeof(one));
}

void Waker::clear() {
  uint64_t count;
  (void)!::read(read_fd_, &count, sizeof(count));
}

const char* native_scheduler() { return "systemd"; }

std::string executable_path() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? remembered_program_path() : self.string();
}

}  // namespace ferry::platform
