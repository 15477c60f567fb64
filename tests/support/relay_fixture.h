// The wire_relay program in front of a port, started by a test and stopped by its pid: counts
// the bytes each connection moves, from outside the programs under test, and can stall them.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace ferry::test {

class WireRelay {
 public:
  struct Connection {
    unsigned long long up = 0;    // client -> server
    unsigned long long down = 0;  // server -> client
    double seconds = 0;           // first byte to last byte
    // The heavier direction from its first MiB to its last 256 KiB (past the SSH handshake and
    // start-up, before the closing exchange).
    unsigned long long steady_bytes = 0;
    double steady_seconds = 0;
    double steady_rate() const { return steady_seconds > 0 ? static_cast<double>(steady_bytes) / steady_seconds : 0; }
  };

  WireRelay(const std::string& relay_binary, int target_port, const std::string& log_path);
  ~WireRelay();
  WireRelay(const WireRelay&) = delete;
  WireRelay& operator=(const WireRelay&) = delete;

  int port() const { return port_; }
  // Stops forwarding on every connection, keeping the sockets open (nothing is closed or
  // reset: both peers just stop hearing from each other); resume() undoes it.
  void stall();
  void resume();
  // Connections that have ended, oldest first.
  std::vector<Connection> connections() const;

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace ferry::test
