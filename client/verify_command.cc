#include "client/verify_command.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/log.h"
#include "base/plural.h"
#include "client/agent_connection.h"
#include "client/client_reporter.h"
#include "client/known_volumes.h"
#include "client/seal_roots.h"
#include "client/summary.h"
#include "engine/session.h"
#include "seal/seal_error.h"
#include "seal/seal_file.h"
#include "seal/seal_record.h"
#include "seal/seal_tree.h"

namespace ferry {

using wire::MsgType;

namespace {

// Extra entries of a seal that does not claim the whole destination are listed up to this
// many; past it they are counted.
constexpr size_t kMaxListedExtras = 1000;

struct Difference {
  std::string path;
  std::string kind;  // "changed", "missing", "extra", "unreadable"
  std::vector<std::string> what;
};

// One seal's check, fed the agent's items in order.
class SealCheck {
 public:
  void take(const VerifyItem& item) {
    switch (item.kind) {
      case VerifyItem::kSealed: return sealed(item.data);
      case VerifyItem::kFound: {
        SealRecord found = decode(item.data);
        std::vector<std::string> what = seal_differences(current(), found);
        if (found.entry.path != current().entry.path) throw ProtocolError("a found entry under another path");
        if (!what.empty()) differ("changed", std::move(what));
        return close_verdict();
      }
      case VerifyItem::kMissing: differ("missing", {}); return close_verdict();
      case VerifyItem::kUnreadable: differ("unreadable", {item.data}); return close_verdict();
      case VerifyItem::kExtra: {
        SealRecord found = decode(item.data);
        ++extras_;
        if (extra_paths_.size() < kMaxListedExtras) extra_paths_.push_back(found.entry.path);
        return;
      }
    }
  }

  // The seal's own root, from the records as they came.
  Sha256Digest root(const VerifyEnd& end) {
    try {
      return tree_.finish(end.seal_id, end.seal_flags);
    } catch (const SealFormatError& e) {
      throw SealFormatError(std::string("the seal on the backup machine is damaged: ") + e.what());
    }
  }
  uint64_t count() const { return tree_.count(); }
  std::vector<Difference>& differences() { return differences_; }
  const std::vector<std::string>& extra_paths() const { return extra_paths_; }
  uint64_t extras() const { return extras_; }

 private:
  static SealRecord decode(const std::string& body) {
    try {
      return decode_seal_record(body);
    } catch (const SealFormatError& e) {
      throw SealFormatError(std::string("the seal on the backup machine is damaged: ") + e.what());
    }
  }

  void sealed(const std::string& body) {
    SealRecord record = decode(body);
    try {
      tree_.add(record.entry.path, record.entry.type == FileType::kDirectory, seal_leaf(body));
    } catch (const SealFormatError& e) {
      throw SealFormatError(std::string("the seal on the backup machine is damaged: ") + e.what());
    }
    current_ = std::move(record);
    verdict_open_ = true;
  }

  const SealRecord& current() const {
    if (!current_ || !verdict_open_) throw ProtocolError("a verify verdict without its sealed record");
    return *current_;
  }
  void close_verdict() { verdict_open_ = false; }

  void differ(const char* kind, std::vector<std::string> what) {
    differences_.push_back({current().entry.path, kind, std::move(what)});
  }

  SealTree tree_;
  std::optional<SealRecord> current_;
  bool verdict_open_ = false;
  std::vector<Difference> differences_;
  std::vector<std::string> extra_paths_;
  uint64_t extras_ = 0;
};

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// What one seal's check concluded, and how it is said.
struct Verdict {
  std::string status;   // ok, differs, no_seal, seal_missing, seal_damaged, seal_altered
  std::string message;  // for the seal-level statuses
  bool anchored = false;  // checked against a root this computer kept
};

class VerifyRun {
 public:
  explicit VerifyRun(const VerifyRequest& request)
      : request_(request), where_(parse_location(request.destination)), far_path_(agent_path(where_)),
        key_(volume_key(where_, request.connection.port, far_path_)), roots_(default_seal_roots()) {}

  ExitCode run() {
    Open open;
    open.operation = wire::Operation::kVerify;
    open.path = far_path_;
    open.at = request_.all ? "" : request_.at;
    if (request_.all) open.flags |= wire::kOpenEverySnapshot;
    open.sample_percent = request_.sample_percent;
    open.timeout_s = static_cast<uint32_t>(request_.connection.timeout_s);
    AgentConnection agent(where_, request_.connection);
    agent.open(open, reporter_);
    bool any_failed = false;
    {
      KeepaliveTimer keepalive(agent.out(),
                               std::chrono::seconds(std::max(1, std::min(15, request_.connection.timeout_s / 4))));
      SealCheck check;
      while (true) {
        Frame f = agent.in().next();
        if (handle_common_frame(f, reporter_)) continue;
        if (f.type == MsgType::kVerifyItems) {
          Decoder d(f.payload);
          if (d.at_end()) throw ProtocolError("empty VerifyItems frame");
          while (!d.at_end()) check.take(VerifyItem::decode(d));
        } else if (f.type == MsgType::kVerifyEnd) {
          any_failed |= !conclude(check, VerifyEnd::decode(f.payload), agent.channel().bytes_read());
          check = SealCheck();
        } else if (f.type == MsgType::kListingEnd) {
          break;
        } else {
          throw ProtocolError(std::string("expected VerifyItems, got ") + wire::msg_type_name(f.type));
        }
      }
    }
    agent.finish();
    return any_failed || reporter_.peer_errors > 0 ? ExitCode::kFatal : ExitCode::kOk;
  }

 private:
  // Says what one seal's check found; false when anything is wrong.
  // `wire_bytes`: what the agent has sent so far, for --json (verify moves no file data).
  bool conclude(SealCheck& check, const VerifyEnd& end, uint64_t wire_bytes) {
    Verdict verdict = judge(check, end);
    bool complete = end.seal_flags & seal_flags::kComplete;
    auto& differences = check.differences();
    if (verdict.status == "ok" || verdict.status == "differs") {
      if (complete) {
        for (const std::string& path : check.extra_paths()) differences.push_back({path, "extra", {}});
      }
      std::sort(differences.begin(), differences.end(),
                [](const Difference& a, const Difference& b) { return a.path < b.path; });
      if (!differences.empty() || (complete && check.extras() > 0)) verdict.status = "differs";
    }
    if (request_.json) {
      nlohmann::json list = nlohmann::json::array();
      for (const Difference& d : differences) list.push_back({{"path", d.path}, {"kind", d.kind}, {"what", d.what}});
      nlohmann::json j = {{"destination", request_.destination}, {"seal", end.seal_id}, {"status", verdict.status},
                          {"anchored", verdict.anchored}, {"entries", end.stored_entries},
                          {"files_read", end.files_read}, {"bytes_read", end.bytes_read}, {"differences", list},
                          {"extra", check.extras()}, {"bytes_wire_received", wire_bytes}};
      if (!verdict.message.empty()) j["message"] = verdict.message;
      if (!end.seal_id.empty()) j["root"] = hex_of(end.stored_root);
      fmt::print("{}\n", dump(j));
    } else {
      say(check, end, verdict, complete);
    }
    return verdict.status == "ok";
  }

  Verdict judge(SealCheck& check, const VerifyEnd& end) {
    Verdict v;
    const std::string shown = printable(request_.destination);
    if (end.seal_id.empty()) {
      if (roots_.knows(key_)) {
        v.status = "seal_missing";
        v.message = "the seal on the backup machine is missing: this computer sealed backups to " + shown +
                    ", but no seal is there now (it was removed, or this is not the same backup). Run a backup to "
                    "seal it again, and find out who removed it";
      } else {
        v.status = "no_seal";
        v.message = shown + " has no seal yet: the next `ferry backup` to it seals it (unless --no-seal)";
      }
      return v;
    }
    Sha256Digest rebuilt;
    try {
      rebuilt = check.root(end);
    } catch (const SealFormatError& e) {
      v.status = "seal_damaged";
      v.message = e.what();
      return v;
    }
    if (rebuilt != end.stored_root || check.count() != end.stored_entries) {
      v.status = "seal_damaged";
      v.message = "the seal on the backup machine is damaged or was altered: its records do not give the root "
                  "stored with them";
      return v;
    }
    std::optional<RememberedSeal> remembered = roots_.find(key_, end.seal_id);
    if (remembered && remembered->root != rebuilt) {
      v.status = "seal_altered";
      v.message = "the seal on the backup machine does not match the one this computer made (seal " +
                  printable(end.seal_id) + "): it was altered there, so nothing it says can be trusted";
      return v;
    }
    v.anchored = remembered.has_value();
    if (!v.anchored && roots_.knows(key_)) {
      v.status = "seal_unknown";
      v.message = "the seal on the backup machine (" + printable(end.seal_id) + ") is not one this computer made, "
                  "though it has sealed backups to " + shown + ": it was made on another computer, or altered there. "
                  "A backup with --checksum seals every file from this computer again";
      return v;
    }
    if (!v.anchored) {
      spdlog::warn("this computer holds no record of seal {} of {} (it was made on another computer, or {} is new): "
                   "the files were checked against the backup machine's own seal alone",
                   printable(end.seal_id), shown, roots_.path());
    }
    v.status = "ok";
    return v;
  }

  void say(SealCheck& check, const VerifyEnd& end, const Verdict& verdict, bool complete) {
    if (verdict.status != "ok" && verdict.status != "differs") {
      spdlog::error("{}", verdict.message);
      return;
    }
    for (const Difference& d : check.differences()) {
      std::string what;
      for (const std::string& w : d.what) what += (what.empty() ? ": " : ", ") + w;
      fmt::print("{:<10} {}{}\n", d.kind, printable(d.path), what);
    }
    if (!complete && check.extras() > 0) {
      fmt::print("{} not covered by the seal (kept from earlier runs without --delete, or excluded by filters)\n",
                 counted(check.extras(), "entry", "entries"));
    }
    std::string read = request_.sample_percent < 100
                           ? fmt::format("{} of {} read, a {}% sample", counted(end.files_read, "file"),
                                         human_bytes(end.bytes_read), request_.sample_percent)
                           : fmt::format("{} read, {}", counted(end.files_read, "file"), human_bytes(end.bytes_read));
    if (verdict.status == "ok") {
      fmt::print("{}: {} match seal {} ({})\n", printable(request_.destination), counted(end.stored_entries, "entry", "entries"),
                 printable(end.seal_id), read);
    } else {
      fmt::print("{}: {} from seal {} ({})\n", printable(request_.destination),
                 counted(check.differences().size(), "entry differs", "entries differ"),
                 printable(end.seal_id), read);
    }
  }

  const VerifyRequest& request_;
  Location where_;
  std::string far_path_;
  std::string key_;
  SealRoots roots_;
  ClientReporter reporter_;
};

}  // namespace

ExitCode run_verify(const VerifyRequest& request) { return VerifyRun(request).run(); }

}  // namespace ferry
