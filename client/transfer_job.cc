#include "client/transfer_job.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>

#include "base/bytes.h"
#include "base/log.h"
#include "base/plural.h"
#include "client/agent_connection.h"
#include "client/client_reporter.h"
#include "client/ferry_home.h"
#include "client/known_volumes.h"
#include "client/seal_roots.h"
#include "client/remote_spec.h"
#include "client/progress.h"
#include "client/summary.h"
#include "engine/receiver.h"
#include "engine/sender.h"
#include "engine/session.h"
#include "fs/confined_root.h"

namespace ferry {

using wire::MessageLevel;
using wire::MsgType;

namespace {

// A destination inside its source would take in each run's copy with the next one; a source
// inside its destination would be copied over itself (and --delete would empty the rest of the
// destination). Both are refused on one machine, unless the filters leave the destination out
// of the source (rsync's habit: `--exclude /backup` in a backup of /).
void refuse_nested(const std::string& src_shown, const std::string& dst_shown, const std::string& src_path,
                   const std::string& dst_path, const FilterRules& filters) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path src = fs::weakly_canonical(src_path, ec);
  if (ec) return;
  fs::path dst = fs::weakly_canonical(dst_path, ec);
  if (ec) return;
  auto inside = [](const fs::path& inner, const fs::path& outer) {
    auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
    return o == outer.end();
  };
  if (src == dst) {
    throw FatalError(src_shown + " and " + dst_shown + " are the same folder: choose another destination",
                     ExitCode::kUsage);
  }
  if (inside(dst, src)) {
    std::string rel = dst.lexically_relative(src).generic_string();
    if (filters.excluded(rel, true)) return;
    throw FatalError("the destination " + dst_shown + " is inside the source " + src_shown +
                         ": each run would copy the earlier copies again. Choose a destination outside the source, "
                         "or leave it out with --exclude /" + rel,
                     ExitCode::kUsage);
  }
  if (inside(src, dst)) {
    throw FatalError("the source " + src_shown + " is inside the destination " + dst_shown +
                         ": it would be copied over itself, and --delete would remove everything else there. Choose "
                         "a destination outside the source",
                     ExitCode::kUsage);
  }
}

}  // namespace

std::string parse_safety_net_keep(std::string_view text, uint64_t* seconds, uint64_t* bytes) {
  std::string bad = "not an age or a size: \"" + std::string(text) + "\" (use e.g. 30d, 12h, 2w, or 50G, 500M)";
  std::string_view s = text;
  if (s.ends_with("iB")) s.remove_suffix(2);
  else if (s.ends_with('B')) s.remove_suffix(1);
  if (s.size() < 2) return bad;
  char unit = s.back();
  s.remove_suffix(1);
  std::string number(s);
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !(value > 0) || value > 1e15) return bad;
  double hour = 3600, kib = 1024;
  switch (unit) {
    case 'h': *seconds = static_cast<uint64_t>(value * hour); return "";
    case 'd': *seconds = static_cast<uint64_t>(value * 24 * hour); return "";
    case 'w': *seconds = static_cast<uint64_t>(value * 7 * 24 * hour); return "";
    case 'K': case 'k': *bytes = static_cast<uint64_t>(value * kib); return "";
    case 'M': case 'm': *bytes = static_cast<uint64_t>(value * kib * kib); return "";
    case 'G': case 'g': *bytes = static_cast<uint64_t>(value * kib * kib * kib); return "";
    case 'T': case 't': *bytes = static_cast<uint64_t>(value * kib * kib * kib * kib); return "";
    default: return bad;
  }
}

SshOptions ssh_options_for(const Location& where, const TransferOptions& options) {
  SshOptions ssh;
  ssh.host = where.host;
  ssh.user = where.user;
  ssh.port = where.port != 0 ? where.port : options.port != 0 ? options.port : 22;
  if (!options.identity.empty()) {
    ssh.identities = {options.identity};
  } else {
    std::string host_port = ssh.host + ":" + std::to_string(ssh.port);
    ssh.identities = candidate_identities(remembered_identity(host_port));
    ssh.remember_identity = true;
    ssh.use_ssh_agent = true;  // as ssh: the agent's keys, then the files
  }
  ssh.known_hosts = options.known_hosts.empty() ? default_known_hosts() : options.known_hosts;
  ssh.accept_new_host_key = options.accept_new_host_key;
  ssh.host_fingerprint = options.host_fingerprint;
  ssh.verbosity = options.verbosity;
  return ssh;
}

namespace {

// What a run has done so far, kept outside it: a run that stops early still reports it.
struct Tally {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  TransferStats stats;
  uint64_t wire_sent = 0;
  uint64_t wire_received = 0;
};

// Notes the channel's byte counts when the run leaves, by return or by a throw, before the
// connection (and its counts) go away.
class WireCounts {
 public:
  WireCounts(const Channel& channel, Tally* tally) : channel_(channel), tally_(tally) {}
  ~WireCounts() {
    tally_->wire_sent = channel_.bytes_written();
    tally_->wire_received = channel_.bytes_read();
  }
  WireCounts(const WireCounts&) = delete;
  WireCounts& operator=(const WireCounts&) = delete;

 private:
  const Channel& channel_;
  Tally* tally_;
};

// Keeps the root of a backup's seal: what `ferry verify` checks the backup machine's copy of
// the seal against. Losing it loses no data, so a failure here is a warning. Returns false when
// the seal this one built on is not one this computer made: the files this run did not send
// were sealed with that seal's hashes, which may have been rewritten to hide a change.
bool remember_seal(const std::string& key, const std::string& shown, const Done& done, bool every_file_read) {
  bool chain_holds = true;
  try {
    SealRoots roots(default_seal_roots());
    // A --checksum run sealed every file from the source: it needs no chain.
    if (!every_file_read && !done.previous_seal_id.empty() && roots.knows(key)) {
      std::optional<RememberedSeal> before = roots.find(key, done.previous_seal_id);
      if (!before || before->root != done.previous_seal_root) {
        chain_holds = false;
        spdlog::error("the seal this backup built on ({}) is not one this computer made, or was altered on the "
                      "backup machine: the files this run did not send were sealed with the hashes it holds. Run "
                      "a backup with --checksum to seal every file from this computer again (and send those that "
                      "differ); until then this seal is not recorded as this computer's",
                      printable(done.previous_seal_id));
        return false;
      }
    }
    // A mirror that did not change keeps its seal: nothing new to remember.
    std::optional<RememberedSeal> known = roots.find(key, done.seal_id);
    if (known && known->root == done.seal_root) return chain_holds;
    roots.remember(key, done.seal_id, done.seal_root, done.seal_entries);
  } catch (const FatalError& unwritable) {
    spdlog::warn("{}; `ferry verify` will check {} against the backup machine's own seal only", unwritable.what(),
                 printable(shown));
  }
  return chain_holds;
}

ExitCode transfer(Direction direction, const std::string& source, const std::string& destination,
                  const TransferOptions& options, Tally* tally) {
  auto start = tally->start;
  bool backup = direction == Direction::kBackup;
  Location src = parse_location(source);
  Location dst = parse_location(destination);
  if (backup && src.remote) throw FatalError("backup copies a local folder: SRC must be a local path", ExitCode::kUsage);
  if (!backup && dst.remote) throw FatalError("restore writes to a local folder: DEST must be a local path", ExitCode::kUsage);
  const Location& far = backup ? dst : src;
  std::string near_path = backup ? src.path : dst.path;
  // A single file backed up is added to DEST (a folder), as `rsync FILE host:DIR/` does: the
  // sender lists only that name of the folder it is in, and the receiver leaves DEST's other
  // entries and its own metadata alone.
  std::string single_file;
  if (backup) {
    struct stat st {};
    if (::stat(near_path.c_str(), &st) != 0) throw FatalError("source " + near_path + " does not exist");
    if (S_ISREG(st.st_mode)) {
      if (options.delete_extraneous || options.snapshot) {
        throw FatalError(std::string("a single file is added to DEST: ") +
                             (options.snapshot ? "--snapshot" : "--delete") +
                             " needs a folder as the source (back up the folder it is in, with a filter)",
                         ExitCode::kUsage);
      }
      std::filesystem::path file = std::filesystem::absolute(near_path);
      single_file = file.filename().string();
      near_path = file.parent_path().string();
    } else if (!S_ISDIR(st.st_mode)) {
      throw FatalError("source " + near_path + " is neither a folder nor a regular file");
    }
  }

  std::string far_path = agent_path(far);

  if (!far.remote) refuse_nested(src.display(), dst.display(), backup ? near_path : far_path,
                                 backup ? far_path : near_path, options.filters);

  AgentConnection agent(far, options);
  Channel& channel = agent.channel();
  FrameReader& in = agent.in();
  FrameWriter& out = agent.out();
  const Hello& theirs = agent.theirs();
  ClientReporter reporter(options.dry_run && !options.json && options.verbosity >= 0);
  TransferStats& stats = tally->stats;
  WireCounts counted_wire(channel, tally);

  Open open;
  open.operation = backup ? wire::Operation::kBackup : wire::Operation::kRestore;
  open.path = far_path;
  open.flags = (options.dry_run ? wire::kOpenDryRun : 0) | (options.checksum ? wire::kOpenChecksum : 0) |
               (options.no_sync ? wire::kOpenNoSync : 0);
  if (options.delete_extraneous) open.flags |= wire::kOpenDelete;
  if (options.force && options.delete_extraneous) open.flags |= wire::kOpenForce;
  if (!single_file.empty()) open.flags |= wire::kOpenSingleFile;
  if (backup && !options.no_seal && single_file.empty()) open.flags |= wire::kOpenSeal;
  if (options.delete_excluded && options.delete_extraneous) open.flags |= wire::kOpenDeleteExcluded;
  if (backup && options.snapshot) {
    // A snapshot is the source exactly, and the older snapshots are its safety net.
    open.flags |= wire::kOpenSnapshot;
  } else if ((options.delete_extraneous && !options.no_safety_net) || options.safety_net ||
             (!backup && !options.no_safety_net)) {
    // The safety net comes with --delete and with every restore unless turned off, and can be
    // had without them: a restore into a folder with files never loses a newer local version.
    open.flags |= wire::kOpenSafetyNet;
    open.safety_net_keep_s = options.safety_net_keep_s;
    open.safety_net_keep_bytes = options.safety_net_keep_bytes;
  }
  open.filters = options.filters.serialize();
  if (!backup) open.at = options.at;
  open.timeout_s = static_cast<uint32_t>(options.timeout_s);
  open.rate_limit = options.rate_limit;
  channel.set_rate_limit(options.rate_limit);
  if (!options.compress.empty()) {
    if (theirs.capabilities & wire::kCapZstd) {
      open.flags |= wire::kOpenCompress | (options.compress == "auto" ? wire::kOpenCompressAuto : 0);
      open.compress_level = options.compress_level;
      open.skip_compress = options.skip_compress_set ? options.skip_compress : SkipCompressList().to_string();
    } else {
      spdlog::warn("{} cannot compress (version {}): sending uncompressed", agent.peer_name(),
                   printable(theirs.software_version));
    }
  }
  // Which volume earlier backups to this destination went to: the agent refuses another.
  KnownVolumes volumes(options.known_volumes.empty() ? default_known_volumes() : options.known_volumes);
  const std::string key = volume_key(far, options.port, far_path);
  std::optional<platform::Volume> known = backup ? volumes.find(key) : std::nullopt;
  if (known && !options.accept_new_volume) {
    open.volume_mount = known->mount_point;
    open.volume_id = known->id;
  }
  Opened opened = agent.open(open, reporter);
  platform::Volume now{opened.volume_mount, opened.volume_id};
  if (backup && !options.dry_run && !now.id.empty() && known != now) {
    try {
      volumes.remember(key, now);
      if (known) spdlog::warn("{} is now on the volume mounted at {}; later backups will expect it there",
                              printable(dst.display()), printable(now.mount_point));
    } catch (const FatalError& unwritable) {
      spdlog::warn("{}; the volume of {} is not remembered, so a missing backup disk will not be noticed",
                   unwritable.what(), printable(dst.display()));
    }
  }

  Summary summary;
  summary.operation = backup ? "backup" : "restore";
  summary.source = src.display();
  summary.destination = dst.display();
  summary.dry_run = options.dry_run;
  {
    KeepaliveTimer keepalive(out, std::chrono::seconds(std::max(1, std::min(15, options.timeout_s / 4))));
    Progress progress(stats, options.progress, options.json_progress);
    if (backup) {
      SenderOptions sending = sender_options(open);
      sending.only_name = single_file;
      Done done = Sender(channel, in, out, reporter, stats, sending).run(near_path);
      summary.take(done);
      if (!done.seal_id.empty() && !remember_seal(key, dst.display(), done, options.checksum)) ++stats.errors;
    } else {
      ReceiveFolder folder(near_path, options.dry_run);
      ConfinedRoot root = open_destination(folder.path(), "");
      std::optional<DestinationState> state;
      if (!options.dry_run) state.emplace(root.root_fd(), near_path, "");
      ReceiverOptions receiving = receiver_options(open, "ferry");
      receiving.check_sealed_hashes = opened.sealed_hashes;
      if (opened.single_file) {
        // One file into LOCAL: the folder it was in is not LOCAL, and nothing else there is
        // the restore's to delete.
        receiving.leave_root_alone = true;
        receiving.delete_extraneous = false;
      }
      summary.take(Receiver(in, out, reporter, stats, receiving).run(root, state ? &*state : nullptr));
      // A finished restore leaves nothing of Ferry's among the user's files (a cut-off one
      // keeps .ferry-state, to resume from).
      if (state) state->remove_if_bare(root.root_fd());
    }
  }
  summary.bytes_wire_sent = channel.bytes_written();
  summary.bytes_wire_received = channel.bytes_read();
  int agent_status = agent.finish();
  if (agent_status > 0) spdlog::debug("the agent exited with status {}", agent_status);

  summary.files_total = stats.files_total;
  summary.bytes_total = stats.bytes_total;
  summary.errors = stats.errors + reporter.peer_errors;
  summary.vanished = stats.vanished;
  summary.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ExitCode code = summary.errors > 0     ? ExitCode::kPartial
                  : summary.vanished > 0 ? ExitCode::kVanished
                                         : ExitCode::kOk;
  summary.exit_code = static_cast<int>(code);
  if (options.json) print_json(summary);
  else if (options.stats) print_stats(summary);
  if (code == ExitCode::kPartial) {
    // Most errors cost a file, some only part of it (an owner it could not be given, attributes
    // it could not carry): the message names each; this line must not say more than they do.
    spdlog::error("{} finished with {}: the files named above were not copied, or not wholly; the rest were",
                  summary.operation, counted(summary.errors, "error"));
  } else if (code == ExitCode::kVanished) {
    spdlog::warn("{} finished, but {} vanished or kept changing while read (named above): everything "
                 "else was copied",
                 summary.operation, counted(summary.vanished, "file"));
  }
  return code;
}

}  // namespace

ExitCode run_transfer(Direction direction, const std::string& source, const std::string& destination,
                      const TransferOptions& options) {
  Tally tally;
  try {
    return transfer(direction, source, destination, options, &tally);
  } catch (const FatalError& e) {
    if (!options.json) throw;
    const TransferStats& stats = tally.stats;
    Summary summary;
    summary.operation = direction == Direction::kBackup ? "backup" : "restore";
    summary.source = source;
    summary.destination = destination;
    summary.dry_run = options.dry_run;
    summary.files_total = stats.files_total;
    summary.files_transferred = stats.files_transferred;
    summary.bytes_total = stats.bytes_total;
    summary.bytes_literal = stats.bytes_literal;
    summary.bytes_matched = stats.bytes_matched;
    summary.bytes_compressed_raw = stats.bytes_compressed_raw;
    summary.bytes_compressed_wire = stats.bytes_compressed_wire;
    summary.errors = stats.errors;
    summary.vanished = stats.vanished;
    summary.deleted = stats.deleted;
    summary.kept_in_safety_net = stats.kept_in_safety_net;
    summary.bytes_wire_sent = tally.wire_sent;
    summary.bytes_wire_received = tally.wire_received;
    summary.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - tally.start).count();
    summary.exit_code = static_cast<int>(e.code());
    summary.error = e.what();
    print_json(summary);
    throw SummarizedError(e.what(), e.code());
  }
}

}  // namespace ferry
