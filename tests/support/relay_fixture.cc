#include "support/relay_fixture.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace ferry::test {

WireRelay::WireRelay(const std::string& relay_binary, int target_port, const std::string& log_path)
    : log_(log_path) {
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    std::string port = std::to_string(target_port);
    ::execl(relay_binary.c_str(), relay_binary.c_str(), port.c_str(), log_path.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  char buf[32] = {};
  ssize_t n = ::read(out[0], buf, sizeof(buf) - 1);
  ::close(out[0]);
  port_ = n > 0 ? std::atoi(buf) : 0;
  if (port_ == 0) throw std::runtime_error("wire_relay did not start: " + relay_binary);
}

WireRelay::~WireRelay() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

void WireRelay::stall() { ::kill(pid_, SIGUSR1); }

void WireRelay::resume() { ::kill(pid_, SIGUSR2); }

std::vector<WireRelay::Connection> WireRelay::connections() const {
  std::vector<Connection> result;
  std::ifstream in(log_);
  Connection c;
  while (in >> c.up >> c.down >> c.seconds >> c.steady_bytes >> c.steady_seconds) result.push_back(c);
  return result;
}

}  // namespace ferry::test
