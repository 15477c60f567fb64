// The posix backend: POSIX.1-2008 calls only, the extended attributes aside (no standard names
// them; xattr_linux.cc provides them on Linux). Built and tested on Linux, where it proves the
// fallbacks the Mac takes: confinement by a walk with O_NOFOLLOW, durability by an fsync of
// each file and folder, copies instead of splice, a self-pipe for the waker.
#include <fcntl.h>
#include <unistd.h>
#if __has_include(<sys/sysmacros.h>)
#include <sys/sysmacros.h>  // major() and minor(): in no standard, but on every system
#endif

#include <cerrno>
#include <string>

#include "platform/platform.h"
#include "platform/portable.h"

namespace ferry::platform {

const char* name() { return "posix"; }

int open_beneath(int dir_fd, const std::string& rel, int flags, unsigned mode) {
  return open_beneath_by_walk(dir_fd, rel, flags, mode);
}

int read_flags_without_atime() { return O_RDONLY; }
void advise_sequential(int fd) { ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); }

// SEEK_DATA and SEEK_HOLE are not in POSIX.1-2008: every file is data.
int64_t seek_data(int, int64_t from) { return from; }
int64_t seek_hole(int, int64_t) { return -1; }

timespec modified_time(const struct stat& st) { return st.st_mtim; }
timespec changed_time(const struct stat& st) { return st.st_ctim; }
uint32_t device_major(dev_t dev) { return major(dev); }
uint32_t device_minor(dev_t dev) { return minor(dev); }
bool make_device(uint32_t maj, uint32_t min, dev_t* out) {
  *out = makedev(maj, min);
  return major(*out) == maj && minor(*out) == min;
}

bool can_flush_file_system(int) { return false; }
int copy_file_data(int from, int to) { return copy_by_reading(from, to); }
bool clone_file_data(int, int) { return false; }
bool punch_hole(int, uint64_t, uint64_t) { return false; }

int flush_file_system(int) { return ENOTSUP; }
int flush_file(int fd) { return ::fsync(fd) == 0 ? 0 : errno; }
void start_writeback(int, uint64_t, uint64_t) {}

std::string file_system_kind(int) { return "unknown"; }

// The posix backend stands in for the Mac on Linux hosts, whose scheduler is systemd.
const char* native_scheduler() { return "systemd"; }

std::string executable_path() { return remembered_program_path(); }

}  // namespace ferry::platform
