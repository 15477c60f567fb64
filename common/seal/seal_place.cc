#include "seal/seal_place.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "base/error.h"
#include "fs/dest_state.h"

namespace ferry {

namespace {
constexpr const char* kSealsDirName = "seals";
constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
}  // namespace

UniqueFd find_seals_dir(int dest_fd) {
  UniqueFd state(::openat(dest_fd, std::string(kStateDirName).c_str(), kDirFlags));
  if (!state.valid()) return state;
  return UniqueFd(::openat(state.get(), kSealsDirName, kDirFlags));
}

UniqueFd make_seals_dir(int state_dir) {
  if (::mkdirat(state_dir, kSealsDirName, 0700) != 0 && errno != EEXIST) {
    throw FatalError(errno_message("cannot make the folder of seals in .ferry-state", errno));
  }
  UniqueFd dir(::openat(state_dir, kSealsDirName, kDirFlags));
  if (!dir.valid()) throw FatalError(errno_message("cannot open the folder of seals in .ferry-state", errno));
  return dir;
}

}  // namespace ferry
