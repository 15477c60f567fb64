// The lines Ferry adds to an OpenSSH authorized_keys file, and the edits it makes there.
//
// An installed line restricts its key to Ferry's agent, confined to one folder:
//
//   restrict,command="'/usr/bin/ferry-agent' forced --root '/backups/laptop' --allow both"
//     ssh-ed25519 AAAA… ferry-credentials:laptop@anns-macbook        (one line in the file)
//
// `restrict` turns off port, agent and X11 forwarding, pty allocation and ~/.ssh/rc; the
// forced command runs whatever the client asks for through `ferry-agent forced`, which lets
// only Ferry's own agent invocations through. The last field names the client: installing
// a package from the same client again replaces its line. Every other line of the file is kept
// byte for byte.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "keys/credentials_package.h"

namespace ferry {

enum class Allow { kBackup, kRestore, kBoth };
const char* allow_name(Allow allow);
bool parse_allow(std::string_view text, Allow* allow);

struct InstallRules {
  std::string agent_path;  // absolute path of ferry-agent
  std::string root;        // absolute folder the key is confined to
  Allow allow = Allow::kBoth;
  std::string log_file;    // optional: the agent's debug log for this key's sessions
  // Backups through the key never destroy: what they delete or replace always goes to the
  // safety net, which they cannot prune (borg serve --append-only, rrsync -no-del).
  bool append_only = false;
};

// Throws FatalError if a path cannot be written into the forced command safely.
std::string authorized_line(const CredentialsPackage& package, const InstallRules& rules);

struct InstalledKey {
  std::string client;       // name@host
  std::string fingerprint;  // SHA256:...
  std::string root;
  std::string allow;
  bool append_only = false;
};

// What install and revoke do to the file's text; pure, so it is tested without files.
std::string with_line_installed(std::string_view text, const std::string& client, const std::string& line,
                                bool* replaced);
// Removes the lines of the client `name@host`, of any client named `name`, or of the key with
// fingerprint `SHA256:…`. Returns the new text; *removed counts the lines taken out.
std::string without_lines_of(std::string_view text, std::string_view who, int* removed);
std::vector<InstalledKey> installed_keys(std::string_view text);

// The file: read (empty if missing), and replaced atomically with mode 0600, owned by
// uid:gid (a temporary file beside it, fsync, rename).
std::string read_authorized_keys(const std::string& path);
void write_authorized_keys(const std::string& path, const std::string& text, uid_t uid, gid_t gid);

}  // namespace ferry
