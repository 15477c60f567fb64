// One agent session: the protocol on stdin/stdout, from Hello to Bye. The agent receives on
// backup and sends on restore, with the same engine the client uses.
#pragma once

#include <chrono>

#include "base/error.h"
#include "server/confinement.h"

namespace ferry {

// How long the channels of a striped session have to find each other (server/stripe_rendezvous.h):
// sshd starts them one after another, each through the user's login shell.
constexpr std::chrono::milliseconds kJoinLimit{30'000};

struct AgentOptions {
  int verbosity = 0;
  int streams = 1;  // the client's stream comes over this many channels (transport/stripes.h)
  Confinement confinement;  // set by `ferry-agent forced`
};

// Serves one client on fds 0 and 1. Returns the process exit code. A fatal error is sent to
// the client as a Fatal frame (and logged on stderr) before returning.
ExitCode serve(const AgentOptions& options);

}  // namespace ferry
