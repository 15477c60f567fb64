// Peers that go silent without closing anything: a link that stops forwarding, an agent or a
// client frozen with SIGSTOP. Whatever the peer does at the TCP level, a run must end within
// its --timeout plus a margin, with exit code 4 and a message naming the silent peer, and an
// agent whose client stops reading must give up the same way and let go of its lock.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "e2e/e2e.h"
#include "support/background.h"
#include "support/relay_fixture.h"

using namespace ferry::test;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kTimeout = 5;  // --timeout of every run here
// How long after its fault a run may take to end: a bound on a hang, not a speed measurement
// (the fix ends them about kTimeout after the fault).
constexpr std::chrono::seconds kBound(kTimeout + 15);
// Every run is slowed to ~6 s by --bwlimit, so that the fault surely lands mid-transfer.
const std::string kSlow = " --timeout " + std::to_string(kTimeout) + " --bwlimit 4M";
constexpr int kConnectionLost = 4;

void make_source(const std::string& src) {
  fs::create_directories(src);
  write_random(src + "/big", 24 << 20, 11);
  std::ofstream(src + "/small") << "small";
}

// The agent under sshd, wrapped so that the test learns its pid.
struct WrappedAgent {
  std::string pid_file, script;
  explicit WrappedAgent(const TempDir& work) : pid_file(work / "agent.pid"), script(work / "agent.sh") {
    std::ofstream(script) << "#!/bin/sh\necho $$ > " << quote(pid_file) << "\nexec " << quote(kAgent) << " \"$@\"\n";
    fs::permissions(script, fs::perms::owner_all);
  }
  std::string option() const { return " --agent " + quote(script); }
  pid_t pid() const {
    std::string text = slurp(pid_file);
    return text.empty() ? -1 : std::stoi(text);
  }
};

// Bytes of partial files in the destination's temp folder: what shows the transfer under way.
uintmax_t partial_bytes(const std::string& dest) {
  uintmax_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dest + "/.ferry-state/tmp", ec)) total += e.file_size(ec);
  return total;
}

// Waits until the big file is partly across (not merely until the programs have started: a
// fault before Open tests another thing), then checks the run is still going.
void wait_until_mid_run(Background& run, const std::string& log, const std::string& dest) {
  auto give_up = Clock::now() + std::chrono::seconds(30);
  while (partial_bytes(dest) < (4u << 20) && Clock::now() < give_up && run.wait_for(std::chrono::milliseconds(100)) == -1) {
  }
  INFO(slurp(log));
  REQUIRE(partial_bytes(dest) >= (4u << 20));
  REQUIRE(run.wait_for(std::chrono::seconds(0)) == -1);
}

// Waits (bounded) for a run whose peer went silent; checks how it ended.
void check_ends_silent_peer(Background& run, const std::string& log, const std::string& peer) {
  auto fault = Clock::now();
  int code = run.wait_for(kBound);
  double took = std::chrono::duration<double>(Clock::now() - fault).count();
  std::string err = slurp(log);
  MESSAGE("ended " << took << " s after the fault, exit " << code << ": " << err.substr(0, err.find('\n')));
  INFO(err);
  REQUIRE_MESSAGE(code != -1, "still running " << took << " s after the fault");
  CHECK(code == kConnectionLost);
  std::string silent = " for " + std::to_string(kTimeout) + " s";
  bool named = err.find(peer + " sent nothing" + silent) != std::string::npos ||
               err.find(peer + " stopped reading" + silent) != std::string::npos;
  CHECK_MESSAGE(named, "the message names neither " << peer << " nor the " << kTimeout << " s timeout");
}

bool lock_free(const std::string& dest) {
  int fd = ::open((dest + "/.ferry-state/lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return free;
}

// Ends a process this test froze: SIGKILL, then SIGCONT so the kill is delivered at once.
void kill_frozen(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  ::kill(pid, SIGCONT);
}

// What every test here starts from: a source with a big file, a destination, a log, and the
// agent wrapped so that its pid is known.
struct Scene {
  TempDir work;
  std::string src = work / "src", dest = work / "dest", log = work / "run.log", home = work / "home";
  WrappedAgent agent{work};

  Scene() {
    make_source(src);
    sshd().trust_host_key();
  }
  // "ferry VERB" over sshd, slowed and with the wrapped agent; the paths follow.
  std::string over_ssh(const std::string& verb) const {
    return ferry_over_ssh(verb + kSlow + agent.option(), home);
  }
  // "ferry backup" of src into a local folder, to restore from.
  std::string backed_up() const {
    std::string backup = work / "backup";
    REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(backup)).code == 0);
    return backup;
  }
};

}  // namespace

TEST_CASE("a link that stops forwarding mid-run ends the run within its timeout") {
  Scene s;
  WireRelay relay(kBin + "/wire_relay", sshd().port(), s.work / "relay.log");
  sshd().trust_host_key(relay.port());
  auto via_relay = [&](const std::string& verb) {
    std::string direct = s.over_ssh(verb);
    std::string port = " --port " + std::to_string(sshd().port());
    return direct.replace(direct.find(port), port.size(), " --port " + std::to_string(relay.port()));
  };
  std::string command;
  SUBCASE("backup: the client sends, so the SSH window fills") {
    command = via_relay("backup") + " " + quote(s.src) + " " + quote(remote(s.dest));
  }
  SUBCASE("restore: the client receives") {
    command = via_relay("restore") + " " + quote(remote(s.backed_up())) + " " + quote(s.dest);
  }
  Background ferry(command, s.log);
  wait_until_mid_run(ferry, s.log, s.dest);
  relay.stall();
  check_ends_silent_peer(ferry, s.log, "ferry-agent on 127.0.0.1");
  CHECK_FALSE(fs::exists(s.dest + "/big"));
  // The agent, on the far side of the stall, gives up the same way.
  CHECK(wait_gone(s.agent.pid(), kBound));
}

TEST_CASE("a frozen local agent ends the run within its timeout") {
  Scene s;
  Background ferry(quote(kFerry) + " backup" + kSlow + " " + quote(s.src) + " " + quote(s.dest), s.log);
  wait_until_mid_run(ferry, s.log, s.dest);
  std::vector<pid_t> agents = ferry.children();
  REQUIRE(agents.size() == 1);
  REQUIRE(::kill(agents[0], SIGSTOP) == 0);
  check_ends_silent_peer(ferry, s.log, "the local ferry-agent");
  CHECK_FALSE(fs::exists(s.dest + "/big"));
  kill_frozen(agents[0]);
}

TEST_CASE("a frozen agent behind sshd ends the run within its timeout") {
  Scene s;
  Background ferry(s.over_ssh("backup") + " " + quote(s.src) + " " + quote(remote(s.dest)), s.log);
  wait_until_mid_run(ferry, s.log, s.dest);
  REQUIRE(s.agent.pid() > 0);
  REQUIRE(::kill(s.agent.pid(), SIGSTOP) == 0);
  check_ends_silent_peer(ferry, s.log, "ferry-agent on 127.0.0.1");
  CHECK_FALSE(fs::exists(s.dest + "/big"));
  kill_frozen(s.agent.pid());
}

TEST_CASE("an agent whose client stops reading gives up within its timeout and lets go of the destination") {
  Scene s;
  std::string command;
  bool agent_holds_lock = true;  // in a restore the destination is the frozen client's own
  SUBCASE("restore over sshd: the agent sends") {
    command = s.over_ssh("restore") + " " + quote(remote(s.backed_up())) + " " + quote(s.dest);
    agent_holds_lock = false;
  }
  SUBCASE("backup over sshd: the agent receives and holds the destination's lock") {
    command = s.over_ssh("backup") + " " + quote(s.src) + " " + quote(remote(s.dest));
  }
  SUBCASE("backup to a local folder: the agent is the client's child") {
    command = quote(kFerry) + " backup" + kSlow + " --agent " + quote(s.agent.script) + " " + quote(s.src) + " " +
              quote(s.dest);
  }
  if (command.empty()) return;  // a pass whose subcase was filtered out (-sc)
  Background ferry(command, s.log);
  wait_until_mid_run(ferry, s.log, s.dest);
  pid_t agent = s.agent.pid();
  REQUIRE(agent > 0);
  REQUIRE(::kill(ferry.pid(), SIGSTOP) == 0);
  auto frozen = Clock::now();
  bool gone = wait_gone(agent, kBound);
  double took = std::chrono::duration<double>(Clock::now() - frozen).count();
  MESSAGE("the agent ended " << took << " s after its client froze");
  CHECK_MESSAGE(gone, "the agent still runs " << took << " s after its client froze");
  if (!gone) kill_frozen(agent);
  if (agent_holds_lock) CHECK(lock_free(s.dest));
}
