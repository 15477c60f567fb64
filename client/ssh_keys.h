// A private key protected by a passphrase, for `ferry keys create --passphrase`. Here, beside
// ssh_session, because libssh does the encryption (the same code that later reads it back),
// and only these files use libssh.
#pragma once

#include <string>

namespace ferry {

// Asks for a new passphrase on the terminal, twice. Throws FatalError(kUsage) without a
// terminal or when the two differ or it is empty.
std::string ask_new_passphrase(const std::string& key_path);

// The private key `openssh_text` (unencrypted, as keys/ makes it) encrypted with `passphrase`,
// in a form ssh and Ferry read. Throws FatalError if libssh cannot do it.
std::string encrypted_private_key(const std::string& openssh_text, const std::string& passphrase);

}  // namespace ferry
