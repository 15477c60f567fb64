// `ferry doctor`: one case per failure it diagnoses, each broken for real (a stopped sshd, a
// port with something else on it, a key the server does not know...), each asserting the
// specific diagnosis.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "e2e/e2e.h"
#include "fs/unique_fd.h"

namespace ferry::test {
namespace {

namespace fs = std::filesystem;

// ferry doctor with the test sshd's key, port and known_hosts unless told otherwise.
struct Doctor {
  std::string home;
  std::string identity = sshd().client_key();
  std::string known_hosts = sshd().known_hosts();
  int port = sshd().port();

  std::string operator()(const std::string& extra, const std::string& dest) const {
    return "FERRY_HOME=" + quote(home) + " " + quote(kFerry) + " doctor -i " + quote(identity) + " --port " +
           std::to_string(port) + " --known-hosts " + quote(known_hosts) + " " + extra + " " + quote(dest);
  }
};

std::string doctor(const std::string& home, const std::string& extra, const std::string& dest, int port = 0) {
  Doctor d{home};
  if (port != 0) d.port = port;
  return d(extra, dest);
}

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// A TCP server on 127.0.0.1 that answers like a web server: "something else on the port".
class NotSsh {
 public:
  NotSsh() {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    REQUIRE(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_.get(), 4) == 0);
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      int c = ::accept(fd_.get(), nullptr, nullptr);
      if (c < 0) return;
      const char reply[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
      (void)!::write(c, reply, sizeof(reply) - 1);
      ::close(c);
    });
  }
  ~NotSsh() {
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  UniqueFd fd_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

TEST_CASE("doctor passes every step against a healthy server, in text and JSON") {
  TempDir work;
  sshd().trust_host_key();
  RunResult r = run(doctor(work / "home", "", remote(work / "dest")));
  INFO(r.out, r.err);
  CHECK(r.code == 0);
  for (const char* step : {"name resolution", "TCP connection", "SSH server: SSH-2.0-", "host key", "authentication",
                           "agent: ferry-agent", "destination", "clock", "free space"}) {
    CAPTURE(step);
    CHECK(has(r.out, std::string("[ok  ] ") + step));
  }
  CHECK(has(r.out, "will be created"));
  CHECK_FALSE(fs::exists(work / "dest"));  // doctor looks, it does not touch
  RunResult j = run(doctor(work / "home", "--json", remote(work / "dest")));
  CHECK(j.code == 0);
  CHECK(has(j.out, "\"ok\":true"));
  CHECK(has(j.out, "\"step\":\"free space\""));
}

TEST_CASE("doctor names each failure and its fix") {
  TempDir work;
  std::string home = work / "home";
  sshd().trust_host_key();

  SUBCASE("sshd stopped") {
    sshd().stop();
    RunResult r = run(doctor(home, "", remote("/tmp")));
    sshd().start();
    CHECK(r.code == 4);
    CHECK(has(r.out, "[FAIL] TCP connection: nothing accepts connections"));
    CHECK(has(r.out, "Remote Login"));
  }
  SUBCASE("a port where something else answers") {
    NotSsh web;
    RunResult r = run(doctor(home, "", remote("/tmp"), web.port()));
    CHECK(r.code == 4);
    CHECK(has(r.out, "is not an SSH server; it said: \"HTTP/1.1 400 Bad Request\""));
  }
  SUBCASE("unknown host key") {
    std::string kh = work / "empty_known_hosts";
    std::ofstream(kh) << "";
    Doctor d{home};
    d.known_hosts = kh;
    RunResult r = run(d("", remote("/tmp")));
    CHECK(r.code == 4);
    CHECK(has(r.out, "[FAIL] host key: the host key of 127.0.0.1"));
    CHECK(has(r.out, "is not known"));
    CHECK(has(r.out, "--host-fingerprint"));
  }
  SUBCASE("changed host key") {
    std::string kh = work / "wrong_known_hosts";
    std::ifstream pub(sshd().client_key() + ".pub");  // any other ed25519 key stands in for the old host key
    std::string type, key;
    pub >> type >> key;
    std::ofstream(kh) << "[127.0.0.1]:" << sshd().port() << " " << type << " " << key << "\n";
    Doctor d{home};
    d.known_hosts = kh;
    RunResult r = run(d("", remote("/tmp")));
    CHECK(r.code == 4);
    CHECK(has(r.out, "[FAIL] host key"));
    CHECK(has(r.out, "HAS CHANGED"));
  }
  SUBCASE("key not installed") {
    REQUIRE(run("ssh-keygen -q -t ed25519 -N '' -f " + quote(work / "stranger")).code == 0);
    Doctor d{home};
    d.identity = work / "stranger";
    RunResult r = run(d("", remote("/tmp")));
    CHECK(r.code == 4);
    CHECK(has(r.out, "[FAIL] authentication: the server 127.0.0.1"));
    CHECK(has(r.out, "refused key"));
    CHECK(has(r.out, "PermitRootLogin forced-commands-only"));
  }
  SUBCASE("agent missing from PATH") {
    RunResult r = run(doctor(home, "--agent /nonexistent/ferry-agent", remote("/tmp")));
    CHECK(r.code == 4);
    CHECK(has(r.out, "[ok  ] authentication"));
    CHECK(has(r.out, "[FAIL] agent: "));
    CHECK(has(r.out, "install ferry-agent on that machine"));
  }
  SUBCASE("destination whose parent is missing") {
    RunResult r = run(doctor(home, "", remote(work / "no/such/parent")));
    CHECK(r.code == 1);
    CHECK(has(r.out, "[FAIL] destination: " + (work / "no/such/parent") + " does not exist, nor does its parent"));
  }
  SUBCASE("read-only destination") {
    if (!running_as_root()) return;  // mounting needs root; CI runs as root
    std::string ro = work / "ro";
    fs::create_directories(ro);
    if (::mount("tmpfs", ro.c_str(), "tmpfs", MS_RDONLY, "size=1m") != 0) {
      MESSAGE("skipped: cannot mount a tmpfs here (" << std::strerror(errno) << ")");
      return;
    }
    RunResult r = run(doctor(home, "", remote(ro)));
    ::umount(ro.c_str());
    CHECK(r.code == 1);
    CHECK(has(r.out, "[FAIL] destination: " + ro + " is on a read-only file system"));
  }
  SUBCASE("agent not running as root") {
    if (!running_as_root()) return;  // needs to drop privileges from root
    // Everything uid 65534 needs must be reachable by it, wherever the build lives.
    std::string dest = work / "open", agent = work / "bin/ferry-agent";
    fs::create_directories(dest);
    fs::create_directories(work / "bin");
    fs::copy_file(kAgent, agent);
    fs::permissions(dest, fs::perms::all);
    fs::permissions(agent, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    fs::permissions(work / "bin", fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
    fs::permissions(work.path(), fs::perms::others_exec | fs::perms::owner_all, fs::perm_options::add);
    RunResult r = run(doctor(home, "--agent " + quote("setpriv --reuid=65534 --regid=65534 --clear-groups " + agent),
                             remote(dest)));
    INFO(r.out, r.err);
    CHECK(has(r.out, "[ok  ] ownership: owners kept in extended attributes: the agent runs as uid 65534"));
    // ramfs has no extended attributes at all: there a plain user's agent cannot keep owners.
    std::string bare = work / "ramfs";
    fs::create_directories(bare);
    REQUIRE(run("mount -t ramfs ramfs " + quote(bare)).code == 0);
    fs::permissions(bare, fs::perms::all);
    RunResult no_xattrs = run(doctor(
        home, "--agent " + quote("setpriv --reuid=65534 --regid=65534 --clear-groups " + agent), remote(bare)));
    bool probe_removed = fs::is_empty(bare);
    run("umount " + quote(bare));
    INFO(no_xattrs.out, no_xattrs.err);
    CHECK(has(no_xattrs.out, "[warn] ownership: owners cannot be kept: the agent runs as uid 65534"));
    CHECK(has(no_xattrs.out, "PermitRootLogin forced-commands-only"));
    CHECK(probe_removed);

  }
}

TEST_CASE("doctor reports how the last run into the destination ended, and a run going on now") {
  TempDir work;
  sshd().trust_host_key();
  std::string home = work / "home", src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  std::ofstream(src + "/f") << "data";
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
  RunResult done = run(doctor(home, "", remote(dest)));
  INFO(done.out);
  CHECK(has(done.out, "[ok  ] last run: the last run into " + dest + " finished at 20"));
  CHECK(has(done.out, "(1 files copied)"));

  std::ofstream(dest + "/.ferry-state/last-run") << "state=running host=box pid=4242 started=2026-12-01T10:00:00Z\n";
  RunResult cut = run(doctor(home, "", remote(dest)));
  INFO(cut.out);
  CHECK(has(cut.out, "[warn] last run: the last run into " + dest +
                         " did not finish (started 2026-12-01T10:00:00Z by pid 4242 on box)"));

  std::ofstream(dest + "/.ferry-state/lock") << "host=box pid=77 started=now\n";
  int held = ::open((dest + "/.ferry-state/lock").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(held >= 0);
  REQUIRE(::flock(held, LOCK_EX) == 0);
  RunResult busy = run(doctor(home, "", remote(dest)));
  ::close(held);
  INFO(busy.out);
  CHECK(has(busy.out, "[warn] last run: a run is writing to " + dest + " right now (pid 77 on box, started now)"));
}

}  // namespace ferry::test
