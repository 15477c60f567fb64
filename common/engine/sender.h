// The sending side of a transfer: lists a local tree, then answers the receiver's requests
// for file data. The client is the sender on backup, the agent on restore.
//
// Three threads keep the pipe full in both directions without a round trip per file:
//   - the caller's thread walks the tree and streams Entry frames;
//   - a reader takes Want (and finally Done) frames off the wire into a queue, so the
//     receiver can always write and never blocks on us;
//   - a worker sends each wanted file as FileData frames and a FileEnd with its hash.
// The per-file "how to send" step lives in send_file(): whole or as a delta, driven by what the
// Want carries; DataWriter then compresses the frames or not.
#pragma once

#include <memory>
#include <string>

#include "engine/data_writer.h"
#include "engine/reporter.h"
#include "fs/filter.h"
#include "engine/framing.h"
#include "protocol/messages.h"
#include "seal/sealed_hashes.h"

namespace ferry {

struct SenderOptions {
  CompressionSettings compression;
  // --checksum: send each regular file's whole-file hash in its Entry, so the receiver compares
  // contents instead of size and mtime. Costs reading every file.
  bool checksum = false;
  // What not to list (and so not to send).
  FilterRules filters;
  // The agent sending a backup back: each entry's owner, mode and type as Ferry's metadata
  // attribute kept them (fs/stored_metadata.h), not as the files on disk have them.
  bool read_stored_metadata = false;
  // A single file's restore: the root stands for the folder it is in, and only this name at
  // the top of it is listed.
  std::string only_name;
  // A sealed backup: each FileEnd carries the SHA-256 of the bytes sent, for the receiver's seal.
  bool seal = false;
  // A restore from a sealed backup: the hashes its seal holds. The FileEnd of each regular
  // file the seal holds carries that hash, which the receiver checks what it wrote against
  // (the agent says so in Opened, bit 2).
  std::shared_ptr<SealedHashes> sealed;
};

class Sender {
 public:
  Sender(Channel& channel, FrameReader& in, FrameWriter& out, Reporter& reporter, TransferStats& stats,
         SenderOptions options = {})
      : channel_(channel), in_(in), out_(out), reporter_(reporter), stats_(stats), options_(std::move(options)) {}

  // Sends the tree at `root` (a local directory). Returns the receiver's Done. Throws
  // FatalError if the session cannot go on (the root is unusable, the connection is lost).
  Done run(const std::string& root);
  // The same for a tree already open: `root_fd` (borrowed) is where every file is opened
  // beneath; `root` names it in messages.
  Done run(int root_fd, const std::string& root);

 private:
  Channel& channel_;
  FrameReader& in_;
  FrameWriter& out_;
  Reporter& reporter_;
  TransferStats& stats_;
  SenderOptions options_;
};

}  // namespace ferry
