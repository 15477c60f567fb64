// FERRY_HOME (default ~/.config/ferry): where the user's keys and Ferry's own known_hosts live.
#pragma once

#include <string>
#include <vector>

namespace ferry {

std::string user_home();  // $HOME, else the password database's
std::string ferry_home();
std::string default_known_hosts();  // FERRY_HOME/known_hosts
// The keys backup, restore and doctor try without -i, in order, as ssh tries its keys: the one a
// host accepted last time (`remembered`, if it still exists), then the private keys in
// FERRY_HOME/keys (as `ferry keys create` makes them: "default" first, then by name), then
// ~/.ssh/id_ed25519 and ~/.ssh/id_rsa. Empty if there is none.
std::vector<std::string> candidate_identities(const std::string& remembered = "");

// Which key each host accepted, in FERRY_HOME/identities ("host:port path" lines), so that the
// next run offers it first (sshd counts refused keys against MaxAuthTries).
std::string remembered_identity(const std::string& host_port);
void remember_identity(const std::string& host_port, const std::string& identity);

}  // namespace ferry
