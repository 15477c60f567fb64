// `ferry backup` and `ferry restore`: connect to an agent, run the engine in the right role,
// report. Backup: this side sends, the agent receives. Restore: the other way round.
#pragma once

#include <string>

#include "base/error.h"
#include "client/remote_spec.h"
#include "client/ssh_session.h"

namespace ferry {

struct TransferOptions {
  std::string identity;
  int port = 0;
  std::string known_hosts;
  bool accept_new_host_key = false;
  std::string host_fingerprint;
  std::string agent;
  bool dry_run = false;
  bool checksum = false;
  bool no_sync = false;
  int verbosity = 0;
  bool stats = false;
  bool json = false;
  bool progress = false;
  int timeout_s = 60;
  std::string compress;            // "" (off), "on" or "auto"
  int compress_level = 3;
  std::string skip_compress;       // empty: the default list
  bool skip_compress_set = false;
  uint64_t rate_limit = 0;         // bytes per second; 0 = none
};

enum class Direction { kBackup, kRestore };

// The SSH settings for reaching `where` with these options (key from FERRY_HOME by default).
SshOptions ssh_options_for(const Location& where, const TransferOptions& options);

// Runs one transfer. Returns the exit code; throws FatalError when the run cannot go on.
ExitCode run_transfer(Direction direction, const std::string& source, const std::string& destination,
                      const TransferOptions& options);

}  // namespace ferry
