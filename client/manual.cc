#include "client/manual.h"

namespace ferry {

std::vector<ManSection> ferry_manual_sections() {
  return {
      {"EXIT STATUS",
       "0 success.\n\n"
       "1 the run stopped: missing source, unusable destination, protocol error, disk full (the message says "
       "which and what to do).\n\n"
       "2 usage error: a bad option or location, or a request the destination cannot take as asked.\n\n"
       "3 partial transfer: some files could not be copied (each is named on stderr).\n\n"
       "4 could not connect or authenticate, host key unknown or changed, or the connection was lost.\n\n"
       "5 ferry task run: another run of the task is still going.\n\n"
       "24 finished, but some source files vanished or kept changing while they were read.\n\n"
       "130 interrupted (143 for TERM): files already copied are complete, and the next run resumes."},
      {"ENVIRONMENT",
       "FERRY_HOME: where keys, known_hosts, known volumes and tasks.toml live (default ~/.config/ferry).\n\n"
       "XDG_STATE_HOME: the tasks' history and logs go to $XDG_STATE_HOME/ferry/history (default "
       "~/.local/state)."},
      {"FILES",
       "FERRY_HOME/keys/: the keys `ferry keys create` made.\n\n"
       "FERRY_HOME/known_hosts: the pinned host keys of backup machines.\n\n"
       "FERRY_HOME/tasks.toml: named backups (ferry task).\n\n"
       "DEST/.ferry-state/: a destination's own state (locks, resumable files, its kind)."},
      {"SEE ALSO", "ferry-agent(1), ssh(1), rsync(1). The README has a complete walk-through."},
  };
}

}  // namespace ferry
