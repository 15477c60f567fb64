#include "engine/spill_file.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "base/positioned_io.h"

namespace ferry {
namespace {

UniqueFd make_unnamed_file(const std::string& dir) {
  std::string where = dir;
  if (where.empty()) {
    const char* tmpdir = ::getenv("TMPDIR");
    where = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  }
  std::string name = where + "/ferry-entries-XXXXXX";
  UniqueFd fd(::mkstemp(name.data()));
  if (fd.valid()) ::unlink(name.c_str());  // ours alone, and gone when closed
  return fd;
}

}  // namespace

bool SpillFile::append(std::string_view bytes) {
  if (failed_) return false;
  int err = 0;
  if (!fd_.valid()) {
    fd_ = make_unnamed_file(dir_);
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
