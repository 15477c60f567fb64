// The agent's answers about a snapshot store, which move no file data: its snapshots with
// their sizes (`ferry snapshots`), the entries of one (`ferry ls`), and the removal of the
// ones retention rules no longer keep (`ferry forget`). Each answer is a run of SnapshotInfo
// or Entry frames closed by ListingEnd (docs/PROTOCOL.md §8b).
#pragma once

#include "engine/framing.h"
#include "engine/reporter.h"
#include "protocol/messages.h"
#include "server/confinement.h"

namespace ferry {

// Answers an Open of operation kSnapshots, kList or kForget, after Opened. Throws FatalError
// naming the fix (not a store, no rule, an unknown snapshot).
void serve_store_query(const Open& open, const Confinement& rules, FrameWriter& out, Reporter& reporter);

}  // namespace ferry
