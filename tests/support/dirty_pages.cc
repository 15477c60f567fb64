#include "support/dirty_pages.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>

namespace ferry::test {
namespace {

constexpr uint64_t kPagemapPresent = 1ull << 63;
constexpr uint64_t kPagemapFrameMask = (1ull << 55) - 1;
constexpr uint64_t kPageFlagDirty = 1ull << 4;  // KPF_DIRTY, include/uapi/linux/kernel-page-flags.h

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::optional<long> dirty_pages(const std::string& path) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  Fd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  Fd flags(::open("/proc/kpageflags", O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (file.fd < 0 || pagemap.fd < 0 || flags.fd < 0 || ::fstat(file.fd, &st) != 0 || st.st_size == 0) {
    return std::nullopt;
  }
  const long page = ::sysconf(_SC_PAGESIZE);
  const size_t length = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, file.fd, 0);
  if (map == MAP_FAILED) return std::nullopt;
  std::optional<long> dirty = 0;
  const auto* bytes = static_cast<const volatile unsigned char*>(map);
  for (size_t offset = 0; offset < length; offset += static_cast<size_t>(page)) {
    (void)bytes[offset];  // map the cached page (reading does not dirty it)
    uint64_t entry = 0;
    off_t at = static_cast<off_t>((reinterpret_cast<uintptr_t>(map) + offset) / static_cast<uintptr_t>(page) * 8);
    if (::pread(pagemap.fd, &entry, 8, at) != 8) {
      dirty.reset();
      break;
    }
    uint64_t frame = entry & kPagemapFrameMask;
    if (!(entry & kPagemapPresent) || frame == 0) {  // frame numbers are hidden without root
      dirty.reset();
      break;
    }
    uint64_t page_flags = 0;
    if (::pread(flags.fd, &page_flags, 8, static_cast<off_t>(frame * 8)) != 8) {
      dirty.reset();
      break;
    }
    if (page_flags & kPageFlagDirty) ++*dirty;
  }
  ::munmap(map, length);
  return dirty;
}

}  // namespace ferry::test
