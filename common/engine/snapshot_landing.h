// A snapshot run's landing (engine/landing.h, fs/snapshot_store.h): the tree is made in
// DEST/.ferry-state/building, a file unchanged since the previous snapshot is linked to that
// snapshot's copy (or delta-encoded against it when it changed), and the finished tree is
// renamed to DEST/<ID> and DEST/latest pointed at it.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "engine/landing.h"
#include "fs/dest_state.h"

namespace ferry {

class SnapshotLanding : public Landing {
 public:
  // Opens (or makes) the tree of the snapshot of a run started at `start`, in the locked
  // `state` of `dest`. A tree left by a cut-off run is reused: what it received is not sent
  // again. *warning says what was odd about the store ("" if nothing). Throws FatalError.
  SnapshotLanding(ConfinedRoot& dest, DestinationState& state, std::time_t start, std::string* warning);

  const std::string& id() const { return id_; }
  // The snapshot this one builds on ("" for the first).
  const std::string& previous_id() const { return previous_id_; }

  ConfinedRoot& tree() override { return *building_; }
  EarlierVersion earlier_version(const std::string& path) override;
  UniqueFd open_earlier(const std::string& path) override;
  bool may_change_in_place(const struct stat& st) const override;
  std::string publish(bool durable) override;

 private:
  ConfinedRoot& dest_;
  DestinationState& state_;
  std::string id_;
  std::string previous_id_;
  std::optional<ConfinedRoot> building_;
  std::optional<ConfinedRoot> previous_;
};

}  // namespace ferry
