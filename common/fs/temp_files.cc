#include "fs/temp_files.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "fs/dir_names.h"

namespace ferry {
namespace {

constexpr std::string_view kPrefix = ".ferry-";
constexpr std::string_view kSuffix = ".tmp";

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

std::string temp_file_name(uint64_t n) {
  return std::string(kPrefix) + std::to_string(::getpid()) + "-" + std::to_string(n) + std::string(kSuffix);
}

std::optional<pid_t> temp_file_owner(std::string_view leaf) {
  if (leaf.size() <= kPrefix.size() + kSuffix.size() || leaf.substr(0, kPrefix.size()) != kPrefix ||
      leaf.substr(leaf.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  std::string_view middle = leaf.substr(kPrefix.size(), leaf.size() - kPrefix.size() - kSuffix.size());
  size_t dash = middle.find('-');
  if (dash == std::string_view::npos || !all_digits(middle.substr(0, dash)) || !all_digits(middle.substr(dash + 1))) {
    return std::nullopt;
  }
  pid_t pid = 0;
  auto [end, error] = std::from_chars(middle.data(), middle.data() + dash, pid);
  if (error != std::errc() || pid <= 0) return std::nullopt;
  return pid;
}

size_t remove_stale_temp_files(int dir_fd, const std::function<bool(std::string_view leaf)>& keep,
                               const std::function<bool(const std::string& leaf)>& remove) {
  size_t removed = 0;
  const pid_t self = ::getpid();
  for (const std::string& leaf : dir_names(dir_fd)) {
    std::optional<pid_t> owner = temp_file_owner(leaf);
    if (!owner || *owner == self || process_exists(*owner) || keep(leaf)) continue;
    // Never a directory (no AT_REMOVEDIR), and never through anything: the name has no slash.
    if (remove ? remove(leaf) : ::unlinkat(dir_fd, leaf.c_str(), 0) == 0) ++removed;
  }
  return removed;
}

}  // namespace ferry
