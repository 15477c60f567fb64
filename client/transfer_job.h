// `ferry backup` and `ferry restore`: connect to an agent, run the engine in the right role,
// report. Backup: this side sends, the agent receives. Restore: the other way round.
#pragma once

#include <string>
#include <string_view>

#include "fs/filter.h"

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
  bool json_progress = false;
  int timeout_s = 60;
  int streams = 1;                 // SSH channels the client's stream is spread over (transport/stripes.h)
  std::string compress;            // "" (off), "on" or "auto"
  int compress_level = 3;
  std::string skip_compress;       // empty: the default list
  bool skip_compress_set = false;
  uint64_t rate_limit = 0;         // bytes per second; 0 = none
  bool delete_extraneous = false;  // --delete
  bool delete_excluded = false;
  bool no_safety_net = false;      // --delete without the safety net
  bool no_seal = false;            // a backup leaves no seal (docs/SEALS.md)
  bool safety_net = false;         // the safety net without --delete (replaced files only)
  uint64_t safety_net_keep_s = 0;
  uint64_t safety_net_keep_bytes = 0;
  FilterRules filters;             // --exclude, --include, --exclude-from, in command-line order
  bool accept_new_volume = false;  // a backup destination that moved to another volume on purpose
  std::string known_volumes;       // default: FERRY_HOME/volumes
  bool snapshot = false;           // backup --snapshot: a new snapshot in a snapshot store
  bool force = false;              // --delete into a folder Ferry never wrote (a backup's guard)
  std::string at;                  // restore --at, as snapshot_at_from_text made it
};

// --safety-net-keep: "30d", "12h", "2w" (an age) or "50G", "500M" (a total size). Sets the one
// it is; returns "" or what is wrong.
std::string parse_safety_net_keep(std::string_view text, uint64_t* seconds, uint64_t* bytes);

enum class Direction { kBackup, kRestore };

// The SSH settings for reaching `where` with these options (key from FERRY_HOME by default).
SshOptions ssh_options_for(const Location& where, const TransferOptions& options);

// Runs one transfer. Returns the exit code; throws FatalError when the run cannot go on. With
// --json the summary is printed either way: a run that stopped early reports what it did until
// then, and the error, and then throws a SummarizedError (so that no second summary follows).
ExitCode run_transfer(Direction direction, const std::string& source, const std::string& destination,
                      const TransferOptions& options);

class SummarizedError : public FatalError {
 public:
  using FatalError::FatalError;
};

}  // namespace ferry
