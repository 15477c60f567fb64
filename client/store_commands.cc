#include "client/store_commands.h"

#include <fmt/core.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>

#include "base/bytes.h"
#include "base/log.h"
#include "client/agent_connection.h"
#include "client/client_reporter.h"
#include "client/summary.h"
#include "engine/session.h"
#include "fs/snapshot_store.h"

namespace ferry {

using wire::MsgType;

namespace {

// Asks the agent `open` and hands each answer frame (SnapshotInfo or Entry) to `each` until
// ListingEnd, which it returns.
ListingEnd ask(const StoreQuery& query, Open open, MsgType answer, const std::function<void(const Frame&)>& each,
               ClientReporter& reporter) {
  Location where = parse_location(query.destination);
  open.path = agent_path(where);
  open.timeout_s = static_cast<uint32_t>(query.connection.timeout_s);
  AgentConnection agent(where, query.connection);
  agent.open(open, reporter);
  ListingEnd end;
  {
    KeepaliveTimer keepalive(agent.out(), std::chrono::seconds(std::max(1, std::min(15, query.connection.timeout_s / 4))));
    while (true) {
      Frame f = agent.in().next();
      if (handle_common_frame(f, reporter)) continue;
      if (f.type == MsgType::kListingEnd) {
        end = ListingEnd::decode(f.payload);
        break;
      }
      if (f.type != answer) {
        throw ProtocolError(std::string("expected ") + wire::msg_type_name(answer) + ", got " +
                            wire::msg_type_name(f.type));
      }
      each(f);
    }
  }
  agent.finish();
  return end;
}

// "2026-12-02 04:15:00" in local time for people; "2026-12-02T03:15:00Z" for --json.
std::string time_text(std::time_t t, bool utc) {
  std::tm fields {};
  if (utc) ::gmtime_r(&t, &fields);
  else ::localtime_r(&t, &fields);
  char text[32];
  std::strftime(text, sizeof text, utc ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &fields);
  return text;
}
std::string local_time_of(std::time_t t) { return time_text(t, false); }
std::string utc_time_of(std::time_t t) { return time_text(t, true); }

ExitCode exit_for(const ListingEnd& end, const ClientReporter& reporter) {
  return end.errors > 0 || reporter.peer_errors > 0 ? ExitCode::kPartial : ExitCode::kOk;
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace

ExitCode show_snapshots(const StoreQuery& query) {
  ClientReporter reporter;
  Open open;
  open.operation = wire::Operation::kSnapshots;
  nlohmann::json all = nlohmann::json::array();
  auto header = [&, printed = false]() mutable {
    if (!printed && !query.json) fmt::print("{:<24} {:<19} {:>9} {:>10} {:>10}\n", "ID", "TIME", "ENTRIES", "SIZE", "OWN");
    printed = true;
  };
  ListingEnd end = ask(query, open, MsgType::kSnapshotInfo, [&](const Frame& f) {
    SnapshotInfo info = SnapshotInfo::decode(f.payload);
    if (!is_snapshot_id(info.id)) throw ProtocolError("SnapshotInfo names \"" + printable(info.id) + "\", not a snapshot");
    std::time_t t = snapshot_id_time(info.id);
    bool latest = info.flags & SnapshotInfo::kLatest;
    header();
    if (query.json) {
      all.push_back({{"id", info.id}, {"time", utc_time_of(t)}, {"latest", latest}, {"entries", info.entries},
                     {"bytes", info.bytes}, {"own_bytes", info.own_bytes}});
    } else {
      fmt::print("{:<24} {:<19} {:>9} {:>10} {:>10}{}\n", info.id, local_time_of(t), info.entries,
                 human_bytes(info.bytes), human_bytes(info.own_bytes), latest ? "  (latest)" : "");
    }
  }, reporter);
  if (query.json) fmt::print("{}\n", dump(all));
  else if (end.count == 0) fmt::print("(no snapshots yet)\n");
  return exit_for(end, reporter);
}

ExitCode list_entries(const StoreQuery& query, const std::string& at) {
  ClientReporter reporter;
  Open open;
  open.operation = wire::Operation::kList;
  open.at = at;
  EntryDecoder codec;
  ListingEnd end = ask(query, open, MsgType::kEntry, [&](const Frame& f) {
    Decoder d(f.payload);
    if (d.at_end()) throw ProtocolError("empty Entry frame");
    while (!d.at_end()) {
      FileEntry entry = codec.decode(d);
      if (entry.path.empty()) continue;  // the root
      std::string path = printable(entry.path) + (entry.type == FileType::kDirectory ? "/" : "");
      if (query.json) {
        fmt::print("{}\n", dump({{"path", entry.path}, {"type", file_type_name(entry.type)}, {"size", entry.size},
                                 {"mtime", utc_time_of(entry.mtime_sec)}, {"mode", fmt::format("{:04o}", entry.mode & 07777)},
                                 {"uid", entry.uid}, {"gid", entry.gid}}));
      } else {
        fmt::print("{}\t{}\t{}\t{}\t{:04o}\n", path, file_type_name(entry.type), entry.size,
                   local_time_of(entry.mtime_sec), entry.mode & 07777);
      }
    }
  }, reporter);
  return exit_for(end, reporter);
}

ExitCode forget_snapshots(const StoreQuery& query, const KeepRules& rules, bool dry_run) {
  if (!rules.any()) {
    throw FatalError("forget needs at least one --keep rule (--keep-last, --keep-daily, …): it never removes every "
                     "snapshot",
                     ExitCode::kUsage);
  }
  ClientReporter reporter;
  Open open;
  open.operation = wire::Operation::kForget;
  open.keep = rules.serialize();
  if (dry_run) open.flags |= wire::kOpenDryRun;
  nlohmann::json kept = nlohmann::json::array(), removed = nlohmann::json::array();
  ListingEnd end = ask(query, open, MsgType::kSnapshotInfo, [&](const Frame& f) {
    SnapshotInfo info = SnapshotInfo::decode(f.payload);
    if (!is_snapshot_id(info.id)) throw ProtocolError("SnapshotInfo names \"" + printable(info.id) + "\", not a snapshot");
    bool gone = info.flags & SnapshotInfo::kRemoved;
    if (query.json) {
      if (gone) removed.push_back(info.id);
      else kept.push_back({{"id", info.id}, {"reasons", info.reasons}});
    } else if (gone) {
      fmt::print("{} {}\n", dry_run ? "would remove" : "removed     ", info.id);
    } else {
      fmt::print("{} {}  ({})\n", dry_run ? "would keep  " : "kept        ", info.id, printable(info.reasons));
    }
  }, reporter);
  if (query.json) {
    fmt::print("{}\n", dump({{"dry_run", dry_run}, {"kept", kept}, {"removed", removed}, {"freed_bytes", end.freed_bytes}}));
  } else {
    fmt::print("{} {} of data\n", dry_run ? "would free" : "freed", human_bytes(end.freed_bytes));
  }
  return exit_for(end, reporter);
}

}  // namespace ferry
