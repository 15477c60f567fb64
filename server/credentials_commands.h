// ferry-agent install-credentials, list-credentials and revoke-credentials: the remote half of
// setting up trust, run once by the owner of the backup machine.
#pragma once

#include <string>

#include "base/error.h"
#include "keys/authorized_keys.h"

namespace ferry {

struct CredentialsTarget {
  std::string user;             // whose authorized_keys; empty: the user running this
  std::string authorized_keys;  // an explicit file instead (a custom AuthorizedKeysFile)
};

struct InstallOptions {
  CredentialsTarget target;
  std::string root;        // empty: ~USER/FerryBackups
  Allow allow = Allow::kBoth;
  std::string agent_path;  // empty: this ferry-agent's own absolute path
  std::string host_key_dir = "/etc/ssh";  // whose *host*.pub fingerprints to print
  std::string log_file;    // written into the forced command: the agent's debug log
  bool append_only = false;  // backups through the key keep everything in the safety net
};

ExitCode install_credentials(const std::string& package_path, const InstallOptions& options);
ExitCode list_credentials(const CredentialsTarget& target);
ExitCode revoke_credentials(const std::string& who, const CredentialsTarget& target);

}  // namespace ferry
