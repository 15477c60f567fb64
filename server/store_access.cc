#include "server/store_access.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/bytes.h"
#include "base/error.h"
#include "base/log.h"
#include "base/plural.h"
#include "fs/dest_state.h"
#include "fs/dir_names.h"
#include "fs/rel_path.h"
#include "fs/snapshot_store.h"
#include "seal/seal_place.h"
#include "fs/tree_walker.h"

namespace ferry {

namespace {

constexpr const char* kWhere = " on the agent's machine";

// `path` opened as a folder the way the key may reach it, or an invalid fd.
UniqueFd try_open_dir(const std::string& path, const Open& open, const Confinement& rules) {
  if (rules.root.empty()) return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Open at_path = open;
  at_path.path = path;
  try {
    return open_confined(at_path, rules, /*create=*/false);
  } catch (const FatalError&) {
    return UniqueFd();  // outside the confinement, or missing: not a store the key may read
  }
}

std::string first_component(const std::string& rel) { return rel.substr(0, rel.find('/')); }

// Checks a restore against the seal `name` of the destination at dest_fd, if it has one: `rel`
// is the restored path inside the sealed tree.
void attach_seal(int dest_fd, const std::string& name, const std::string& rel, RestoreSource* source) {
  source->seals_dir = find_seals_dir(dest_fd);
  source->seal_name = name;
  source->sealed_prefix = source->only_name.empty() ? rel : std::string(parent_of(rel));
}

// A restore from a mirror (or a folder in one): the nearest folder at or above `path` that
// holds a mirror's seal.
void attach_mirror_seal(const std::string& path, const Open& open, const Confinement& rules, RestoreSource* source) {
  std::string mirror = path;
  while (true) {
    UniqueFd fd = try_open_dir(mirror, open, rules);
    UniqueFd seals = fd.valid() ? find_seals_dir(fd.get()) : UniqueFd();
    struct stat st {};
    if (seals.valid() && ::fstatat(seals.get(), kMirrorSealName, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      std::string rel = path.size() == mirror.size() ? "" : path.substr(mirror == "/" ? 1 : mirror.size() + 1);
      return attach_seal(fd.get(), kMirrorSealName, rel, source);
    }
    if (fd.valid() && ::fstatat(fd.get(), std::string(kStateDirName).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      return;  // a destination without a seal: not one further up
    }
    if (mirror == "/") return;
    size_t slash = mirror.rfind('/');
    mirror = slash == 0 ? "/" : mirror.substr(0, slash);
  }
}

// A path outside any store: a folder, or a regular file (read as the one file in its folder).
RestoreSource open_plain_source(const std::string& path, const Open& open, const Confinement& rules) {
  RestoreSource source;
  if (path != "/") {
    std::string parent_path(parent_of(path.substr(1)));
    UniqueFd parent = try_open_dir("/" + parent_path, open, rules);
    std::string leaf(leaf_of(path));
    struct stat st {};
    if (parent.valid() && ::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      source.dir = std::move(parent);
      source.only_name = std::move(leaf);
      return source;
    }
  }
  if (!rules.root.empty()) {
    source.dir = open_confined(open, rules, /*create=*/false);
    return source;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw FatalError(errno_message("cannot restore from " + path + kWhere, errno));
  if (!S_ISDIR(st.st_mode)) throw FatalError(path + kWhere + " is neither a directory nor a regular file");
  source.dir = TreeWalker::open_root(path);
  return source;
}

}  // namespace

void check_store_kind(ConfinedRoot& dest, bool snapshot) {
  StoreKind kind = store_kind_of(dest.root_fd());
  StoreKind wanted = snapshot ? StoreKind::kSnapshots : StoreKind::kMirror;
  if (kind == StoreKind::kNone || kind == wanted) return;
  if (snapshot) {
    throw FatalError("refused: " + dest.shown("") + " is a mirror (a copy of the source kept up to date), not a "
                     "snapshot store; snapshots need a destination of their own. Back up with --snapshot to a new "
                     "or empty folder, or leave out --snapshot to update the mirror",
                     ExitCode::kUsage);
  }
  throw FatalError("refused: " + dest.shown("") + " is a snapshot store (one folder per backup, made by `ferry "
                   "backup --snapshot`), not a mirror; add --snapshot to make a new snapshot there, or back up "
                   "without it to another folder",
                   ExitCode::kUsage);
}

namespace {

constexpr uint64_t kCountAtMost = 100'000;

// Entries under `dir` (itself not counted), symlinks not followed, stopping at kCountAtMost.
uint64_t count_entries(int dir, uint64_t counted = 0) {
  for (const std::string& name : dir_names(dir)) {
    if (++counted >= kCountAtMost) return counted;
    UniqueFd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (sub.valid()) counted = count_entries(sub.get(), counted);
  }
  return counted;
}

}  // namespace

void check_delete_into_foreign(ConfinedRoot& dest, const Open& open) {
  // A dry run changes nothing, and its list shows what would go.
  if (!(open.flags & wire::kOpenDelete) || (open.flags & (wire::kOpenForce | wire::kOpenSnapshot | wire::kOpenDryRun))) {
    return;
  }
  std::vector<std::string> names = dir_names(dest.root_fd());
  if (names.empty()) return;
  if (std::find(names.begin(), names.end(), std::string(kStateDirName)) != names.end()) return;  // Ferry's
  uint64_t count = count_entries(dest.root_fd());
  std::string first = printable(names.front()) + (names.size() > 1 ? ", ..." : "");
  throw FatalError("refused: " + dest.shown("") + " already holds " +
                       (count >= kCountAtMost ? "over " + std::to_string(kCountAtMost) + " entries"
                                              : counted(count, "entry", "entries")) +
                       " (" + first + ") and Ferry has never backed up into it, so --delete would remove "
                       "every one that is not in the source. If that is what you want, add --force; to keep them, "
                       "back up into a new folder inside it (" + dest.shown("") + "/NAME) or leave out --delete",
                   ExitCode::kUsage);
}

UniqueFd open_store(const Open& open, const Confinement& rules) {
  UniqueFd fd = try_open_dir(open.path, open, rules);
  if (!fd.valid()) {
    if (!rules.root.empty()) open_confined(open, rules, /*create=*/false);  // throws, saying why
    throw FatalError(errno_message("cannot open " + open.path + kWhere, errno));
  }
  StoreKind kind = store_kind_of(fd.get());
  if (kind != StoreKind::kSnapshots) {
    throw FatalError(open.path + kWhere + " is " +
                         (kind == StoreKind::kMirror ? "a mirror" : "not a Ferry destination") +
                         ", not a snapshot store: it has no snapshots (a snapshot store is made by `ferry backup "
                         "--snapshot`)",
                     ExitCode::kUsage);
  }
  return fd;
}

RestoreSource open_restore_source(const Open& open, const Confinement& rules, Reporter& reporter) {
  // The store is open.path or the nearest folder above it whose state says so.
  std::string path = std::filesystem::path(open.path).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string store_path = path;
  UniqueFd store;
  while (true) {
    UniqueFd fd = try_open_dir(store_path, open, rules);
    if (fd.valid() && is_snapshot_store(fd.get())) {
      store = std::move(fd);
      break;
    }
    if (store_path == "/") break;
    size_t slash = store_path.rfind('/');
    store_path = slash == 0 ? "/" : store_path.substr(0, slash);
  }
  if (!store.valid()) {
    if (!open.at.empty()) {
      throw FatalError(open.path + kWhere + " is not in a snapshot store, so it has no snapshot \"" +
                           printable(open.at) + "\"; leave out --at to restore it as it is",
                       ExitCode::kUsage);
    }
    RestoreSource source = open_plain_source(path, open, rules);
    attach_mirror_seal(path, open, rules, &source);
    return source;
  }

  std::string rel = path.size() == store_path.size() ? "" : path.substr(store_path == "/" ? 1 : store_path.size() + 1);
  std::string at = open.at;
  if (at.empty() && is_snapshot_id(first_component(rel))) {
    // DEST/<ID>/…: a snapshot named by its folder.
    at = first_component(rel);
    rel = rel.size() == at.size() ? "" : rel.substr(at.size() + 1);
  } else if (at.empty() && first_component(rel) == kLatestName) {
    rel = rel.size() == kLatestName.size() ? "" : rel.substr(kLatestName.size() + 1);
  }
  std::string problem, warning;
  RestoreSource source;
  source.read_lock = lock_store_for_reading(store.get(), &problem);
  if (!problem.empty()) throw FatalError("cannot read from " + store_path + kWhere + ": " + problem);
  std::string id = resolve_snapshot(store.get(), at, &problem, &warning);
  if (!problem.empty()) {
    throw FatalError("cannot restore from " + store_path + kWhere + ": " + problem, ExitCode::kUsage);
  }
  if (!warning.empty()) reporter.report(wire::MessageLevel::kWarning, store_path + kWhere + ": " + warning);
  std::string inside = rel.empty() ? id : id + "/" + rel;
  std::string shown = store_path + (store_path == "/" ? "" : "/") + inside;
  if (!rel.empty()) {
    UniqueFd parent = open_dir_beneath(store.get(), std::string(parent_of(inside)), /*create=*/false, shown, kWhere);
    std::string leaf(leaf_of(inside));
    struct stat st {};
    if (::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      source.dir = std::move(parent);
      source.only_name = std::move(leaf);
      attach_seal(store.get(), snapshot_seal_name(id), rel, &source);
      return source;
    }
  }
  source.dir = open_dir_beneath(store.get(), inside, /*create=*/false, shown, kWhere);
  attach_seal(store.get(), snapshot_seal_name(id), rel, &source);
  return source;
}

}  // namespace ferry
