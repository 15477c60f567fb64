// Holes through lseek(SEEK_DATA/SEEK_HOLE), which Linux and macOS both have (linux and darwin
// backends; POSIX.1-2008 does not name them, so the posix backend sees only data).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "platform/platform.h"

namespace ferry::platform {

int64_t seek_data(int fd, int64_t from) {
  off_t at = ::lseek(fd, static_cast<off_t>(from), SEEK_DATA);
  if (at >= 0) return at;
  if (errno == ENXIO) {  // no data after `from`: the rest is a hole
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_size) : from;
  }
  return from;  // EINVAL: this file system cannot say
}

int64_t seek_hole(int fd, int64_t from) {
  off_t at = ::lseek(fd, static_cast<off_t>(from), SEEK_HOLE);
  return at >= 0 ? at : -1;
}

}  // namespace ferry::platform
