// The receiving side of a transfer: reproduces the sender's tree under a confined root. The
// agent is the receiver on backup, the client on restore.
//
// One thread reads every frame in order. For each Entry the EntryPlacer (entry_placer.h)
// decides what the file needs (nothing, metadata only, or data) and, for data, sends a Want
// without waiting; where the tree lands is the Landing's (landing.h: a mirror, a snapshot); data for
// wanted files arrives later, interleaved with the rest of the list. A file we already have an
// old version of goes to a second thread (BasisSigner), which reads and signs that version and
// sends the Want with the signature, while this thread writes what has arrived. Each file is written to a
// temporary name beside its destination, verified against the sender's hash, given its
// metadata and renamed into place: a destination file is always the old or the new version.
//
// The list must arrive in strictly increasing path order with every parent listed as a
// directory first; anything else (a duplicate, an unlisted parent, "..") ends the session.
#pragma once

#include <string>

#include "engine/landing.h"
#include "engine/receiver_options.h"
#include "engine/reporter.h"
#include "engine/seal_recorder.h"
#include "fs/confined_root.h"
#include "fs/dest_state.h"
#include "engine/framing.h"
#include "protocol/messages.h"

namespace ferry {

class Receiver {
 public:
  Receiver(FrameReader& in, FrameWriter& out, Reporter& reporter, TransferStats& stats,
           ReceiverOptions options)
      : in_(in), out_(out), reporter_(reporter), stats_(stats), options_(std::move(options)) {}

  // Receives a whole tree into `root` and sends Done. Returns what Done reported. With `state`
  // (every real run; not a dry run), files are made in its tmp/ folder, a file cut off by an
  // earlier run is resumed from what arrived then, and the run ends by marking itself finished.
  Done run(ConfinedRoot& root, DestinationState* state = nullptr);
  // The same into a landing (engine/landing.h): its tree, published once complete. With `seal`,
  // the run is sealed (engine/seal_recorder.h), and Done carries the seal's root.
  Done run(Landing& landing, DestinationState* state = nullptr, SealRecorder* seal = nullptr);

 private:
  FrameReader& in_;
  FrameWriter& out_;
  Reporter& reporter_;
  TransferStats& stats_;
  ReceiverOptions options_;
};

}  // namespace ferry
