#include "server/store_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/bytes.h"
#include "base/error.h"
#include "base/log.h"
#include "fs/confined_root.h"
#include "fs/dest_state.h"
#include "fs/retention.h"
#include "fs/snapshot_store.h"
#include "fs/snapshot_usage.h"
#include "fs/tree_walker.h"
#include "server/store_access.h"
#include "server/verify_service.h"

namespace ferry {

using wire::MessageLevel;
using wire::MsgType;

namespace {

constexpr const char* kWhere = " on the agent's machine";
constexpr size_t kEntryBatchBytes = 32 * 1024;

void send(FrameWriter& out, MsgType type, const auto& message) {
  Encoder e;
  message.encode(e);
  out.send(type, e);
}

std::string latest_target(int store_fd) {
  std::string link(kLatestName);
  char target[256];
  ssize_t n = ::readlinkat(store_fd, link.c_str(), target, sizeof target);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : "";
}

void list_snapshots_of(const Open& open, const Confinement& rules, FrameWriter& out, Reporter& reporter) {
  UniqueFd store = open_store(open, rules);
  std::string busy;
  UniqueFd reading = lock_store_for_reading(store.get(), &busy);
  if (!busy.empty()) throw FatalError("cannot list the snapshots of " + open.path + kWhere + ": " + busy);
  std::string latest = latest_target(store.get());
  ListingEnd end;
  for (const std::string& id : list_snapshots(store.get())) {
    SnapshotUsage usage = snapshot_usage(store.get(), id, [&](const std::string& message) {
      ++end.errors;
      reporter.report(MessageLevel::kError, message);
    });
    SnapshotInfo info{id, id == latest ? SnapshotInfo::kLatest : 0, "", usage.entries, usage.bytes, usage.own_bytes};
    send(out, MsgType::kSnapshotInfo, info);
    ++end.count;
  }
  send(out, MsgType::kListingEnd, end);
}

void list_entries(const Open& open, const Confinement& rules, FrameWriter& out, Reporter& reporter) {
  RestoreSource source = open_restore_source(open, rules, reporter);
  ListingEnd end;
  Encoder e;
  EntryEncoder codec;
  TreeWalker::walk(
      source.dir.get(), open.path,
      [&](FileEntry& entry, const SourceId&) {
        ++end.count;
        codec.encode(entry, e);
        if (e.data().size() >= kEntryBatchBytes) {
          out.send(MsgType::kEntry, e);
          e.clear();
        }
      },
      [&](const std::string& message) {
        ++end.errors;
        reporter.report(MessageLevel::kError, message);
      },
      [&](const FileEntry& entry) {
        return is_reserved_top_name(entry.path) || (!source.only_name.empty() && entry.path != source.only_name);
      },
      /*read_stored_metadata=*/true);
  if (!e.data().empty()) out.send(MsgType::kEntry, e);
  send(out, MsgType::kListingEnd, end);
}

void forget(const Open& open, const Confinement& rules, FrameWriter& out, Reporter& reporter) {
  std::string error;
  KeepRules keep = KeepRules::parse(open.keep, &error);
  if (!error.empty()) throw ProtocolError(error);
  if (!keep.any()) {
    throw FatalError("forget needs at least one --keep rule (it never removes everything)", ExitCode::kUsage);
  }
  UniqueFd store = open_store(open, rules);
  bool dry_run = open.flags & wire::kOpenDryRun;
  // The lock keeps a backup out while snapshots go (and waits for none: a held lock is refused).
  DestinationState state(store.get(), open.path, kWhere, DestinationState::LockOnly{});
  std::string busy;
  UniqueFd readers_out = dry_run ? UniqueFd() : lock_store_for_removal(state.state_dir(), &busy);
  if (!busy.empty()) throw FatalError("cannot forget snapshots of " + open.path + kWhere + ": " + busy);
  std::vector<std::string> ids = list_snapshots(store.get());
  std::vector<std::time_t> times;
  for (const std::string& id : ids) times.push_back(snapshot_id_time(id));
  std::vector<std::string> reasons = apply_keep_rules(times, keep);
  std::string latest = latest_target(store.get());
  std::vector<std::string> removed;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (reasons[i].empty() && ids[i] == latest) reasons[i] = "latest";
    if (reasons[i].empty()) removed.push_back(ids[i]);
  }
  ListingEnd end;
  auto on_error = [&](const std::string& message) {
    ++end.errors;
    reporter.report(MessageLevel::kError, message);
  };
  end.freed_bytes = bytes_freed_by_removing(store.get(), removed, on_error);
  for (size_t i = 0; i < ids.size(); ++i) {
    uint64_t flags = (ids[i] == latest ? SnapshotInfo::kLatest : 0) | (reasons[i].empty() ? SnapshotInfo::kRemoved : 0);
    if (reasons[i].empty() && !dry_run) {
      // Out of the store's names first, in one rename: a forget cut off halfway leaves no
      // half-removed folder that looks like a snapshot.
      std::string doomed = "forgetting-" + ids[i];
      if (::renameat(store.get(), ids[i].c_str(), state.state_dir(), doomed.c_str()) != 0) {
        on_error(errno_message("cannot remove snapshot " + ids[i], errno));
        flags &= ~SnapshotInfo::kRemoved;
        reasons[i] = "could not be removed";
      } else if (int err = remove_tree_at(state.state_dir(), doomed); err != 0) {
        on_error(errno_message("snapshot " + ids[i] + " is no longer listed, but not all of it could be removed "
                               "from .ferry-state/" + doomed, err));
      }
    }
    send(out, MsgType::kSnapshotInfo, SnapshotInfo{ids[i], flags, reasons[i], 0, 0, 0});
    ++end.count;
  }
  state.release();
  send(out, MsgType::kListingEnd, end);
}

}  // namespace

void serve_store_query(const Open& open, const Confinement& rules, FrameWriter& out, Reporter& reporter) {
  switch (open.operation) {
    case wire::Operation::kSnapshots: return list_snapshots_of(open, rules, out, reporter);
    case wire::Operation::kList: return list_entries(open, rules, out, reporter);
    case wire::Operation::kForget: return forget(open, rules, out, reporter);
    case wire::Operation::kVerify: return serve_verify(open, rules, out, reporter);
    default: FERRY_CHECK(false);
  }
}

}  // namespace ferry
