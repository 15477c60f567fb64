#include "client/known_volumes.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "client/ferry_home.h"

namespace ferry {

// One JSON object per line: {"destination": ..., "mount": ..., "id": ...}. JSON because a
// destination's path may hold any byte but NUL; a line that does not parse is kept as it is.
KnownVolumes::KnownVolumes(std::string path) : path_(std::move(path)) {}

std::optional<platform::Volume> KnownVolumes::find(const std::string& destination) const {
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("destination") || !j["destination"].is_string()) continue;
    if (j["destination"].get<std::string>() != destination) continue;
    if (!j.contains("mount") || !j["mount"].is_string() || !j.contains("id") || !j["id"].is_string()) continue;
    return platform::Volume{j["mount"].get<std::string>(), j["id"].get<std::string>()};
  }
  return std::nullopt;
}

void KnownVolumes::remember(const std::string& destination, const platform::Volume& volume) {
  std::ifstream in(path_);
  std::string kept, line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("destination") && j["destination"] == destination) continue;
    kept += line + "\n";
  }
  nlohmann::json mine = {{"destination", destination}, {"mount", volume.mount_point}, {"id", volume.id}};
  // Invalid UTF-8 in a path is replaced in the file, never a reason to fail.
  kept += mine.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kept;
    out.flush();
    if (!out) throw FatalError(errno_message("cannot write " + tmp, errno));
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    throw FatalError(errno_message("cannot write " + path_, err));
  }
}

std::string default_known_volumes() { return ferry_home() + "/volumes"; }

std::string volume_key(const Location& far, int port_option, const std::string& far_path) {
  if (!far.remote) return far_path;
  int port = far.port ? far.port : (port_option ? port_option : 22);
  return far.user + "@" + far.host + ":" + std::to_string(port) + ":" + far_path;
}

}  // namespace ferry
