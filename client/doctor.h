// `ferry doctor DEST`: checks, step by step, everything a backup to DEST needs, in the order a
// support engineer would, and names the likely cause and the fix of the first thing that fails:
// name resolution, TCP, the SSH banner, the host key, authentication, the agent and its
// version, then the destination (exists or can be created, writable), ownership (is the agent
// root), clock skew and free space, from a probe the agent answers.
#pragma once

#include <string>

#include "base/error.h"
#include "client/transfer_job.h"

namespace ferry {

// Prints one line per step (or one JSON object). Returns kOk when nothing failed (warnings
// allowed), kConnection when the agent could not be reached, kFatal otherwise.
ExitCode run_doctor(const std::string& destination, const TransferOptions& options, bool json);

}  // namespace ferry
