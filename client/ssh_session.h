// The client's SSH connection: the only code in Ferry that links libssh.
//
// Connects with public-key authentication only, checks the host key against Ferry's own
// OpenSSH-format known_hosts (never ~/.ssh/config, never the system file), starts the agent in
// an exec channel and bridges that channel to a PumpedChannel, so the engine never sees libssh.
// libssh sessions are not thread-safe; one pump thread owns the session after start().
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "transport/pumped_channel.h"

struct ssh_session_struct;
struct ssh_channel_struct;

namespace ferry {

struct SshOptions {
  std::string host;
  std::string user;
  int port = 22;
  // Private key files, tried in this order until the server accepts one (-i gives one).
  std::vector<std::string> identities;
  bool remember_identity = false;  // note the accepted one in FERRY_HOME for the next run
  bool use_ssh_agent = false;      // try the keys of the ssh-agent at $SSH_AUTH_SOCK first
  std::string known_hosts;  // Ferry's known_hosts file
  bool accept_new_host_key = false;
  std::string host_fingerprint;  // "SHA256:…": trust an unknown host key only if it is this one
  int verbosity = 0;  // 3+: log the SSH conversation
  // Told each stage that passed ("connected", "host key", "authenticated" with the key the
  // server accepted as `detail`), for `ferry doctor`.
  std::function<void(const std::string& stage, const std::string& detail)> on_stage;
  int connect_timeout_s = 30;
};

class SshSession {
 public:
  // Connects, verifies the host key and authenticates. Throws ConnectionError with a
  // diagnosis (what failed and what to do) on any failure.
  explicit SshSession(const SshOptions& options);
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  // Runs `command` on the remote in an exec channel. Returns the engine's end of the channel's
  // stdin/stdout (named peer_name in messages); the remote's stderr is copied to ours.
  // With `stripe_commands`, each runs in one more channel, and what the engine writes is spread
  // over all of them (transport/stripes.h); what the engine reads comes from the first.
  Channel& start(const std::string& command, const std::string& peer_name,
                 const std::vector<std::string>& stripe_commands = {});

  // Once the engine is done with the channel: waits for the remote command to end. Returns its
  // exit status, or -1 if none was reported.
  int finish();
  // The key the server accepted.
  const std::string& accepted_identity() const { return accepted_identity_; }
  // The last 4 KiB the remote command wrote to its stderr; complete once finish() returned.
  const std::string& remote_stderr() const { return remote_stderr_; }

 private:
  void verify_host_key();
  void authenticate();
  // Joins the pump thread within a bound: if it has not ended by then, shuts the socket down
  // under it, so that whatever libssh call it is in returns.
  void join_pump_within_bound();

  SshOptions options_;
  ssh_session_struct* session_ = nullptr;
  ssh_channel_struct* channel_ = nullptr;
  std::vector<ssh_channel_struct*> stripe_channels_;  // the channels after the first, if striped
  std::unique_ptr<PumpedChannel> engine_channel_;
  std::thread pump_;
  std::atomic<bool> pump_failed_{false};
  std::atomic<bool> pump_ended_{false};
  std::atomic<bool> abandon_{false};  // set on destruction: stop pumping now
  std::string pump_error_;
  std::string remote_stderr_;
  std::string accepted_identity_;  // written by the pump thread until it is joined
};

}  // namespace ferry
