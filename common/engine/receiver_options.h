// What a run asks of its receiver: the options of `ferry backup` and `ferry restore` that
// change how files land on the destination.
#pragma once

#include <cstdint>
#include <string>

#include "fs/filter.h"

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
  // A restore (the client receives): messages about owners speak of restoring.
  bool restoring = false;
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
  // A single file's restore: the root entry stands for the folder the file was in; the
  // receiving folder keeps its own metadata.
  bool leave_root_alone = false;
  // A restore from a sealed backup (Opened bit 2): every file received is hashed as the seal
  // hashes, and one whose FileEnd carries the seal's hash is placed only when they agree.
  bool check_sealed_hashes = false;
};

}  // namespace ferry
