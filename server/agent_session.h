// One agent session: the protocol on stdin/stdout, from Hello to Bye. The agent receives on
// backup and sends on restore, with the same engine the client uses.
#pragma once

#include "base/error.h"
#include "server/confinement.h"

namespace ferry {

struct AgentOptions {
  int verbosity = 0;
  Confinement confinement;  // set by `ferry-agent forced`
};

// Serves one client on fds 0 and 1. Returns the process exit code. A fatal error is sent to
// the client as a Fatal frame (and logged on stderr) before returning.
ExitCode serve(const AgentOptions& options);

}  // namespace ferry
