#include "fs/dest_state.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <charconv>
#include <ctime>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "fs/dir_names.h"
#include "platform/platform.h"

namespace ferry {
namespace {

constexpr const char* kLockName = "lock";
constexpr const char* kMarkerName = "last-run";
constexpr const char* kMarkerTemp = "last-run.new";
constexpr const char* kTmpName = "tmp";

// Adding or removing .ferry-state changes DEST's mtime, which is the user's (the source's, once
// a run has set it): puts back the one `before` was taken with.
void put_back_mtime(int root_fd, const struct stat& before) {
  timespec times[2] = {{0, UTIME_OMIT}, platform::modified_time(before)};
  ::futimens(root_fd, times);
}
constexpr std::string_view kBasisSuffix = ".basis";

// A cut-off file smaller than this is cheaper to send again than to describe by signature.
constexpr uint64_t kResumeMinBytes = 1024 * 1024;

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "unknown-host";
  return name;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm {};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string read_small_file(int fd) {
  std::string text(4096, '\0');
  ssize_t n = ::pread(fd, text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return text;
}

bool is_key_name(std::string_view name) {
  if (name.size() != 16) return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}


UniqueFd open_or_make_dir(int parent, const char* name, const std::string& shown) {
  if (::mkdirat(parent, name, 0700) != 0 && errno != EEXIST) {
    throw FatalError(errno_message("cannot create " + shown, errno));
  }
  UniqueFd fd(::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP || errno == ENOTDIR) {
      throw FatalError(shown + " is not a directory Ferry made (a file or symlink has its name); move it away "
                               "and run again");
    }
    throw FatalError(errno_message("cannot open " + shown, errno));
  }
  return fd;
}

}  // namespace

std::string state_field(const std::string& text, const std::string& key) {
  size_t at = 0;
  while ((at = text.find(key + "=", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == ' ' || text[at - 1] == '\n') {
      size_t start = at + key.size() + 1;
      size_t end = text.find_first_of(" \n", start);
      return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    at += key.size();
  }
  return "";
}

bool is_reserved_top_name(std::string_view path) { return path == kStateDirName || path == kSafetyNetDirName; }

std::string temp_name_for(std::string_view path) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(XXH3_64bits(path.data(), path.size())));
  return text;
}

DestinationStatus read_destination_status(const std::string& dest_path) {
  DestinationStatus status;
  std::string state = dest_path + "/" + std::string(kStateDirName) + "/";
  UniqueFd marker(::open((state + kMarkerName).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (marker.valid()) {
    std::string text = read_small_file(marker.get());
    status.last_run = text.substr(0, text.find('\n'));
  }
  // A shared lock attempt only asks; it is dropped when the fd closes.
  UniqueFd lock(::open((state + kLockName).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (lock.valid() && ::flock(lock.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    std::string text = read_small_file(lock.get());
    status.holder = text.empty() ? "(a run that has not written its name yet)" : text.substr(0, text.find('\n'));
  }
  return status;
}

DestinationState::DestinationState(int root_fd, const std::string& display, const std::string& where) {
  std::string shown = display + "/" + std::string(kStateDirName) + where;
  // Making our folder must not touch the user's: a run that fails before it finishes (a full
  // disk) leaves DEST's mtime as it was.
  struct stat root_before {};
  bool have_root_time = ::fstat(root_fd, &root_before) == 0;
  state_ = open_or_make_dir(root_fd, std::string(kStateDirName).c_str(), shown);
  if (have_root_time) put_back_mtime(root_fd, root_before);
  struct stat st {};
  if (::fstat(state_.get(), &st) != 0) throw FatalError(errno_message("cannot stat " + shown, errno));
  device_ = st.st_dev;
  started_ = "host=" + host_name() + " pid=" + std::to_string(::getpid()) + " started=" + utc_now();
  take_lock(display, where);
  tmp_ = open_or_make_dir(state_.get(), kTmpName, display + "/" + std::string(kStateDirName) + "/tmp" + where);
  read_previous_marker();
  write_marker("state=running " + started_ + "\n", false);
  tidy_tmp();
}

DestinationState::DestinationState(int root_fd, const std::string& display, const std::string& where, LockOnly) {
  std::string shown = display + "/" + std::string(kStateDirName) + where;
  state_ = open_or_make_dir(root_fd, std::string(kStateDirName).c_str(), shown);
  started_ = "host=" + host_name() + " pid=" + std::to_string(::getpid()) + " started=" + utc_now();
  take_lock(display, where);
}

DestinationState::~DestinationState() = default;

void DestinationState::release() {
  if (!lock_.valid()) return;
  if (::ftruncate(lock_.get(), 0) != 0) spdlog::debug("cannot clear the lock file");
  lock_.reset();
}

void DestinationState::take_lock(const std::string& display, const std::string& where) {
  lock_.reset(::openat(state_.get(), kLockName, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!lock_.valid()) throw FatalError(errno_message("cannot open the lock file in " + display + where, errno));
  std::string holder = read_small_file(lock_.get());
  auto refuse = [&](const std::string& why) {
    std::string who = holder.empty() ? "" : " (pid " + state_field(holder, "pid") + " on " + state_field(holder, "host") +
                                                ", started " + state_field(holder, "started") + ")";
    throw FatalError("another Ferry run is writing to " + display + where + " right now" + who + why);
  };
  if (::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) refuse("; wait for it to finish (or stop it) and run again");
    // No flock here (some network file systems): trust the file, and take it over only from a
    // holder that is provably gone, a process of this host that no longer exists.
    std::string pid_text = state_field(holder, "pid");
    pid_t pid = 0;
    std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
    bool gone = pid > 0 && state_field(holder, "host") == host_name() && ::kill(pid, 0) != 0 && errno == ESRCH;
    if (!holder.empty() && !gone) {
      refuse("; if that run is certainly over, delete " + display + "/" + std::string(kStateDirName) + "/lock");
    }
  }
  if (!holder.empty()) took_over_ = holder;
  std::string mine = started_ + "\n";
  if (::ftruncate(lock_.get(), 0) != 0 || ::pwrite(lock_.get(), mine.data(), mine.size(), 0) < 0) {
    throw FatalError(errno_message("cannot write the lock file in " + display + where, errno));
  }
}

void DestinationState::read_previous_marker() {
  UniqueFd fd(::openat(state_.get(), kMarkerName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return;
  std::string text = read_small_file(fd.get());
  if (state_field(text, "state") == "running") unfinished_ = text.substr(0, text.find('\n'));
}

void DestinationState::write_marker(const std::string& text, bool durable) {
  UniqueFd fd(::openat(state_.get(), kMarkerTemp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  bool ok = fd.valid() && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            (!durable || ::fsync(fd.get()) == 0) &&
            ::renameat(state_.get(), kMarkerTemp, state_.get(), kMarkerName) == 0 &&
            (!durable || ::fsync(state_.get()) == 0);
  if (!ok) spdlog::warn("{}", errno_message("cannot record the run's state in .ferry-state/last-run", errno));
}

// Whatever a previous run left in tmp/: files it was writing when it was cut off. A large one
// is kept for resuming; a ".basis" is a partial that run was itself resuming from, and goes
// back to being the partial unless the newer attempt got further.
void DestinationState::tidy_tmp() {
  auto size_of = [&](const std::string& name) -> int64_t {
    struct stat st {};
    if (::fstatat(tmp_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return -1;
    return st.st_size;
  };
  for (const std::string& name : dir_names(tmp_.get())) {
    if (!name.ends_with(kBasisSuffix)) continue;
    std::string key = name.substr(0, name.size() - kBasisSuffix.size());
    if (is_key_name(key) && size_of(name) > size_of(key)) {
      ::renameat(tmp_.get(), name.c_str(), tmp_.get(), key.c_str());
    } else {
      ::unlinkat(tmp_.get(), name.c_str(), 0);
    }
  }
  for (const std::string& name : dir_names(tmp_.get())) {
    int64_t size = size_of(name);
    if (is_key_name(name) && size >= static_cast<int64_t>(kResumeMinBytes)) {
      partials_.insert(name);
    } else if (::unlinkat(tmp_.get(), name.c_str(), 0) != 0 && errno == EISDIR) {
      spdlog::warn(".ferry-state/tmp/{} is a directory Ferry did not make; left alone", name);
    }
  }
}

void DestinationState::mark_finished(uint64_t files, uint64_t errors, bool durable) {
  for (const std::string& name : dir_names(tmp_.get())) ::unlinkat(tmp_.get(), name.c_str(), 0);
  write_marker("state=finished " + started_ + " finished=" + utc_now() + " files=" + std::to_string(files) +
                   " errors=" + std::to_string(errors) + "\n",
               durable);
  release();
}

bool DestinationState::remove_if_bare(int root_fd) {
  for (const std::string& name : dir_names(state_.get())) {
    if (name != kLockName && name != kMarkerName && name != kTmpName) return false;
  }
  if (::unlinkat(state_.get(), kTmpName, AT_REMOVEDIR) != 0) return false;  // not empty: a partial
  ::unlinkat(state_.get(), kLockName, 0);
  ::unlinkat(state_.get(), kMarkerName, 0);
  struct stat before {};
  bool have_times = ::fstat(root_fd, &before) == 0;
  std::string name(kStateDirName);
  if (::unlinkat(root_fd, name.c_str(), AT_REMOVEDIR) != 0) return false;
  if (have_times) put_back_mtime(root_fd, before);
  return true;
}

}  // namespace ferry
