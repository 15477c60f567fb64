#include "client/ferry_home.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <vector>

namespace ferry {

std::string user_home() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr) return pw->pw_dir;
  return "/";
}

std::string ferry_home() {
  if (const char* home = std::getenv("FERRY_HOME"); home != nullptr && *home != '\0') return home;
  return user_home() + "/.config/ferry";
}

std::string default_known_hosts() { return ferry_home() + "/known_hosts"; }

std::vector<std::string> candidate_identities(const std::string& remembered) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> keys;
  for (const auto& entry : fs::directory_iterator(ferry_home() + "/keys", ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == "") keys.push_back(entry.path().string());
  }
  std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
    bool a_default = a.ends_with("/default"), b_default = b.ends_with("/default");
    return a_default != b_default ? a_default : a < b;
  });
  for (const char* name : {"/.ssh/id_ed25519", "/.ssh/id_rsa"}) {
    std::string path = user_home() + name;
    if (fs::exists(path, ec)) keys.push_back(path);
  }
  if (!remembered.empty() && fs::exists(remembered, ec)) {
    std::erase(keys, remembered);
    keys.insert(keys.begin(), remembered);
  }
  return keys;
}

namespace {

std::string identities_file() { return ferry_home() + "/identities"; }

}  // namespace

std::string remembered_identity(const std::string& host_port) {
  std::ifstream in(identities_file());
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(host_port + " ")) return line.substr(host_port.size() + 1);
  }
  return "";
}

void remember_identity(const std::string& host_port, const std::string& identity) {
  if (remembered_identity(host_port) == identity) return;
  std::string text;
  {
    std::ifstream in(identities_file());
    for (std::string line; std::getline(in, line);) {
      if (!line.starts_with(host_port + " ")) text += line + "\n";
    }
  }
  text += host_port + " " + identity + "\n";
  // Written whole beside it and renamed: a crash leaves the old list or the new one. Only a
  // hint for the order of keys: a failure to write it costs nothing but that order.
  std::string temp = identities_file() + ".new";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << text;
    if (!out) return;
  }
  std::rename(temp.c_str(), identities_file().c_str());
}

}  // namespace ferry
