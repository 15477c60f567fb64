#include "engine/spill_file.h"

#include <errno.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

#include "base/positioned_io.h"
#include "fs/dest_state.h"
#include "fs/temp_files.h"

namespace ferry {
namespace {

// Counted far above the Installer's temporary names (temp_file_name(1), (2), ...), which share
// the folder: the names differ, and a killed run's leftover is still swept as a stale one.
constexpr uint64_t kFirstSpillNumber = uint64_t{1} << 48;
std::atomic<uint64_t> next_spill_number{kFirstSpillNumber};

UniqueFd make_unnamed_file_in(int dir_fd) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string name = temp_file_name(next_spill_number++);
    UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.valid()) {
      ::unlinkat(dir_fd, name.c_str(), 0);  // ours alone, and gone when closed
      return fd;
    }
    if (errno != EEXIST) break;
  }
  return UniqueFd();
}

UniqueFd make_unnamed_file_in_tmp() {
  const char* tmpdir = ::getenv("TMPDIR");
  std::string name = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/ferry-entries-XXXXXX";
  UniqueFd fd(::mkstemp(name.data()));
  if (fd.valid()) ::unlink(name.c_str());
  return fd;
}

}  // namespace

int spill_dir_of(const DestinationState* state) { return state != nullptr ? state->tmp_dir() : -1; }

bool SpillFile::append(std::string_view bytes) {
  if (failed_) return false;
  int err = 0;
  if (!fd_.valid()) {
    if (dir_fd_ >= 0) fd_ = make_unnamed_file_in(dir_fd_);
    if (!fd_.valid()) fd_ = make_unnamed_file_in_tmp();
    if (!fd_.valid()) err = errno;
  }
  if (err == 0) err = pwrite_full(fd_.get(), bytes.data(), bytes.size(), size_);
  if (err != 0) {
    spdlog::debug("keeping a list in memory: no temporary file for it ({})", std::string(::strerror(err)));
    if (fd_.valid()) (void)::ftruncate(fd_.get(), static_cast<off_t>(size_));  // give the space back
    failed_ = true;
    return false;
  }
  size_ += bytes.size();
  return true;
}

std::string SpillFile::read(uint64_t offset, size_t len) const {
  std::string bytes(len, '\0');
  ssize_t got = pread_full(fd_.get(), bytes.data(), len, offset);
  if (got != static_cast<ssize_t>(len)) {
    throw std::runtime_error(std::string("cannot read back a list kept for the end of the run: ") +
                             (got < 0 ? ::strerror(errno) : "the temporary file is short"));
  }
  return bytes;
}

}  // namespace ferry
