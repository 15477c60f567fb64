// FERRY_HOME/volumes: the volume each backup destination lives on, as known_hosts remembers
// hosts. The destination's own state lives on that volume and vanishes with it, so only the
// client can notice that a backup disk is not mounted (Carbon Copy Cloner does not check).
#pragma once

#include <optional>
#include <string>

#include "client/remote_spec.h"
#include "platform/platform.h"

namespace ferry {

class KnownVolumes {
 public:
  // The file at `path` (FERRY_HOME/volumes by default); a missing file knows nothing.
  explicit KnownVolumes(std::string path);

  // The volume recorded for a destination ("user@host:port:/path", or a local absolute path).
  std::optional<platform::Volume> find(const std::string& destination) const;
  // Records (or replaces) it; the file is rewritten whole and renamed into place. Throws
  // FatalError when it cannot be written.
  void remember(const std::string& destination, const platform::Volume& volume);

 private:
  std::string path_;
};

std::string default_known_volumes();  // FERRY_HOME/volumes

// How a destination is named in the file: "user@host:port:/path", or the local absolute path.
std::string volume_key(const Location& far, int port_option, const std::string& far_path);

}  // namespace ferry
