#include "keys/credentials_package.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>
#include <map>
#include <vector>

#include "base/error.h"

namespace ferry {

namespace {

constexpr std::string_view kHeader = "ferry-credentials ";
const char* const kFields[] = {"name", "host", "created", "fingerprint", "public-key"};

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

bool printable_ascii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

[[noreturn]] void refuse(const std::string& why) {
  throw FatalError("this is not a usable credentials package: " + why +
                   ". Nothing was changed. Make a new one on the client with `ferry keys create` and copy "
                   "the .ferrycreds file over again.");
}

}  // namespace

bool valid_key_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string key_fingerprint(std::string_view key_base64) {
  if (key_base64.empty() || key_base64.size() % 4 != 0 || key_base64.size() > kMaxPackageBytes) return "";
  std::vector<unsigned char> blob(key_base64.size() / 4 * 3 + 1);
  int n = EVP_DecodeBlock(blob.data(), reinterpret_cast<const unsigned char*>(key_base64.data()),
                          static_cast<int>(key_base64.size()));
  if (n < 0) return "";
  size_t len = static_cast<size_t>(n);
  if (key_base64.ends_with("==")) len -= 2;
  else if (key_base64.ends_with("=")) len -= 1;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(blob.data(), len, digest);
  unsigned char text[64];
  int m = EVP_EncodeBlock(text, digest, SHA256_DIGEST_LENGTH);
  std::string b64(reinterpret_cast<char*>(text), static_cast<size_t>(m));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

std::string format_package(const CredentialsPackage& p) {
  std::string body = std::string(kHeader) + std::to_string(kPackageFormatVersion) + "\n";
  body += "name: " + p.name + "\n";
  body += "host: " + p.host + "\n";
  body += "created: " + p.created + "\n";
  body += "fingerprint: " + p.fingerprint + "\n";
  body += "public-key: " + p.key_type + " " + p.key_base64 + " ferry-credentials:" + p.client_id() + "\n";
  return body + "checksum: sha256:" + sha256_hex(body) + "\n";
}

CredentialsPackage parse_package(std::string_view raw) {
  if (raw.size() > kMaxPackageBytes) refuse("it is larger than any package Ferry makes");
  // Normalise line ends: mail and Windows tools may have turned \n into \r\n.
  std::string text;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    text += raw[i];
  }
  if (!text.starts_with(kHeader)) refuse("it does not start with \"ferry-credentials\"");
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) refuse("its last line is cut off (the file is truncated)");
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::string version = lines[0].substr(kHeader.size());
  if (version != std::to_string(kPackageFormatVersion)) {
    throw FatalError("this credentials package has format version " + version + "; this ferry-agent (" +
                     FERRY_VERSION + ") reads version " + std::to_string(kPackageFormatVersion) +
                     ". Nothing was changed. Install a matching ferry-agent, or make the package with a matching ferry.");
  }
  if (lines.back().rfind("checksum: sha256:", 0) != 0) refuse("its checksum line is missing (the file is truncated)");
  std::string body = text.substr(0, text.size() - lines.back().size() - 1);
  if (lines.back().substr(17) != sha256_hex(body)) refuse("its checksum does not match (the file was damaged or edited)");

  std::map<std::string, std::string> fields;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    const std::string& line = lines[i];
    size_t colon = line.find(": ");
    if (colon == std::string::npos || !printable_ascii(line)) refuse("line " + std::to_string(i + 1) + " is malformed");
    if (!fields.emplace(line.substr(0, colon), line.substr(colon + 2)).second) {
      refuse("field " + line.substr(0, colon) + " appears twice");
    }
  }
  for (const char* f : kFields) {
    if (!fields.count(f)) refuse(std::string("field \"") + f + "\" is missing");
  }
  CredentialsPackage p;
  p.name = fields["name"];
  p.host = fields["host"];
  p.created = fields["created"];
  p.fingerprint = fields["fingerprint"];
  if (!valid_key_name(p.name)) refuse("the key name \"" + p.name + "\" is not valid");
  if (p.host.empty() || p.host.find_first_of(" \t\"'\\@") != std::string::npos) refuse("the host name is not valid");
  std::string_view key = fields["public-key"];
  size_t sp1 = key.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : key.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) refuse("the public key line is malformed");
  p.key_type = std::string(key.substr(0, sp1));
  p.key_base64 = std::string(key.substr(sp1 + 1, sp2 - sp1 - 1));
  if (key.substr(sp2 + 1) != "ferry-credentials:" + p.client_id()) refuse("the public key's label does not match its name");
  static const char* kTypes[] = {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                 "ecdsa-sha2-nistp521"};
  bool known = false;
  for (const char* t : kTypes) known = known || p.key_type == t;
  if (!known) refuse("the key type \"" + p.key_type + "\" is not one Ferry uses");
  std::string computed = key_fingerprint(p.key_base64);
  if (computed.empty()) refuse("the public key is not valid base64");
  if (computed != p.fingerprint) refuse("the fingerprint does not match the public key");
  return p;
}

}  // namespace ferry
