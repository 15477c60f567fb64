// Where seals live on the backup machine: DEST/.ferry-state/seals/, one `mirror.seal` for a
// mirror (replaced by each sealed run) and one `<ID>.seal` per snapshot of a store.
#pragma once

#include <string>

#include "fs/unique_fd.h"

namespace ferry {

inline constexpr const char* kMirrorSealName = "mirror.seal";
inline std::string snapshot_seal_name(const std::string& id) { return id + ".seal"; }

// DEST/.ferry-state/seals of the destination open at `dest_fd`, each step without following
// a symlink; invalid when there is none (errno says why).
UniqueFd find_seals_dir(int dest_fd);
// .ferry-state/seals under the state folder `state_dir`, made if missing. Throws FatalError.
UniqueFd make_seals_dir(int state_dir);

}  // namespace ferry
