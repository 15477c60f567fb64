#include "fs/symlink_owners.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "base/error.h"
#include "base/positioned_io.h"
#include "fs/dest_state.h"
#include "fs/unique_fd.h"

namespace ferry {
namespace {

std::string read_whole(int fd, uint64_t limit, bool* too_large) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return "";
  if (static_cast<uint64_t>(st.st_size) > limit) {
    *too_large = true;
    return "";
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  ssize_t got = pread_full(fd, text.data(), text.size(), 0);
  text.resize(got < 0 ? 0 : static_cast<size_t>(got));
  return text;
}

bool parse_u32(std::string_view text, uint32_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

void append_symlink_owner(std::string* records, const std::string& path, uint32_t uid, uint32_t gid) {
  *records += std::to_string(uid) + " " + std::to_string(gid) + " " + path;
  records->push_back('\0');
}

std::string write_symlink_owners(int state_dir, const std::string& records) {
  UniqueFd old(::openat(state_dir, kSymlinkOwnersName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  bool too_large = false;
  if (old.valid() && read_whole(old.get(), kMaxSymlinkOwnersBytes, &too_large) == records && !too_large) return "";
  if (records.empty()) {
    if (::unlinkat(state_dir, kSymlinkOwnersName, 0) != 0 && errno != ENOENT) {
      return errno_message("cannot remove .ferry-state/symlink-owners", errno);
    }
    return "";
  }
  const char* tmp = "symlink-owners.new";
  UniqueFd fd(::openat(state_dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_message("cannot write .ferry-state/symlink-owners", errno);
  for (size_t done = 0; done < records.size();) {
    ssize_t n = ::write(fd.get(), records.data() + done, records.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_message("cannot write .ferry-state/symlink-owners", errno);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || ::renameat(state_dir, tmp, state_dir, kSymlinkOwnersName) != 0) {
    return errno_message("cannot write .ferry-state/symlink-owners", errno);
  }
  return "";
}

SymlinkOwners read_symlink_owners(int root_fd, std::string* problem) {
  SymlinkOwners owners;
  std::string name = std::string(kStateDirName) + "/" + kSymlinkOwnersName;
  UniqueFd fd(::openat(root_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return owners;
  bool too_large = false;
  std::string text = read_whole(fd.get(), kMaxSymlinkOwnersBytes, &too_large);
  if (too_large) {
    *problem = ".ferry-state/symlink-owners is larger than " + std::to_string(kMaxSymlinkOwnersBytes >> 20) +
               " MiB and was not read: symlinks come back owned by the agent's user";
    return owners;
  }
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\0', start);
    std::string_view record(text.data() + start, (end == std::string::npos ? text.size() : end) - start);
    size_t a = record.find(' '), b = a == std::string_view::npos ? a : record.find(' ', a + 1);
    uint32_t uid = 0, gid = 0;
    if (end == std::string::npos || b == std::string_view::npos || !parse_u32(record.substr(0, a), &uid) ||
        !parse_u32(record.substr(a + 1, b - a - 1), &gid) || b + 1 >= record.size()) {
      *problem = ".ferry-state/symlink-owners is damaged after " + std::to_string(owners.size()) +
                 " records: later symlinks come back owned by the agent's user";
      break;
    }
    owners[std::string(record.substr(b + 1))] = {uid, gid};
    start = end + 1;
  }
  return owners;
}

}  // namespace ferry
