// Key pairs for Ferry's clients, generated with OpenSSL and written in OpenSSH's own private
// key format ("openssh-key-v1", unencrypted), which both OpenSSH and libssh read. libssh 0.10
// would write RSA keys as PKCS#8 PEM, which is why Ferry writes the format itself.
#pragma once

#include <string>

namespace ferry {

struct KeyPair {
  std::string private_key;  // the whole file: "-----BEGIN OPENSSH PRIVATE KEY-----" ...
  std::string type;         // "ssh-rsa" or "ssh-ed25519"
  std::string public_base64;  // the public key blob, as in authorized_keys
};

// type is "rsa" or "ed25519"; bits applies to RSA. Throws FatalError if OpenSSL fails.
KeyPair generate_key_pair(const std::string& type, int bits, const std::string& comment);

}  // namespace ferry
