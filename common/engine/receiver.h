// The receiving side of a transfer: reproduces the sender's tree under a confined root. The
// agent is the receiver on backup, the client on restore.
//
// One thread reads every frame in order. For each Entry it decides what the file needs
// (nothing, metadata only, or data) and, for data, sends a Want without waiting; data for
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

#include "engine/reporter.h"
#include "fs/confined_root.h"
#include "fs/dest_state.h"
#include "fs/filter.h"
#include "engine/framing.h"
#include "protocol/messages.h"

namespace ferry {

struct ReceiverOptions {
  bool dry_run = false;
  // Open asked for compression: only then may Compressed frames arrive.
  bool compressed = false;
  bool keep_owner = false;  // true when running as root
  // Not root, on the backup machine: what cannot be applied is kept in Ferry's metadata
  // attribute (fs/stored_metadata.h), and fifos and devices become empty regular files.
  bool store_metadata = false;
  // Whether the run ends with everything it wrote on disk (writeback while data arrives, one
  // syncfs at the end). Off (--no-sync) is rsync's default: faster, and a power cut soon after
  // may lose what the run reported as copied.
  bool flush_to_disk = true;
  // Who we are in messages about ownership ("ferry-agent", "ferry").
  std::string program_name = "ferry";
  // --delete: once every file is in place, entries the sender did not list are removed,
  // except those the filters leave out (unless delete_excluded), and never when the sender
  // could not list everything. With safety_net, they and every file this run replaces are
  // moved into DEST/.ferry-safetynet/<time>/ instead, which is then pruned to the limits.
  bool delete_extraneous = false;
  bool delete_excluded = false;
  bool safety_net = false;
  uint64_t safety_net_keep_s = 0;
  uint64_t safety_net_keep_bytes = 0;
  FilterRules filters;
};

class Receiver {
 public:
  Receiver(FrameReader& in, FrameWriter& out, Reporter& reporter, TransferStats& stats,
           ReceiverOptions options)
      : in_(in), out_(out), reporter_(reporter), stats_(stats), options_(std::move(options)) {}

  // Receives a whole tree into `root` and sends Done. Returns what Done reported. With `state`
  // (every real run; not a dry run), files are made in its tmp/ folder, a file cut off by an
  // earlier run is resumed from what arrived then, and the run ends by marking itself finished.
  Done run(ConfinedRoot& root, DestinationState* state = nullptr);

 private:
  FrameReader& in_;
  FrameWriter& out_;
  Reporter& reporter_;
  TransferStats& stats_;
  ReceiverOptions options_;
};

}  // namespace ferry
