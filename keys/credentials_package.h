// A credentials package: the one file a client hands to the machine it backs up to, so that
// machine can let the client's key in (`ferry-agent install-credentials`).
//
// It is plain 7-bit text with one "field: value" per line, so it survives mail, FTP, a FAT
// USB stick or a copy-paste: no extended attributes, resource forks or executable bits are
// needed, and CRLF line ends are accepted. It holds the public key only; the private key never
// leaves the machine that made it. A SHA-256 over every line before the checksum line catches
// truncation and corruption, and the key's fingerprint is recomputed from the key itself.
//
//   ferry-credentials 1
//   name: laptop
//   host: anns-macbook
//   created: 2026-11-29T23:20:00Z
//   fingerprint: SHA256:Vt3x…
//   public-key: ssh-ed25519 AAAAC3Nza… ferry-credentials:laptop@anns-macbook
//   checksum: sha256:5f1c…
#pragma once

#include <string>
#include <string_view>

namespace ferry {

inline constexpr int kPackageFormatVersion = 1;
inline constexpr size_t kMaxPackageBytes = 64 * 1024;  // an RSA 16384 public key fits easily

struct CredentialsPackage {
  std::string name;        // the key's name on the client ([A-Za-z0-9_-], at most 64)
  std::string host;        // the client's host name
  std::string created;     // UTC, ISO 8601
  std::string key_type;    // "ssh-ed25519", "ssh-rsa", ...
  std::string key_base64;  // the public key blob, as in authorized_keys
  std::string fingerprint; // "SHA256:..." of the key blob

  // Who installed lines are matched by: a newer package from the same client replaces its line.
  std::string client_id() const { return name + "@" + host; }
};

std::string format_package(const CredentialsPackage& package);

// Parses and verifies a package. Throws FatalError naming what is wrong (not a package,
// unsupported version, damaged or truncated, fingerprint mismatch) and what to do.
CredentialsPackage parse_package(std::string_view text);

// "SHA256:" + unpadded base64 of SHA-256 over the decoded key blob, as OpenSSH prints it.
// Empty if key_base64 is not valid base64.
std::string key_fingerprint(std::string_view key_base64);

// Names of keys and clients: letters, digits, '_' and '-', 1 to 64 of them.
bool valid_key_name(std::string_view name);

}  // namespace ferry
