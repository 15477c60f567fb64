#include "support/sshd_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "support/run.h"

namespace ferry::test {

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(s);
  return ntohs(addr.sin_port);
}

static bool port_open(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(s);
  return ok;
}

Sshd::Sshd(const std::string& agent_dir) : agent_dir_(agent_dir) {
  char tmpl[] = "/tmp/ferry-sshd.XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  ::chmod(dir_.c_str(), 0755);
  RunResult keys = run("ssh-keygen -q -t ed25519 -N '' -f " + quote(dir_ + "/host_key") +
                       " && ssh-keygen -q -t ed25519 -N '' -C ferry-test -f " + quote(client_key()) +
                       " && cp " + quote(client_key() + ".pub") + " " + quote(authorized_keys()) +
                       " && chmod 600 " + quote(authorized_keys()));
  if (keys.code != 0) throw std::runtime_error("ssh-keygen failed: " + keys.err);
  ::mkdir("/run/sshd", 0755);  // privilege separation directory sshd insists on
  port_ = free_port();
  start();
}

Sshd::~Sshd() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string Sshd::login() const {
  const passwd* pw = ::getpwuid(::geteuid());
  return std::string(pw != nullptr ? pw->pw_name : "root") + "@127.0.0.1";
}

void Sshd::start() {
  std::string config = dir_ + "/sshd_config";
  std::ofstream(config) << "Port " << port_ << "\n"
                        << "ListenAddress 127.0.0.1\n"
                        << "HostKey " << dir_ << "/host_key\n"
                        << "AuthorizedKeysFile " << authorized_keys() << "\n"
                        << "PidFile none\n"
                        << "PermitRootLogin prohibit-password\n"
                        << "PasswordAuthentication no\n"
                        << "KbdInteractiveAuthentication no\n"
                        << "UsePAM no\n"
                        << "StrictModes no\n"
                        // Below --streams' 8, so that a refused channel can be tested (the
                        // default is 10).
                        << "MaxSessions 6\n"
                        << "LogLevel VERBOSE\n"
                        // Each window adjust the client sends: what the channel pump's test reads.
                        << "LogVerbose *:channel_input_window_adjust():*\n"
                        << "SetEnv PATH=" << agent_dir_ << ":/usr/bin:/bin\n";
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-f", config.c_str(), "-E", log().c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 100; ++i) {
    if (port_open(port_)) return;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("sshd exited at start; see " + log() + " (is openssh-server installed?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("sshd did not start listening on port " + std::to_string(port_));
}

void Sshd::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void Sshd::change_host_key() {
  stop();
  std::filesystem::remove(dir_ + "/host_key");
  std::filesystem::remove(dir_ + "/host_key.pub");
  run("ssh-keygen -q -t ed25519 -N '' -f " + quote(dir_ + "/host_key"));
  start();
}

void Sshd::trust_host_key(int port) {
  std::ifstream pub(dir_ + "/host_key.pub");
  std::string type, key;
  pub >> type >> key;
  std::ofstream(known_hosts(), std::ios::app) << "[127.0.0.1]:" << (port != 0 ? port : port_) << " " << type << " " << key << "\n";
}

}  // namespace ferry::test
