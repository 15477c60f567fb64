// FERRY_HOME (default ~/.config/ferry): where the user's keys and Ferry's own known_hosts live.
#pragma once

#include <string>

namespace ferry {

std::string user_home();  // $HOME, else the password database's
std::string ferry_home();
std::string default_known_hosts();  // FERRY_HOME/known_hosts
// The key backup, restore and doctor use without -i: the first private key in
// FERRY_HOME/keys (as `ferry keys create` makes them), else ~/.ssh/id_ed25519, ~/.ssh/id_rsa.
// Returns "" if there is none.
std::string default_identity();

}  // namespace ferry
