// What the destination cannot keep of the entries it receives, said once a run each: owners
// (the receiver is not root), setuid and setgid bits (stripped for the same reason), times
// outside what its file system stores, and ACLs on a file system without them. The receiver shows each entry here as it arrives; the
// first entry that meets a limit is named, the rest go unsaid (one line, not one per file).
#pragma once

#include <string>

#include "engine/reporter.h"
#include "fs/metadata.h"
#include "protocol/file_entry.h"

namespace ferry {

class MetadataNotices {
 public:
  // `program_name` says who cannot keep it ("ferry-agent"); `apply` is what the receiver
  // applies (its keep_owner and the destination's time range), read at each entry.
  MetadataNotices(Reporter& reporter, std::string program_name, const ApplyOptions& apply, bool restoring)
      : reporter_(reporter), program_name_(std::move(program_name)), apply_(apply), restoring_(restoring) {}

  // Where the destination keeps its state (DEST/.ferry-state): a "not running as root" notice
  // said there once is not said again on later runs into the same destination (the user has
  // heard it; every nightly run repeating it teaches them to ignore warnings).
  void remember_in(int state_dir) { state_dir_ = state_dir; }

  // `shown` names the entry in messages (its destination path, printable).
  void look_at(const FileEntry& entry, const std::string& shown);

 private:
  Reporter& reporter_;
  std::string program_name_;
  const ApplyOptions& apply_;
  bool restoring_;
  int state_dir_ = -1;

  // Whether `kind` was said in an earlier run into this destination; notes that it now is.
  bool said_before(const char* kind);
  bool said_owner_ = false;
  bool said_setid_ = false;
  bool said_time_ = false;
  bool said_acl_ = false;
  bool said_flags_ = false;
};

}  // namespace ferry
