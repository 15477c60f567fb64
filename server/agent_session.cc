#include "server/agent_session.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>

#include "base/bytes.h"
#include "base/log.h"
#include "engine/receiver.h"
#include "engine/sender.h"
#include "engine/snapshot_landing.h"
#include "engine/session.h"
#include "fs/confined_root.h"
#include "fs/metadata.h"
#include "fs/snapshot_store.h"
#include "fs/tree_walker.h"
#include "platform/platform.h"
#include "seal/seal_place.h"
#include "server/store_access.h"
#include "server/store_service.h"
#include "server/stripe_rendezvous.h"
#include "transport/fd_channel.h"
#include "transport/striped_fd_channel.h"

namespace ferry {

using wire::MessageLevel;
using wire::MsgType;

namespace {

// Forwards every message to the client, which shows it on its stderr; also logs it here.
class ForwardingReporter : public Reporter {
 public:
  explicit ForwardingReporter(FrameWriter& out) : out_(out) {}
  void report(MessageLevel level, const std::string& text) override {
    spdlog::debug("{}", text);
    Encoder e;
    Message{level, text.substr(0, wire::kMaxTextBytes)}.encode(e);
    out_.send(MsgType::kMessage, e);
  }
  void from_peer(MessageLevel level, const std::string& text) override {
    spdlog::log(level == MessageLevel::kError ? spdlog::level::err : spdlog::level::warn, "client: {}", text);
  }

 private:
  FrameWriter& out_;
};

// A backup whose earlier runs went to another volume is refused before anything is created:
// most often the backup disk is not mounted, and its mount point is a plain folder on the
// system disk, which the backup would fill.
void check_volume(const Open& open, const platform::Volume& found) {
  if (open.volume_id.empty()) return;
  if (found.mount_point == open.volume_mount && found.id == open.volume_id) return;
  std::string where = found.mount_point.empty() ? "an unknown volume" : printable(found.mount_point) + " (" + printable(found.id) + ")";
  std::string text = "refused: earlier backups to " + printable(open.path) + " went to the volume mounted at " +
                     printable(open.volume_mount) + " (" + printable(open.volume_id) + "), but it is now on " + where;
  if (found.mount_point != open.volume_mount) {
    text += "; is the backup disk mounted at " + printable(open.volume_mount) + "? Mount it and run again";
  } else {
    text += "; another disk is mounted there. Mount the backup disk";
  }
  throw FatalError(text + ". If you moved the backup on purpose, run again with --accept-new-volume.");
}

// What `ferry doctor` asks: does the path exist, can we write there, as whom, how much room.
ProbeReport probe(const std::string& path) {
  ProbeReport r;
  r.euid = ::geteuid();
  timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  r.time_ns = static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
  struct stat st {};
  r.exists = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  std::string parent = path.substr(0, std::max<size_t>(1, path.rfind('/')));
  r.parent_exists = ::stat(parent.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  const std::string& there = r.exists ? path : parent;
  r.writable = ::access(there.c_str(), W_OK) == 0;
  UniqueFd there_fd(::open(there.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (there_fd.valid()) r.fs_kind = platform::file_system_kind(there_fd.get());
  struct statvfs vfs {};
  if (::statvfs(there.c_str(), &vfs) == 0) {
    r.read_only_fs = vfs.f_flag & ST_RDONLY;
    r.free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    r.total_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  }
  if (r.read_only_fs) r.writable = false;
  platform::Volume volume;
  if (platform::volume_of(path, &volume)) {
    r.volume_mount = volume.mount_point;
    r.volume_id = volume.id;
  }
  if (r.writable && there_fd.valid()) {
    std::string scratch = ".ferry-xattr-probe-" + std::to_string(::getpid());
    r.keeps_xattrs = probe_stored_metadata(there_fd.get(), scratch.c_str());
  }
  if (r.exists) {
    DestinationStatus status = read_destination_status(path);
    r.last_run = status.last_run.substr(0, wire::kMaxTextBytes);
    r.holder = status.holder.substr(0, wire::kMaxTextBytes);
  }
  return r;
}

ExitCode run_session(Channel& channel, FrameReader& in, FrameWriter& out, const AgentOptions& options) {
  ForwardingReporter reporter(out);
  Hello mine;
  mine.software_version = FERRY_VERSION;
  mine.euid = ::geteuid();
  std::string noise;
  exchange_hello(in, out, mine, "ferry-agent", "the ferry client", &noise);

  Frame f = in.next();
  if (f.type != MsgType::kOpen) throw ProtocolError(std::string("expected Open, got ") + wire::msg_type_name(f.type));
  Open open = Open::decode(f.payload);
  resolve_relative_path(&open, options.confinement);
  check_confinement(open, options.confinement);
  std::string overridden = enforce_append_only(&open, options.confinement);
  if (!overridden.empty()) reporter.report(MessageLevel::kWarning, overridden);
  channel.set_idle_timeout(std::chrono::seconds(open.timeout_s));
  channel.set_rate_limit(open.rate_limit);
  bool backup = open.operation == wire::Operation::kBackup;
  spdlog::debug("{} {}", backup ? "backup to" : "restore from", printable(open.path));

  if (open.operation == wire::Operation::kProbe) {
    Encoder report;
    probe(open.path).encode(report);
    out.send(MsgType::kProbeReport, report);
    out.flush();
    return ExitCode::kOk;
  }

  std::time_t started = ::time(nullptr);  // a snapshot's name
  if (open.operation == wire::Operation::kSnapshots || open.operation == wire::Operation::kList ||
      open.operation == wire::Operation::kForget || open.operation == wire::Operation::kVerify) {
    Encoder reply;
    Opened{false, "", ""}.encode(reply);
    out.send(MsgType::kOpened, reply);
    KeepaliveTimer keepalive(out, std::chrono::seconds(std::max(1u, std::min(15u, open.timeout_s / 4))));
    serve_store_query(open, options.confinement, out, reporter);
    out.flush();
    return ExitCode::kOk;
  }

  TransferStats stats;
  KeepaliveTimer keepalive(out, std::chrono::seconds(std::max(1u, std::min(15u, open.timeout_s / 4))));
  Encoder e;
  if (backup) {
    platform::Volume volume;
    if (!platform::volume_of(open.path, &volume)) volume = {};
    check_volume(open, volume);
    bool dry_run = open.flags & wire::kOpenDryRun;
    ReceiveFolder folder(open.path, dry_run);
    const char* where = " on the agent's machine";
    bool stand_in = folder.path() != open.path;  // a dry run into a folder that does not exist
    UniqueFd confined = stand_in ? UniqueFd() : open_confined(open, options.confinement, /*create=*/true);
    ConfinedRoot root = confined.valid() ? open_destination(std::move(confined), open.path, where)
                                         : open_destination(folder.path(), where);
    bool snapshot = open.flags & wire::kOpenSnapshot;
    if (!stand_in) {
      check_store_kind(root, snapshot);
      check_delete_into_foreign(root, open);
    }
    std::optional<DestinationState> state;
    if (!dry_run) {
      state.emplace(root.root_fd(), open.path, " on the agent's machine");
      if (int err = record_store_kind(state->state_dir(), snapshot ? StoreKind::kSnapshots : StoreKind::kMirror)) {
        throw FatalError(errno_message("cannot record what kind of destination " + open.path + " is", err));
      }
    }
    Opened{::geteuid() == 0, volume.mount_point, volume.id}.encode(e);
    out.send(MsgType::kOpened, e);
    ReceiverOptions receiving = receiver_options(open, "ferry-agent");
    // On the backup machine, what a non-root agent cannot apply is kept beside each file.
    receiving.store_metadata = !receiving.keep_owner;
    Receiver receiver(in, out, reporter, stats, receiving);
    // A sealed run (docs/SEALS.md); a single file added to a folder is not a whole tree to seal.
    bool sealed = state && (open.flags & wire::kOpenSeal) && !(open.flags & wire::kOpenSingleFile);
    std::optional<SealRecorder> seal;
    if (!snapshot) {
      MirrorLanding landing(root);
      if (sealed) seal.emplace(*state, root, kMirrorSealName, kMirrorSealName, snapshot_id_at(started), reporter);
      receiver.run(landing, state ? &*state : nullptr, seal ? &*seal : nullptr);
    } else if (state) {
      std::string warning;
      SnapshotLanding landing(root, *state, started, &warning);
      if (!warning.empty()) reporter.report(MessageLevel::kWarning, root.shown("") + ": " + warning);
      if (sealed) {
        seal.emplace(*state, landing.tree(), snapshot_seal_name(landing.id()),
                     landing.previous_id().empty() ? "" : snapshot_seal_name(landing.previous_id()), landing.id(),
                     reporter);
      }
      receiver.run(landing, &*state, seal ? &*seal : nullptr);
    } else {
      // A dry run compares with the newest snapshot (or, before the first, with nothing).
      std::string problem, warning;
      std::string latest = stand_in ? "" : resolve_snapshot(root.root_fd(), "", &problem, &warning);
      ReceiveFolder nothing(latest.empty() ? "/nonexistent/ferry-no-snapshot-yet" : open.path, /*dry_run=*/true);
      ConfinedRoot newest = latest.empty() ? open_destination(nothing.path(), where)
                                           : ConfinedRoot(open_dir_beneath(root.root_fd(), latest, false,
                                                                           root.shown(latest), where),
                                                          root.shown(latest));
      receiver.run(newest, nullptr);
    }
  } else {
    RestoreSource source = open_restore_source(open, options.confinement, reporter);
    SenderOptions sending = sender_options(open);
    sending.read_stored_metadata = true;  // the backup's files as they were sent, not as stored
    sending.only_name = source.only_name;
    if (source.seals_dir.valid()) {
      sending.sealed = std::make_shared<SealedHashes>(std::move(source.seals_dir), source.seal_name,
                                                      source.sealed_prefix);
    }
    Opened opened;
    opened.single_file = !source.only_name.empty();
    // A snapshot made with --no-seal has no seal beside its sealed neighbours: nothing to hash for.
    opened.sealed_hashes = sending.sealed && sending.sealed->exists();
    opened.encode(e);
    out.send(MsgType::kOpened, e);
    Sender(channel, in, out, reporter, stats, sending).run(source.dir.get(), open.path);
  }
  return ExitCode::kOk;
}

// The connection to the client: stdin and stdout, or with --streams, stdin and the gathered
// channels read as one stream.
std::unique_ptr<FdChannel> client_channel(const GatheredStripes& stripes) {
  if (stripes.channels.empty()) return std::make_unique<FdChannel>(STDIN_FILENO, STDOUT_FILENO, "the ferry client");
  std::vector<int> fds{STDIN_FILENO};
  for (const UniqueFd& fd : stripes.channels) fds.push_back(fd.get());
  return std::make_unique<StripedFdChannel>(std::move(fds), STDOUT_FILENO, "the ferry client");
}

}  // namespace

ExitCode serve(const AgentOptions& options) {
  GatheredStripes stripes;  // outlives the channel: closing it lets the joined processes end
  std::string not_gathered;
  ExitCode not_gathered_code = ExitCode::kOk;
  if (options.streams > 1) {
    try {
      stripes = gather_stripes(STDIN_FILENO, options.streams, kJoinLimit);
    } catch (const FatalError& error) {
      not_gathered = error.what();
      not_gathered_code = error.code();
    } catch (const std::exception& error) {
      not_gathered = std::string("cannot gather this session's channels: ") + error.what();
      not_gathered_code = ExitCode::kFatal;
    }
  }
  std::unique_ptr<FdChannel> client = client_channel(stripes);
  FdChannel& channel = *client;
  FrameReader in(channel);
  FrameWriter out(channel);
  // Whatever ends the session, the client hears why, and the exit code is one of ours: an
  // exception that is not Ferry's own (bad_alloc, a thread that could not start, a filesystem
  // error) becomes a Fatal too, never std::terminate.
  auto tell_client = [&](ExitCode code, const std::string& text) {
    spdlog::debug("fatal: {}", text);
    try {
      Encoder e;
      Fatal{static_cast<uint8_t>(code), text.substr(0, wire::kMaxTextBytes)}.encode(e);
      channel.set_idle_timeout(std::chrono::seconds(5));
      out.send(MsgType::kFatal, e);
      out.flush();
    } catch (const std::exception&) {
      spdlog::error("{}", text);  // the client is gone; leave a trace here at least
    }
    return code;
  };
  if (!not_gathered.empty()) {
    // Before any Hello: the magic first, so that the client reads the Fatal as the agent's.
    try {
      out.write_magic();
    } catch (const std::exception&) {
    }
    return tell_client(not_gathered_code, not_gathered);
  }
  try {
    return run_session(channel, in, out, options);
  } catch (const FatalError& error) {
    return tell_client(error.code(), error.what());
  } catch (const std::exception& error) {
    return tell_client(ExitCode::kFatal, std::string("ferry-agent failed: ") + error.what());
  } catch (...) {
    return tell_client(ExitCode::kFatal, "ferry-agent failed with an unknown error");
  }
}

}  // namespace ferry
