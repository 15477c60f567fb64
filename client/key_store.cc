#include "client/key_store.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <memory>

#include "base/error.h"
#include "client/ferry_home.h"
#include "client/ssh_keys.h"
#include "keys/openssh_key.h"

namespace ferry {

namespace {

namespace fs = std::filesystem;

std::string keys_dir() { return ferry_home() + "/keys"; }

std::string this_host() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "unknown-host";
  std::string host = name;
  for (char& c : host) {
    if (c == ' ' || c == '@' || c == '"' || c == '\'' || c == '\\') c = '-';
  }
  return host;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

CredentialsPackage create_key(const NewKey& spec) {
  if (!valid_key_name(spec.name)) {
    throw FatalError("key name \"" + spec.name + "\" is not valid: use letters, digits, '_' and '-' (at most 64)",
                     ExitCode::kUsage);
  }
  std::string dir = keys_dir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FatalError("cannot create " + dir + ": " + ec.message());
  ::chmod(ferry_home().c_str(), 0700);
  ::chmod(dir.c_str(), 0700);
  std::string path = dir + "/" + spec.name;
  if (fs::exists(path, ec) && !spec.replace) {
    throw FatalError("a key named " + spec.name + " already exists (" + path +
                     "); pick another --name, or pass --replace to make a new one in its place");
  }

  CredentialsPackage p;
  p.name = spec.name;
  p.host = this_host();
  p.created = utc_now();
  KeyPair pair = generate_key_pair(spec.type, spec.bits, "ferry-credentials:" + p.client_id());
  if (spec.passphrase) {
    // For keys used by hand; a scheduled run has no terminal to ask on (README: keys).
    std::string passphrase = ask_new_passphrase(path);
    std::string encrypted = encrypted_private_key(pair.private_key, passphrase);
    OPENSSL_cleanse(passphrase.data(), passphrase.size());
    OPENSSL_cleanse(pair.private_key.data(), pair.private_key.size());
    pair.private_key = std::move(encrypted);
  }
  p.key_type = pair.type;
  p.key_base64 = pair.public_base64;
  p.fingerprint = key_fingerprint(p.key_base64);
  // Written under a temporary name created 0600, then renamed: never a readable private key.
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  bool ok = fd >= 0 && ::write(fd, pair.private_key.data(), pair.private_key.size()) ==
                           static_cast<ssize_t>(pair.private_key.size());
  ok = ok && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  OPENSSL_cleanse(pair.private_key.data(), pair.private_key.size());
  if (!ok) {
    ::unlink(tmp.c_str());
    throw FatalError(errno_message("could not write the private key to " + tmp, errno));
  }
  std::ofstream(path + ".pub") << p.key_type << " " << p.key_base64 << " ferry-credentials:" << p.client_id() << "\n";
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw FatalError(errno_message("cannot install " + path, errno));
  return p;
}

void write_package_file(const std::string& path, const CredentialsPackage& package) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << format_package(package);
  out.close();
  if (!out) throw FatalError(errno_message("cannot write the credentials package " + path, errno));
}

std::vector<StoredKey> list_keys() {
  std::vector<StoredKey> keys;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(keys_dir(), ec)) {
    if (!e.is_regular_file(ec) || e.path().extension() != "") continue;
    StoredKey k;
    k.name = e.path().filename().string();
    k.path = e.path().string();
    std::ifstream pub(k.path + ".pub");
    std::string blob;
    if (pub >> k.type >> blob) k.fingerprint = key_fingerprint(blob);
    keys.push_back(k);
  }
  // As backups try them (candidate_identities): "default" first, then by name.
  std::sort(keys.begin(), keys.end(), [](const StoredKey& a, const StoredKey& b) {
    return (a.name == "default") != (b.name == "default") ? a.name == "default" : a.name < b.name;
  });
  return keys;
}

void remove_key(const std::string& name) {
  std::string path = keys_dir() + "/" + name;
  if (!valid_key_name(name) || !fs::exists(path)) {
    throw FatalError("no key named " + name + " in " + keys_dir() + " (see ferry keys list)");
  }
  fs::remove(path);
  std::error_code ec;
  fs::remove(path + ".pub", ec);
}

}  // namespace ferry
