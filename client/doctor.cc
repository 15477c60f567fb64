#include "client/doctor.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "base/bytes.h"
#include "base/log.h"
#include "client/agent_link.h"
#include "client/known_volumes.h"
#include "client/remote_spec.h"
#include "client/summary.h"
#include "engine/session.h"
#include "fs/dest_state.h"
#include "fs/unique_fd.h"
#include "engine/framing.h"
#include "platform/platform.h"

namespace ferry {

using wire::MsgType;

namespace {

enum class Mark { kPass, kWarn, kFail };

struct Step {
  std::string name;
  Mark mark;
  std::string detail;
  std::string fix;
};

class Report {
 public:
  explicit Report(bool json) : json_(json) {}
  void pass(const std::string& name, const std::string& detail) { add({name, Mark::kPass, detail, ""}); }
  void warn(const std::string& name, const std::string& detail, const std::string& fix) {
    add({name, Mark::kWarn, detail, fix});
  }
  void fail(const std::string& name, const std::string& detail, const std::string& fix) {
    add({name, Mark::kFail, detail, fix});
  }
  bool failed() const { return failed_; }

  void print_json(const std::string& destination) const {
    nlohmann::json steps = nlohmann::json::array();
    for (const Step& s : steps_) {
      const char* mark = s.mark == Mark::kPass ? "pass" : s.mark == Mark::kWarn ? "warn" : "fail";
      nlohmann::json j = {{"step", s.name}, {"result", mark}, {"detail", s.detail}};
      if (!s.fix.empty()) j["fix"] = s.fix;
      steps.push_back(j);
    }
    nlohmann::json out = {{"destination", destination}, {"ok", !failed_}, {"steps", steps}};
    fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

 private:
  void add(Step step) {
    if (step.mark == Mark::kFail) failed_ = true;
    if (!json_) {
      const char* mark = step.mark == Mark::kPass ? "ok  " : step.mark == Mark::kWarn ? "warn" : "FAIL";
      fmt::print("[{}] {}: {}\n", mark, step.name, terminal_safe(step.detail));
      if (!step.fix.empty()) fmt::print("       fix: {}\n", terminal_safe(step.fix));
      std::fflush(stdout);
    }
    steps_.push_back(std::move(step));
  }

  bool json_;
  bool failed_ = false;
  std::vector<Step> steps_;
};

constexpr int kNetworkTimeoutMs = 5000;

// Name resolution, TCP connect and the SSH banner, checked by hand so that each failure is
// named precisely (libssh reports them all as "cannot connect").
bool check_network(const std::string& host, int port, Report& report) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    report.fail("name resolution", "cannot resolve " + host + ": " + ::gai_strerror(rc),
                "check the host name's spelling, or use its IP address; check your DNS or /etc/hosts");
    return false;
  }
  char address[NI_MAXHOST] = "?";
  ::getnameinfo(found->ai_addr, found->ai_addrlen, address, sizeof(address), nullptr, 0, NI_NUMERICHOST);
  report.pass("name resolution", host + " is " + address);

  UniqueFd fd(platform::stream_socket(found->ai_family, /*nonblocking=*/true));
  int err = ::connect(fd.get(), found->ai_addr, found->ai_addrlen) == 0 ? 0 : errno;
  ::freeaddrinfo(found);
  if (err == EINPROGRESS) {
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, kNetworkTimeoutMs) <= 0) {
      err = ETIMEDOUT;
    } else {
      socklen_t len = sizeof(err);
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    }
  }
  std::string where = std::string(address) + " port " + service;
  if (err == ECONNREFUSED) {
    report.fail("TCP connection", "nothing accepts connections on " + where + " (connection refused)",
                "start sshd on that machine (on a Mac: System Settings > General > Sharing > Remote Login), "
                "or give the right port with --port");
    return false;
  }
  if (err == ETIMEDOUT) {
    report.fail("TCP connection", "no answer from " + where + " within 5 s",
                "check that the machine is up and that a firewall lets port " + service + " through");
    return false;
  }
  if (err != 0) {
    report.fail("TCP connection", "cannot connect to " + where + ": " + std::strerror(err),
                "check the network path to the machine");
    return false;
  }
  report.pass("TCP connection", "connected to " + where);

  // The server speaks first: "SSH-2.0-<software>\r\n".
  std::string banner;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kNetworkTimeoutMs);
  while (banner.find('\n') == std::string::npos && banner.size() < 256) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now()).count());
    pollfd p{fd.get(), POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, left) <= 0) break;
    char buf[256];
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n <= 0) break;
    banner.append(buf, static_cast<size_t>(n));
  }
  std::string first_line = banner.substr(0, banner.find_first_of("\r\n"));
  if (first_line.starts_with("SSH-2.0-") || first_line.starts_with("SSH-1.99-")) {
    report.pass("SSH server", printable(first_line));
    return true;
  }
  if (banner.empty()) {
    report.fail("SSH server", "the server on " + where + " sent nothing, or closed the connection, instead of an SSH banner",
                "check that this port is sshd's; a connection limit (MaxStartups) or TCP wrappers can also do this");
  } else {
    report.fail("SSH server", "what answers on " + where + " is not an SSH server; it said: \"" +
                printable(first_line.substr(0, 60)) + "\"",
                "check the port (--port): something else listens there");
  }
  return false;
}

std::string seconds_text(double s) { return fmt::format("{:.1f} s", s); }

// What the destination's own state says: a run going on now, or how the last one ended.
void check_last_run(const ProbeReport& r, const std::string& path, Report& report) {
  if (!r.holder.empty()) {
    report.warn("last run", "a run is writing to " + path + " right now (pid " + state_field(r.holder, "pid") + " on " +
                                state_field(r.holder, "host") + ", started " + state_field(r.holder, "started") + ")",
                "wait for it to finish: a second run into the same folder is refused");
  } else if (state_field(r.last_run, "state") == "running") {
    report.warn("last run", "the last run into " + path + " did not finish (started " +
                                state_field(r.last_run, "started") + " by pid " + state_field(r.last_run, "pid") + " on " +
                                state_field(r.last_run, "host") + ")",
                "run the backup again: it completes the folder and resumes large files that were cut off");
  } else if (state_field(r.last_run, "state") == "finished") {
    std::string errors = state_field(r.last_run, "errors");
    std::string when = "the last run into " + path + " finished at " + state_field(r.last_run, "finished") + " (" +
                       state_field(r.last_run, "files") + " files copied";
    if (errors.empty() || errors == "0") {
      report.pass("last run", when + ")");
    } else {
      report.warn("last run", when + ", " + errors + " errors)",
                  "see that run's messages for the files it could not copy, fix them, and run again");
    }
  } else {
    report.pass("last run", "no Ferry run has finished into " + path + " yet");
  }
}

// Is the destination on the volume earlier backups from this computer went to? A backup disk
// that is not mounted leaves a plain folder on the system disk under its mount point.
void check_volume(const ProbeReport& r, const std::optional<platform::Volume>& known, const std::string& path,
                  Report& report) {
  std::string now = printable(r.volume_mount) + " (" + printable(r.volume_id) + ")";
  if (r.volume_id.empty()) return;
  if (!known) {
    report.pass("volume", path + " is on the volume mounted at " + now +
                              "; no backup from this computer has gone there yet, the next one records it");
  } else if (known->mount_point == r.volume_mount && known->id == r.volume_id) {
    report.pass("volume", path + " is on the volume mounted at " + now + ", where earlier backups went");
  } else {
    report.fail("volume",
                "earlier backups to " + path + " went to the volume mounted at " + printable(known->mount_point) +
                    " (" + printable(known->id) + "), but it is now on " + now,
                "mount the backup disk at " + printable(known->mount_point) +
                    "; if you moved the backup on purpose, back up once with --accept-new-volume");
  }
}

void check_probe(const ProbeReport& r, double skew_s, const std::string& path, Report& report) {
  if (r.exists && r.writable) {
    report.pass("destination", path + " exists and the agent can write to it");
  } else if (r.read_only_fs) {
    report.fail("destination", path + " is on a read-only file system",
                "remount it read-write, or choose a destination on another file system");
  } else if (!r.exists && !r.parent_exists) {
    report.fail("destination", path + " does not exist, nor does its parent folder",
                "create the parent folder on that machine first (Ferry creates only the last component)");
  } else if (!r.writable) {
    report.fail("destination", (r.exists ? path : "the parent of " + path) + " is not writable by the agent (uid " +
                                   std::to_string(r.euid) + ")",
                "give that user write access, or log in as a user who has it");
  } else {
    report.pass("destination", path + " does not exist yet; it will be created");
  }
  if (r.euid == 0) {
    report.pass("ownership", "owners kept by the file system: the agent runs as root");
  } else if (!r.writable) {
    // The destination step above already says why; whether attributes work cannot be tried.
  } else if (r.keeps_xattrs) {
    report.pass("ownership", "owners kept in extended attributes: the agent runs as uid " + std::to_string(r.euid) +
                                 ", and keeps owners, setuid bits and devices in user.ferry.meta, which a restore "
                                 "as root gives back");
  } else {
    report.warn("ownership", "owners cannot be kept: the agent runs as uid " + std::to_string(r.euid) +
                                 " and " + path + " is on a file system without extended attributes",
                "put the backup on a file system that has them (ext4, XFS, btrfs, APFS), or log in as root with a "
                "key restricted to Ferry (ferry-agent install-credentials --user root, and PermitRootLogin "
                "forced-commands-only in sshd_config)");
  }
  if (std::abs(skew_s) > 5) {
    report.warn("clock", "the clocks of the two machines differ by " + seconds_text(skew_s),
                "turn on network time (NTP) on both; Ferry copies times exactly, but a skewed clock makes "
                "\"newest\" misleading and may confuse other tools");
  } else {
    report.pass("clock", "the clocks agree within " + seconds_text(std::abs(skew_s)));
  }
  if (r.fs_kind == "fuse") {
    report.warn("file system", path + " is on a FUSE file system (sshfs, GlusterFS, ceph-fuse, s3fs…), where a "
                "batched flush reaches nothing: each file is flushed on its own before it is put in place, which is "
                "slower", "back up to a local file system on that machine if you can");
  } else if (!r.fs_kind.empty()) {
    report.pass("file system", r.fs_kind);
  }
  check_last_run(r, path, report);
  std::string space = human_bytes(r.free_bytes) + " free of " + human_bytes(r.total_bytes);
  if (r.total_bytes > 0 && (r.free_bytes < (uint64_t{1} << 30) || r.free_bytes * 20 < r.total_bytes)) {
    report.warn("free space", "only " + space + " at the destination", "free some space, or back up elsewhere");
  } else {
    report.pass("free space", space);
  }
}

int64_t now_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// Which SSH stage was under way when a ConnectionError came, from the stages that passed.
std::string failed_stage(const std::string& last_passed) {
  if (last_passed.empty()) return "SSH handshake";
  if (last_passed == "connected") return "host key";
  if (last_passed == "host key") return "authentication";
  return "agent";
}

std::string fix_for(const std::string& stage) {
  if (stage == "host key") {
    return "if the fingerprint is the one that machine shows (ferry-agent install-credentials prints it), "
           "run again with --host-fingerprint SHA256:...; a changed key may mean an attack: find out why first";
  }
  if (stage == "authentication") {
    return "install this key there (ferry keys create, then ferry-agent install-credentials on that machine), "
           "check the user name, and for root set PermitRootLogin forced-commands-only in sshd_config";
  }
  if (stage == "agent") {
    return "install ferry-agent on that machine, on the PATH that sshd gives, or name it with --agent /path/to/ferry-agent";
  }
  return "check the SSH server's log on that machine";
}

}  // namespace

ExitCode run_doctor(const std::string& destination, const TransferOptions& options, bool json) {
  Report report(json);
  Location where = parse_location(destination);
  std::unique_ptr<AgentLink> link;
  std::string last_stage;
  if (where.remote) {
    SshOptions ssh = ssh_options_for(where, options);
    if (!check_network(where.host, ssh.port, report)) {
      if (json) report.print_json(destination);
      return ExitCode::kConnection;
    }
    ssh.on_stage = [&](const std::string& stage, const std::string& detail) {
      last_stage = stage;
      if (stage == "host key") report.pass("host key", "known (checked against " + ssh.known_hosts + ")");
      if (stage == "authenticated") report.pass("authentication", "key " + detail + " accepted");
    };
    try {
      link = start_ssh_agent(ssh, options.agent);
    } catch (const FatalError& e) {
      std::string stage = failed_stage(last_stage);
      report.fail(stage, e.what(), fix_for(stage));
      if (json) report.print_json(destination);
      return ExitCode::kConnection;
    }
    last_stage = "authenticated";
  } else {
    link = start_local_agent(options.agent);
  }

  ProbeReport probe;
  double skew_s = 0;
  bool agent_ok = false;
  ExitCode unreachable = ExitCode::kOk;
  try {
    Channel& channel = link->channel();
    channel.set_idle_timeout(std::chrono::seconds(options.timeout_s));
    FrameReader in(channel);
    FrameWriter out(channel);
    Hello mine;
    mine.software_version = FERRY_VERSION;
    mine.euid = ::geteuid();
    std::string noise;
    Hello theirs = exchange_hello(in, out, mine, "ferry", link->peer_name(), &noise);
    report.pass("agent", "ferry-agent " + printable(theirs.software_version) + " started, protocol " +
                             std::to_string(theirs.protocol_version) + " (this ferry: " + FERRY_VERSION + ")");
    agent_ok = true;
    if (!noise.empty()) {
      report.warn("login noise", "the remote login printed text before the agent started: \"" +
                                     printable(noise.substr(0, 80)) + "\"",
                  "make the login shell quiet for non-interactive sessions (rc files should not echo)");
    }
    Open open;
    open.operation = wire::Operation::kProbe;
    open.path = where.remote ? where.path : std::filesystem::absolute(where.path).lexically_normal().string();
    if (open.path.size() > 1 && open.path.back() == '/') open.path.pop_back();
    open.timeout_s = static_cast<uint32_t>(options.timeout_s);
    Encoder e;
    open.encode(e);
    int64_t sent = now_ns();
    out.send(MsgType::kOpen, e);
    out.flush();
    while (true) {
      Frame f = in.next();
      if (f.type == MsgType::kKeepalive || f.type == MsgType::kMessage) continue;
      if (f.type == MsgType::kFatal) throw peer_fatal(Fatal::decode(f.payload));
      if (f.type != MsgType::kProbeReport) {
        throw ProtocolError(std::string("expected ProbeReport, got ") + wire::msg_type_name(f.type));
      }
      probe = ProbeReport::decode(f.payload);
      // The agent chose these lines: escaped once here, they are safe in every step below.
      probe.last_run = printable(probe.last_run);
      probe.holder = printable(probe.holder);
      probe.fs_kind = printable(probe.fs_kind);
      break;
    }
    int64_t midpoint = sent + (now_ns() - sent) / 2;
    skew_s = static_cast<double>(probe.time_ns - midpoint) / 1e9;
    check_probe(probe, skew_s, open.path, report);
    check_volume(probe, KnownVolumes(default_known_volumes()).find(volume_key(where, options.port, open.path)),
                 open.path, report);
  } catch (const FatalError& e) {
    // Before the agent's Hello, the agent did not start or speaks another version; after it,
    // the agent refused the destination (a key confined elsewhere, say).
    if (agent_ok) {
      report.fail("destination", e.what(), "use a path the agent may use (see the message)");
    } else {
      // A shell that could not start the program says so (exit 127): that names the fix.
      std::string missing;
      try {
        missing = link->missing_agent();
      } catch (const FatalError&) {
      }
      if (missing.find("(its forced command)") != std::string::npos) {
        report.fail("agent", missing,
                    "on the backup machine, run `ferry-agent install-credentials PACKAGE --root ...` again "
                    "(--agent-path PATH for an agent elsewhere); --agent on this side cannot change a forced command");
      } else {
        report.fail("agent", missing.empty() ? e.what() : missing, fix_for("agent"));
      }
      unreachable = ExitCode::kConnection;
    }
  }
  try {
    link->finish();
  } catch (const FatalError&) {
    // the session is over either way; what failed was reported above
  }
  if (json) report.print_json(destination);
  if (unreachable != ExitCode::kOk) return unreachable;
  return report.failed() ? ExitCode::kFatal : ExitCode::kOk;
}

}  // namespace ferry
