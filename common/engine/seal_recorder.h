// The receiver's half of sealing a backup (docs/SEALS.md): one record per listed entry, written
// in list order as entries arrive, into DEST/.ferry-state/seals/. A file whose data is coming
// gets its record at once and its content hash (the sender's SHA-256, from FileEnd) when the
// data has arrived; a file the run leaves as it was keeps the hash the previous seal gave it,
// so a no-change run reads no file. Once the tree is in place, finish() builds the hash tree and
// puts the seal under its name; a mirror whose every record came out as the previous seal has
// it keeps that seal as it is (its ID, the time of the last run that changed something), and
// the run writes and syncs nothing for it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/reporter.h"
#include "fs/confined_root.h"
#include "fs/dest_state.h"
#include "protocol/file_entry.h"
#include "protocol/messages.h"
#include "seal/seal_cursor.h"
#include "seal/seal_file.h"

namespace ferry {

class SealRecorder {
 public:
  // What the receiver did with a listed entry.
  enum class Placed {
    kInPlace,    // made, or already there: its content is what the destination holds now
    kWanted,     // its data was asked for: arrived() or not_stored() follows
    kNotStored,  // failed, or its name was taken
    kFollower,   // a hard link to an earlier entry, linked at the end
  };

  // The seal `name` (in .ferry-state/seals of `state`) of the tree `tree`, built on the seal
  // `previous_name` ("" = none), with `id` in its header. Throws FatalError if it cannot start.
  SealRecorder(DestinationState& state, ConfinedRoot& tree, std::string name, const std::string& previous_name,
               std::string id, Reporter& reporter);

  // Each listed entry, in list order, before it is placed; then what became of it.
  void listed(uint64_t index, const FileEntry& entry);
  void placed(uint64_t index, Placed how, uint64_t leader = 0);
  // A wanted file is in place with `placed` (its final mtime) and the sender's SHA-256.
  void arrived(uint64_t index, const Hash256& sha256, const FileEntry& placed);
  void not_stored(uint64_t index);

  // Builds the tree and puts the seal in place. `complete`: the destination holds exactly the
  // listed tree (seal_flags::kComplete).
  SealSummary finish(bool complete, bool sync);
  // After finish(): the seal this one built on, as its records give it (id "" when there was
  // none; root zero when it could not be read whole or did not match its own root). The client
  // checks it against the roots it kept: the chain from one seal to the next.
  const SealSummary& previous() const { return previous_summary_; }

 private:
  struct Content {
    Sha256Digest sha{};
    int64_t mtime_sec = 0;
    uint32_t mtime_nsec = 0;
  };
  struct Listed {
    uint64_t index = 0;
    uint64_t at = 0;
    std::string path;
    FileType type = FileType::kRegular;
    uint64_t size = 0;
    int64_t mtime_sec = 0;
    uint32_t mtime_nsec = 0;
    bool leader = false;  // the first name of a hard-linked inode
    std::string body;     // the record as written (its content filled in once known)
    std::string sent_content;  // a sealed --checksum run: the sender's hash of the file
  };
  bool content_in_place(const Listed& listed, Content* out);
  // Whether the last listed record is the previous seal's record of that path, byte for byte
  // (but for the content hash, with `ignore_content`: a hard link's, filled in at the end).
  void compare_with_previous(bool ignore_content);

  ConfinedRoot& tree_;
  Reporter& reporter_;
  UniqueFd dir_;
  std::string name_;
  SealCursor previous_;
  SealWriter writer_;
  Listed last_;
  std::unordered_map<uint64_t, uint64_t> pending_;  // wanted index -> its record
  // Hard links: each inode's first name (list index, record), in list order, and each later
  // name's (record, first name's record). At the end a later name's record takes what its first
  // name's record holds by then: 32 bytes an inode, where a table of contents was some 90.
  std::vector<std::pair<uint64_t, uint64_t>> leaders_;
  std::vector<std::pair<uint64_t, uint64_t>> followers_;
  bool previous_problem_said_ = false;
  // A mirror's seal is the previous one's name: it may be kept when nothing changed.
  bool may_keep_previous_;
  bool same_as_previous_ = true;
  uint64_t matched_ = 0;  // records that came out as the previous seal's
  bool had_previous_;
  SealSummary previous_summary_;
};

}  // namespace ferry
