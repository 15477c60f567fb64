// The receiver's decision for each listed entry, and everything that needs no file data: a
// directory made, a symlink, fifo or device made, a file's metadata brought up to date, a file
// linked to or copied from the landing's earlier version. A regular file that needs data is
// recorded as wanted and asked for (with a basis signature when there is an old version to
// patch: the BasisSigner sends that Want), and waits here until its data begins.
//
// What the end of the run needs from here: the directories in list order (their metadata goes
// on last) and the files that get immutable or append-only flags once everything is in place.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/basis_signer.h"
#include "engine/framing.h"
#include "engine/incoming_file.h"
#include "engine/installer.h"
#include "engine/landing.h"
#include "engine/receiver_options.h"
#include "engine/reporter.h"
#include "engine/spilled_entries.h"
#include "fs/dest_state.h"
#include "fs/metadata.h"
#include "protocol/messages.h"

namespace ferry {

// What is at an entry's name on the destination before the run touches it.
struct Existing {
  struct stat st {};
  uint32_t flags = 0;  // file_flags bits (platform::stat_at)
};

class EntryPlacer {
 public:
  EntryPlacer(const ReceiverOptions& options, const ApplyOptions& apply, Landing& landing, DestinationState* state,
              Installer& installer, Reporter& reporter, TransferStats& stats, FrameWriter& out,
              std::mutex& wire_order, BasisSigner& signer)
      : options_(options), apply_(apply), landing_(landing), root_(landing.tree()), state_(state),
        installer_(installer), reporter_(reporter), stats_(stats), out_(out), wire_order_(wire_order),
        signer_(signer) {}
  EntryPlacer(const EntryPlacer&) = delete;
  EntryPlacer& operator=(const EntryPlacer&) = delete;

  // Entry `index` of the list, whose folder is `dir` (-1 in a dry run when it does not exist
  // yet), with what is at its name now (null: nothing). Returns true when it made a folder that
  // was not there: what is listed in it is new, with nothing at its name to look at.
  bool place(uint64_t index, int dir, FileEntry& entry, const Existing* existing);

  // A file whose data is arriving: what was asked for it, once (nullopt: it was not wanted).
  std::optional<WantedFile> take_wanted(uint64_t index);
  // Asks for a file again, whole (its delta did not verify, or it changed while read).
  void want_again(uint64_t index, WantedFile file);
  bool waiting_for_data() const { return !wanted_.empty(); }
  bool is_wanted(uint64_t index) const { return wanted_.count(index) != 0; }
  // The lowest index still waiting for its data, if any.
  std::optional<uint64_t> first_wanted() const {
    return wanted_.empty() ? std::nullopt : std::optional<uint64_t>(wanted_.begin()->first);
  }

  // A file placed with its data: its protecting flags go on at the end.
  void protect_later(const FileEntry& entry);

  const SpilledEntries& dirs() const { return dirs_; }
  std::vector<FileEntry> take_to_protect() { return std::move(to_protect_); }

 private:
  void fail(const std::string& text) { installer_.fail(text); }
  bool make_directory(int dir, FileEntry& entry, const Existing* existing);
  void plan_file(uint64_t index, int dir, FileEntry& entry, const Existing* existing);
  bool resume_partial(uint64_t index, WantedFile& wanted);
  bool reuse_earlier_version(uint64_t index, int dir, FileEntry& entry);
  void copy_with_metadata(int from_dir, const std::string& from_leaf, int dir, const FileEntry& entry);
  std::string hash_of(int dir, const std::string& path);
  void send_want(const Want& want);
  bool metadata_matches(int dir, const std::string& leaf, const struct stat& st, uint32_t flags,
                        const FileEntry& entry);
  void refresh_metadata(int dir, const FileEntry& entry, const Existing& existing);
  void make_special(int dir, FileEntry& entry, const Existing* existing);
  void store_special(int dir, const FileEntry& entry, const Existing* existing);

  const ReceiverOptions& options_;
  const ApplyOptions& apply_;  // the session's: its probes fill it in before the list arrives
  Landing& landing_;
  ConfinedRoot& root_;  // landing_.tree()
  DestinationState* state_;  // null for a dry run
  Installer& installer_;
  Reporter& reporter_;
  TransferStats& stats_;
  FrameWriter& out_;
  std::mutex& wire_order_;  // held while sending a Want (and its signature)
  BasisSigner& signer_;
  // Asked for, data not begun; ordered, for first_wanted(). At most a list window of them
  // (wire::kListWindow): the sender lists no further ahead.
  std::map<uint64_t, WantedFile> wanted_;
  SpilledEntries dirs_{4096, spill_dir_of(state_)};
  std::vector<FileEntry> to_protect_;  // files that get immutable or append-only flags at the end
};

}  // namespace ferry
