// A session with an agent up to the point where work begins: the agent started (over SSH or
// as a local child), greeted, and asked to open a path. Every command that talks to an agent
// (backup, restore, snapshots, ls, forget) starts here.
#pragma once

#include <memory>
#include <string>

#include "client/agent_link.h"
#include "client/remote_spec.h"
#include "client/transfer_job.h"
#include "engine/framing.h"
#include "engine/reporter.h"
#include "protocol/messages.h"

namespace ferry {

class AgentConnection {
 public:
  // Starts the agent `where` names and exchanges Hello. Throws ConnectionError naming a
  // missing agent program, FatalError for a version mismatch.
  AgentConnection(const Location& where, const TransferOptions& options);

  Channel& channel() { return link_->channel(); }
  FrameReader& in() { return in_; }
  FrameWriter& out() { return out_; }
  const Hello& theirs() const { return theirs_; }
  const std::string& peer_name() { return link_->peer_name(); }

  // Sends `open` and waits for Opened; the agent's messages before it go to `reporter`.
  Opened open(const Open& open, Reporter& reporter);

  // Closes our end and waits for the agent to exit; returns its exit status.
  int finish() { return link_->finish(); }

 private:
  std::unique_ptr<AgentLink> link_;
  FrameReader in_;
  FrameWriter out_;
  Hello theirs_;
};

// The agent's path for `where`: as given for a remote, absolute and normalized for a local one.
std::string agent_path(const Location& where);

}  // namespace ferry
