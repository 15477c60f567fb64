// A throwaway OpenSSH sshd on 127.0.0.1, on a free port, with its own host key, client key and
// authorized_keys in a temp dir. Started in the foreground (-D) so its pid is ours; stopped by
// that pid and nothing else.
#pragma once

#include <sys/types.h>

#include <string>

namespace ferry::test {

class Sshd {
 public:
  // agent_dir is put first on the PATH sshd gives to sessions, so `ferry-agent` resolves there.
  explicit Sshd(const std::string& agent_dir);
  ~Sshd();
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string client_key() const { return dir_ + "/client_key"; }
  std::string known_hosts() const { return dir_ + "/known_hosts"; }
  std::string authorized_keys() const { return dir_ + "/authorized_keys"; }
  // sshd's log: VERBOSE, and every SSH window adjust it receives ("channel 0: rcvd adjust N").
  std::string log() const { return dir_ + "/sshd.log"; }
  // "root@127.0.0.1" or the current user's name.
  std::string login() const;

  void start();
  void stop();
  // Replaces the host key (a reinstalled server, or a man in the middle) and restarts.
  void change_host_key();
  // Writes ferry's known_hosts entry for this server, as --accept-new-host-key would; `port`
  // for reaching it through a relay on another port.
  void trust_host_key(int port = 0);

 private:
  std::string dir_;
  std::string agent_dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

int free_port();

}  // namespace ferry::test
