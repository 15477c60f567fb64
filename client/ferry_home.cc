#include "client/ferry_home.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
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

std::string default_identity() {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> keys;
  for (const auto& entry : fs::directory_iterator(ferry_home() + "/keys", ec)) {
    std::string path = entry.path().string();
    if (entry.is_regular_file(ec) && entry.path().extension() == "") keys.push_back(path);
  }
  std::sort(keys.begin(), keys.end());
  if (!keys.empty()) return keys.front();
  for (const char* name : {"/.ssh/id_ed25519", "/.ssh/id_rsa"}) {
    std::string path = user_home() + name;
    if (fs::exists(path, ec)) return path;
  }
  return "";
}

}  // namespace ferry
