// How the client reaches its agent: a child process on this machine (a backup to an external
// disk), or `ferry-agent serve` in an SSH exec channel. Either way the engine gets one socket.
#pragma once

#include <memory>
#include <string>

#include "client/ssh_session.h"
#include "fs/unique_fd.h"

namespace ferry {

class AgentLink {
 public:
  virtual ~AgentLink() = default;
  int fd() const { return fd_.get(); }
  const std::string& peer_name() const { return peer_name_; }
  // Closes the engine's end and waits for the agent to exit; returns its exit status.
  virtual int finish() = 0;

 protected:
  UniqueFd fd_;
  std::string peer_name_;
};

// agent_command: what --agent says, or "" for the ferry-agent installed beside this ferry.
std::unique_ptr<AgentLink> start_local_agent(const std::string& agent_command);
// agent_command: what --agent says (default "ferry-agent"); " serve" is appended.
std::unique_ptr<AgentLink> start_ssh_agent(const SshOptions& options, const std::string& agent_command);

}  // namespace ferry
