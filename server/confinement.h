// What a restricted key may do (`ferry-agent forced`, written into authorized_keys by
// install-credentials): which of backup and restore, and under which folder.
#pragma once

#include <string>

#include "fs/unique_fd.h"
#include "protocol/messages.h"

namespace ferry {

struct Confinement {
  std::string root;  // empty: not confined
  bool allow_backup = true;
  bool allow_restore = true;
  bool append_only = false;  // backups keep what they delete or replace; no pruning
};

// Throws FatalError naming the rule when `open` asks for something the key may not do. The
// path must be the root or lie under it, both as written (no "..") and once symlinks in the
// part that exists are resolved, so a link planted by an earlier backup cannot lead out.
void check_confinement(const Open& open, const Confinement& rules);

// A relative path in `open` ("host:Documents" on the client) made absolute: under the root a
// confined key is kept to, else under the home folder of the user the agent runs as. Then
// check_confinement judges it like any other ("../x" still leaves the root, and is refused).
void resolve_relative_path(Open* open, const Confinement& rules);

// For a confined key, the folder `open` names, reached from one fd of the confinement root
// without following any symlink (see open_dir_beneath): the check above looked at paths, and
// another session of the same key may change them before this open. Creates the last
// component if `create`. Returns an invalid fd for a key that is not confined.
UniqueFd open_confined(const Open& open, const Confinement& rules, bool create);

// An append-only key's backup: turns the safety net on and its pruning off, whatever the
// client asked. Returns what to tell the user if that overrode the request ("" if not).
std::string enforce_append_only(Open* open, const Confinement& rules);

// What a forced command may ask of the agent.
struct ForcedCommand {
  bool join = false;  // `join`: one more channel of a striped session (server/stripe_rendezvous.h)
  int verbosity = 0;  // serve's -v
  int streams = 1;    // serve's --streams
};

// The forced command's gate: `command` is SSH_ORIGINAL_COMMAND. Only Ferry's own agent
// invocations ("…/ferry-agent serve [-v] [--streams N]", "…/ferry-agent join") pass. Throws
// FatalError for anything else (a shell, scp, sftp, another program).
ForcedCommand check_forced_command(const std::string& command);

}  // namespace ferry
