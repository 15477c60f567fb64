#include "fs/safety_net.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <vector>

#include "base/log.h"
#include "base/error.h"
#include "fs/confined_root.h"
#include "fs/dest_state.h"
#include "fs/dir_names.h"
#include "protocol/rel_path.h"

namespace ferry {
namespace {


// Bytes held by regular files under dir_fd/name, never following a symlink.
uint64_t bytes_under(int dir_fd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  if (!S_ISDIR(st.st_mode)) return 0;
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return 0;
  uint64_t total = 0;
  for (const std::string& child : dir_names(fd.get())) total += bytes_under(fd.get(), child);
  return total;
}

UniqueFd make_and_open_dir(int parent, const std::string& name) {
  if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) return UniqueFd();
  return UniqueFd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

}  // namespace

std::string safety_net_folder_name(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm {};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H-%M-%SZ", &tm);
  return text;
}

bool parse_safety_net_folder_name(const std::string& name, int64_t* seconds) {
  std::tm tm {};
  int consumed = 0;
  if (std::sscanf(name.c_str(), "%4d-%2d-%2dT%2d-%2d-%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return false;
  }
  // A second run within the same second gets "...Z-2"; it sorts and ages with its second.
  std::string rest = name.substr(static_cast<size_t>(consumed));
  if (!rest.empty() && (rest.size() < 2 || rest[0] != '-' || rest.find_first_not_of("0123456789", 1) != std::string::npos)) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *seconds = static_cast<int64_t>(::timegm(&tm));
  return true;
}

SafetyNet::SafetyNet(int root_fd, std::string root_display, int64_t now)
    : root_fd_(root_fd), display_(std::move(root_display)), now_(now) {}

std::string SafetyNet::folder_shown() const {
  return printable(join_path(display_, std::string(kSafetyNetDirName) + "/" + folder_name_));
}

int SafetyNet::parent_in_net(const std::string& path, std::string* problem) {
  if (!folder_.valid()) {
    UniqueFd net = make_and_open_dir(root_fd_, std::string(kSafetyNetDirName));
    if (!net.valid()) {
      *problem = errno_message("cannot make " + printable(join_path(display_, kSafetyNetDirName)), errno);
      return -1;
    }
    // This run's folder is new: a run within the same second as another gets a suffix.
    std::string base = safety_net_folder_name(now_);
    for (int n = 1; n < 100 && !folder_.valid(); ++n) {
      std::string name = n == 1 ? base : base + "-" + std::to_string(n);
      if (::mkdirat(net.get(), name.c_str(), 0700) != 0) {
        if (errno == EEXIST) continue;
        break;
      }
      folder_.reset(::openat(net.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      folder_name_ = name;
    }
    if (!folder_.valid()) {
      *problem = errno_message("cannot make a folder in " + printable(join_path(display_, kSafetyNetDirName)), errno);
      return -1;
    }
  }
  std::string parent(parent_of(path));
  if (parent.empty()) return folder_.get();
  if (cached_.valid() && cached_parent_ == parent) return cached_.get();
  UniqueFd dir(::fcntl(folder_.get(), F_DUPFD_CLOEXEC, 0));
  size_t start = 0;
  while (dir.valid() && start <= parent.size()) {
    size_t slash = parent.find('/', start);
    std::string component = parent.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    dir = make_and_open_dir(dir.get(), component);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (!dir.valid()) {
    *problem = errno_message("cannot make the folder of " + printable(path) + " in " + folder_shown(), errno);
    return -1;
  }
  cached_ = std::move(dir);
  cached_parent_ = parent;
  return cached_.get();
}

std::string SafetyNet::keep_moved(int dir_fd, const std::string& leaf, const std::string& path) {
  std::string problem;
  int into = parent_in_net(path, &problem);
  if (into < 0) return problem;
  if (::renameat(dir_fd, leaf.c_str(), into, leaf.c_str()) != 0) {
    return errno_message("cannot move " + printable(join_path(display_, path)) + " into " + folder_shown(), errno);
  }
  ++kept_;
  return "";
}

std::string SafetyNet::keep_linked(int dir_fd, const std::string& leaf, const std::string& path) {
  std::string problem;
  int into = parent_in_net(path, &problem);
  if (into < 0) return problem;
  if (::linkat(dir_fd, leaf.c_str(), into, leaf.c_str(), 0) == 0) {
    ++kept_;
    return "";
  }
  // No hard links here (a file system without them, or a link count at its limit): move it;
  // the real name is missing only until the rename that follows.
  return keep_moved(dir_fd, leaf, path);
}

size_t SafetyNet::prune(uint64_t keep_seconds, uint64_t keep_bytes, std::string* problem) {
  if (keep_seconds == 0 && keep_bytes == 0) return 0;
  UniqueFd net(::openat(root_fd_, std::string(kSafetyNetDirName).c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!net.valid()) return 0;
  struct Folder {
    std::string name;
    int64_t time;
    uint64_t bytes;
  };
  std::vector<Folder> folders;
  uint64_t total = 0;
  for (std::string& name : dir_names(net.get())) {
    int64_t time = 0;
    if (!parse_safety_net_folder_name(name, &time)) continue;  // not ours: never touched
    uint64_t bytes = keep_bytes != 0 ? bytes_under(net.get(), name) : 0;
    total += bytes;
    folders.push_back({std::move(name), time, bytes});
  }
  std::sort(folders.begin(), folders.end(), [](const Folder& a, const Folder& b) {
    return a.time != b.time ? a.time < b.time : a.name < b.name;
  });
  size_t removed = 0;
  for (const Folder& f : folders) {
    if (f.name == folder_name_) break;  // this run's, and everything newer
    bool too_old = keep_seconds != 0 && now_ - f.time > static_cast<int64_t>(keep_seconds);
    bool too_big = keep_bytes != 0 && total > keep_bytes;
    if (!too_old && !too_big) break;
    int err = remove_tree_at(net.get(), f.name);
    if (err != 0) {
      *problem = errno_message("cannot prune " + printable(join_path(display_, std::string(kSafetyNetDirName) + "/" + f.name)), err);
      break;
    }
    total -= f.bytes;
    ++removed;
  }
  return removed;
}

}  // namespace ferry
