// The commands that ask about a snapshot store without moving file data: `ferry snapshots`,
// `ferry ls` and `ferry forget`. The agent does the reading (and the removing); these print
// what it answers.
#pragma once

#include <string>

#include "base/error.h"
#include "client/transfer_job.h"
#include "fs/retention.h"

namespace ferry {

struct StoreQuery {
  std::string destination;  // [user@]host:/path or a local folder
  bool json = false;
  TransferOptions connection;  // how to reach the agent (key, port, known hosts, --agent, timeout)
};

// One line per snapshot: ID, local time, entries, total size, and what it alone holds.
ExitCode show_snapshots(const StoreQuery& query);
// The entries of DEST[/PATH] in a snapshot (`at` as snapshot_at_from_text made it; "" = the
// newest), or of a mirror as it is. One per line, relative path first.
ExitCode list_entries(const StoreQuery& query, const std::string& at);
// Removes the snapshots `rules` do not keep (none with dry_run), printing each decision and
// the space freed.
ExitCode forget_snapshots(const StoreQuery& query, const KeepRules& rules, bool dry_run);

}  // namespace ferry
