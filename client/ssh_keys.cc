#include "client/ssh_keys.h"

#include <libssh/libssh.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <openssl/crypto.h>

#include "base/error.h"

namespace ferry {

std::string ask_new_passphrase(const std::string& key_path) {
  if (::isatty(STDIN_FILENO) == 0) {
    throw FatalError("--passphrase asks for the passphrase on a terminal, and there is none", ExitCode::kUsage);
  }
  std::vector<char> typed(1024, '\0');
  std::string prompt = "New passphrase for " + key_path + ": ";
  // verify: libssh asks twice and fails when the two differ.
  if (ssh_getpass(prompt.c_str(), typed.data(), typed.size(), /*echo=*/0, /*verify=*/1) != 0) {
    throw FatalError("the two passphrases differ (nothing was made)", ExitCode::kUsage);
  }
  std::string passphrase(typed.data());
  OPENSSL_cleanse(typed.data(), typed.size());
  if (passphrase.empty()) throw FatalError("an empty passphrase protects nothing: leave out --passphrase", ExitCode::kUsage);
  return passphrase;
}

std::string encrypted_private_key(const std::string& openssh_text, const std::string& passphrase) {
  ssh_key key = nullptr;
  if (ssh_pki_import_privkey_base64(openssh_text.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
    throw FatalError("libssh could not read the new key to encrypt it");
  }
  char* text = nullptr;
  int rc = ssh_pki_export_privkey_base64(key, passphrase.c_str(), nullptr, nullptr, &text);
  ssh_key_free(key);
  if (rc != SSH_OK || text == nullptr) throw FatalError("libssh could not encrypt the new key");
  std::string out(text);
  OPENSSL_cleanse(text, std::strlen(text));
  ssh_string_free_char(text);
  return out;
}

}  // namespace ferry
