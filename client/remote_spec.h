// Where a backup goes or a restore comes from: a local folder, or a folder on an SSH host.
//
//   /local/path, ./relative, name        local (the external-disk case)
//   [user@]host:/abs/path                remote, scp style; host may be [IPv6]
//   [user@]host:rel/path                 remote, under the remote user's home (or the root a
//                                        confined key is kept to), resolved by the agent
//   ssh://[user@]host[:port]/abs/path    remote, URL style; host may be [IPv6]
//
// Like rsync, a ':' counts only before the first '/', so "./a:b" and "/x/a:b" are local.
#pragma once

#include <string>

namespace ferry {

struct Location {
  bool remote = false;
  std::string user;  // empty: the local user name
  std::string host;  // without brackets
  int port = 0;      // 0: not given (use --port, else 22)
  std::string path;  // for remotes: absolute, or relative to the remote home (the agent resolves it)

  std::string display() const;  // for messages: "user@host:/path" or the local path
};

// Throws FatalError(kUsage) with the reason for malformed specs (empty host, relative remote
// path, bad port, unclosed '[').
Location parse_location(const std::string& spec);

}  // namespace ferry
