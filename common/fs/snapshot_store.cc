#include "fs/snapshot_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "base/bytes.h"
#include "base/error.h"
#include "base/log.h"
#include "fs/dest_state.h"
#include "fs/dir_names.h"
#include "platform/platform.h"

namespace ferry {

namespace {

constexpr const char* kKindFile = "kind";
constexpr std::string_view kMirrorWord = "mirror";
constexpr std::string_view kSnapshotsWord = "snapshots";
constexpr size_t kIdBytes = 20;  // "2026-12-02T03-15-00Z"

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string read_small_file(int dir_fd, const char* name) {
  UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return "";
  char buffer[64];
  ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
}

bool is_snapshot_dir(int dest_fd, const std::string& id) {
  struct stat st {};
  return is_snapshot_id(id) && ::fstatat(dest_fd, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

// Up to three IDs around `at` (by text order), for a message.
std::string nearest(const std::vector<std::string>& ids, std::string_view at) {
  auto it = std::lower_bound(ids.begin(), ids.end(), std::string(at));
  auto from = it - std::min<ptrdiff_t>(2, it - ids.begin());
  std::string out;
  for (auto i = from; i != ids.end() && i < from + 3; ++i) out += (out.empty() ? "" : ", ") + *i;
  return out;
}

}  // namespace

const char* store_kind_name(StoreKind kind) {
  switch (kind) {
    case StoreKind::kMirror: return "mirror";
    case StoreKind::kSnapshots: return "snapshot store";
    case StoreKind::kNone: break;
  }
  return "new destination";
}

namespace {

StoreKind recorded_kind(int dest_fd) {
  std::string state_name(kStateDirName);
  UniqueFd state(::openat(dest_fd, state_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!state.valid()) return StoreKind::kNone;
  std::string word = read_small_file(state.get(), kKindFile);
  while (!word.empty() && (word.back() == '\n' || word.back() == ' ')) word.pop_back();
  if (word == kSnapshotsWord) return StoreKind::kSnapshots;
  if (word == kMirrorWord) return StoreKind::kMirror;
  return StoreKind::kNone;
}

}  // namespace

bool is_snapshot_store(int dest_fd) { return recorded_kind(dest_fd) == StoreKind::kSnapshots; }

StoreKind store_kind_of(int dest_fd) {
  if (StoreKind kind = recorded_kind(dest_fd); kind != StoreKind::kNone) return kind;
  for (const std::string& name : dir_names(dest_fd)) {
    if (!is_reserved_top_name(name)) return StoreKind::kMirror;
  }
  return StoreKind::kNone;
}

int record_store_kind(int state_dir, StoreKind kind) {
  std::string text = std::string(kind == StoreKind::kSnapshots ? kSnapshotsWord : kMirrorWord) + "\n";
  if (read_small_file(state_dir, kKindFile) == text) return 0;
  std::string tmp = std::string(kKindFile) + ".new";
  UniqueFd fd(::openat(state_dir, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno;
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) return errno ? errno : EIO;
  // No flush of its own: the run's final flush puts it on disk with everything else. Until
  // then a lost or empty file reads as "no kind", which a first run's leftovers (only
  // .ferry-state) also are.
  if (::renameat(state_dir, tmp.c_str(), state_dir, kKindFile) != 0) return errno;
  return 0;
}

bool is_snapshot_id(std::string_view name) {
  if (name.size() < kIdBytes) return false;
  std::string_view t = name.substr(0, kIdBytes);
  // YYYY-MM-DDTHH-MM-SSZ
  for (size_t i : {4u, 7u, 13u, 16u}) {
    if (t[i] != '-') return false;
  }
  if (t[10] != 'T' || t[19] != 'Z') return false;
  for (auto [from, len] : {std::pair{0, 4}, {5, 2}, {8, 2}, {11, 2}, {14, 2}, {17, 2}}) {
    if (!all_digits(t.substr(from, len))) return false;
  }
  std::string_view suffix = name.substr(kIdBytes);
  if (suffix.empty()) return true;
  return suffix.size() <= 10 && suffix[0] == '-' && all_digits(suffix.substr(1)) && suffix[1] != '0';
}

std::string snapshot_id_at(std::time_t t) {
  std::tm utc {};
  ::gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H-%M-%SZ", &utc);
  return text;
}

std::time_t snapshot_id_time(std::string_view id) {
  if (!is_snapshot_id(id)) return -1;
  std::tm utc {};
  auto number = [&](size_t from, size_t len) { return std::stoi(std::string(id.substr(from, len))); };
  utc.tm_year = number(0, 4) - 1900;
  utc.tm_mon = number(5, 2) - 1;
  utc.tm_mday = number(8, 2);
  utc.tm_hour = number(11, 2);
  utc.tm_min = number(14, 2);
  utc.tm_sec = number(17, 2);
  return ::timegm(&utc);
}

std::string unused_snapshot_id(int dest_fd, std::time_t t) {
  std::string base = snapshot_id_at(t);
  std::string id = base;
  struct stat st {};
  for (int n = 1; ::fstatat(dest_fd, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0; ++n) {
    id = base + "-" + std::to_string(n);
  }
  return id;
}

std::vector<std::string> list_snapshots(int dest_fd) {
  std::vector<std::string> ids;
  for (std::string& name : dir_names(dest_fd)) {
    if (is_snapshot_dir(dest_fd, name)) ids.push_back(std::move(name));
  }
  // Text order is time order, but "…Z-10" sorts before "…Z-2": compare the suffix as a number.
  std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
    int head = a.compare(0, kIdBytes, b, 0, kIdBytes);
    if (head != 0) return head < 0;
    if (a.size() != b.size()) return a.size() < b.size();
    return a < b;
  });
  return ids;
}

std::string resolve_snapshot(int dest_fd, std::string_view at, std::string* problem, std::string* warning) {
  problem->clear();
  warning->clear();
  std::vector<std::string> ids = list_snapshots(dest_fd);
  if (ids.empty()) {
    *problem = "it holds no snapshot yet";
    return "";
  }
  if (at.empty() || at == kLatestName) {
    std::string link(kLatestName);
    char target[256];
    ssize_t n = ::readlinkat(dest_fd, link.c_str(), target, sizeof target);
    std::string named = n > 0 ? std::string(target, static_cast<size_t>(n)) : "";
    if (std::find(ids.begin(), ids.end(), named) != ids.end()) return named;
    *warning = n < 0 ? "its \"latest\" link is missing"
                     : "its \"latest\" link points to \"" + printable(named) + "\", which is not one of its snapshots";
    *warning += "; using the newest snapshot, " + ids.back();
    return ids.back();
  }
  if (at.starts_with("<=")) {
    std::string when(at.substr(2));
    std::time_t limit = snapshot_id_time(when);
    if (limit < 0) {
      *problem = "\"" + printable(when) + "\" is not a time";
      return "";
    }
    std::string found;
    for (const std::string& id : ids) {
      if (snapshot_id_time(id) <= limit) found = id;
    }
    if (found.empty()) *problem = "no snapshot is that old; the oldest is " + ids.front();
    return found;
  }
  std::string wanted(at);
  if (std::find(ids.begin(), ids.end(), wanted) != ids.end()) return wanted;
  *problem = "it has no snapshot \"" + printable(wanted) + "\"; the nearest are " + nearest(ids, wanted);
  return "";
}

namespace {

constexpr const char* kReadersFile = "readers";

}  // namespace

UniqueFd lock_store_for_reading(int dest_fd, std::string* problem) {
  problem->clear();
  std::string state_name(kStateDirName);
  UniqueFd state(::openat(dest_fd, state_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!state.valid()) return UniqueFd();
  UniqueFd fd(::openat(state.get(), kReadersFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) fd.reset(::openat(state.get(), kReadersFile, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return UniqueFd();  // a read-only store: nothing can remove from it either
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) != 0) {
    *problem = "`ferry forget` is removing snapshots from it right now; try again when it has finished";
    return UniqueFd();
  }
  return fd;
}

UniqueFd lock_store_for_removal(int state_dir, std::string* problem) {
  problem->clear();
  UniqueFd fd(::openat(state_dir, kReadersFile, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    *problem = errno_message("cannot open its readers' lock", errno);
    return UniqueFd();
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    *problem = "a restore or a listing is reading from it right now; run forget again when it has finished";
    return UniqueFd();
  }
  return fd;
}

std::string publish_snapshot(int dest_fd, int state_dir, const std::string& id, bool durable) {
  std::string building(kBuildingDirName);
  if (::renameat(state_dir, building.c_str(), dest_fd, id.c_str()) != 0) {
    return errno_message("cannot name the new snapshot " + id, errno);
  }
  // The link is made in the state folder and renamed over the old one: `latest` always names
  // a complete snapshot, the old or the new.
  std::string link(kLatestName);
  std::string tmp = link + ".new";
  ::unlinkat(state_dir, tmp.c_str(), 0);
  if (::symlinkat(id.c_str(), state_dir, tmp.c_str()) != 0 ||
      ::renameat(state_dir, tmp.c_str(), dest_fd, link.c_str()) != 0) {
    return errno_message("cannot point " + link + " at the new snapshot " + id, errno);
  }
  if (durable) {
    if (int err = platform::flush_file(dest_fd); err != 0) {
      return errno_message("cannot flush the new snapshot's name to disk", err);
    }
  }
  return "";
}

}  // namespace ferry
