// How the channels of a striped session (transport/stripes.h) find each other on the agent's
// machine.
//
// sshd starts one process per channel: `ferry-agent serve --streams N` in the first, `ferry-agent
// join` in each other. A join hands its stdin, the channel's bytes, to the serving process over a
// Unix socket (SCM_RIGHTS), then waits until that process ends: sshd closes a channel's input
// once the process it started exits. The socket lives in a folder named after a hash of the
// session's token, which the serving process makes with mode 0700; a join connects only if that
// folder is its own user's and closed to everyone else and the process listening there runs as
// its user, and the serving process takes a channel only from its own user and with the
// session's token (which came through SSH, encrypted). The folder is removed once
// every channel has joined, or the wait has failed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/error.h"
#include "fs/unique_fd.h"
#include "transport/stripes.h"

namespace ferry {

struct GatheredStripes {
  // The channels 1 .. N-1, in order (channel 0 is the serving process's own stdin).
  std::vector<UniqueFd> channels;
  // The connections to the join processes; closing them (when this ends) lets them exit.
  std::vector<UniqueFd> joins;
};

// Reads channel 0's preamble from in_fd, then waits until the other count-1 channels have joined,
// at most `limit` in all. Throws FatalError naming what did not come.
GatheredStripes gather_stripes(int in_fd, int count, std::chrono::milliseconds limit);

// `ferry-agent join`: reads the preamble from in_fd and hands in_fd to the serving process of the
// same session; then waits for that process to end. Throws FatalError when there is none to
// join or it refuses.
void join_stripe(int in_fd, std::chrono::milliseconds limit);

// Where the rendezvous socket of a session is: a folder in /tmp named for this user and a hash
// of the token.
std::string rendezvous_dir(const StripeToken& token);

}  // namespace ferry
