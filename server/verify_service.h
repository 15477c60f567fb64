// The agent's half of `ferry verify` (docs/SEALS.md): re-reads a backup on its own disk and
// sends back, in list order, the stored seal's records and, where the tree differs from them,
// what it found instead; never file data. The client rebuilds the seal's root from the records
// and compares it with the root it kept, so the agent's word is only trusted for what it
// found on disk, not for what was sealed.
#pragma once

#include "engine/framing.h"
#include "engine/reporter.h"
#include "protocol/messages.h"
#include "server/confinement.h"

namespace ferry {

// Answers an Open of operation kVerify, after Opened: VerifyItems frames, then VerifyEnd (with
// an empty seal ID when the backup has no seal). Throws FatalError for a path that is not a
// whole backup, or a stored seal that cannot be read.
void serve_verify(const Open& open, const Confinement& rules, FrameWriter& out, Reporter& reporter);

}  // namespace ferry
