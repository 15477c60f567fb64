// How the client reaches its agent: a child process on this machine (a backup to an external
// disk), or `ferry-agent serve` in an SSH exec channel. Either way the engine gets one Channel.
#pragma once

#include <memory>
#include <string>

#include "client/ssh_session.h"
#include "transport/channel.h"

namespace ferry {

class AgentLink {
 public:
  virtual ~AgentLink() = default;
  // The engine's connection to the agent; the object lives as long as the link.
  virtual Channel& channel() = 0;
  const std::string& peer_name() { return channel().peer_name(); }
  // Closes the engine's end and waits for the agent to exit; returns its exit status.
  virtual int finish() = 0;
  // For a connection that ended before the agent said hello: what to tell the user when the
  // reason is that the agent program could not be started (the shell's exit status 127), or
  // "" when it is something else. Finishes the link.
  virtual std::string missing_agent() = 0;
};

// agent_command: what --agent says, or "" for the ferry-agent installed beside this ferry.
std::unique_ptr<AgentLink> start_local_agent(const std::string& agent_command);
// agent_command: what --agent says (default "ferry-agent"); " serve" is appended. With streams
// above 1, the client's stream is spread over that many channels (transport/stripes.h): the
// first runs `serve --streams N`, the others `join`.
std::unique_ptr<AgentLink> start_ssh_agent(const SshOptions& options, const std::string& agent_command, int streams = 1);

}  // namespace ferry
