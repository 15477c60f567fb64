// The client's keys, in $FERRY_HOME/keys: NAME (the private key, 0600, OpenSSH format) and
// NAME.pub. `ferry keys create|list|remove`.
#pragma once

#include <string>
#include <vector>

#include "keys/credentials_package.h"

namespace ferry {

struct NewKey {
  std::string name;
  std::string type = "rsa";  // or "ed25519"
  int bits = 4096;           // RSA only
  bool replace = false;      // overwrite a key of the same name
  bool passphrase = false;   // encrypt it with a passphrase asked on the terminal
};

// Generates the key pair and returns the package that carries its public half.
CredentialsPackage create_key(const NewKey& spec);

struct StoredKey {
  std::string name;
  std::string path;
  std::string type;
  std::string fingerprint;
};
std::vector<StoredKey> list_keys();
// Writes the package file (0644: it holds no secret); refuses to overwrite a different file type.
void write_package_file(const std::string& path, const CredentialsPackage& package);
void remove_key(const std::string& name);

}  // namespace ferry
