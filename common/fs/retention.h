// Which snapshots `ferry forget` keeps: restic's rules. Each rule keeps snapshots on its own
// and the rules combine with OR:
//
//   last N      the N newest
//   hourly N    the newest snapshot of each of the last N hours that have one (local time);
//   daily, weekly (ISO weeks), monthly, yearly N: the same per day, week, month, year
//   within D    every snapshot less than D seconds older than the newest
//
// The newest snapshot is always kept, whatever the rules say.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

struct KeepRules {
  uint32_t last = 0;
  uint32_t hourly = 0;
  uint32_t daily = 0;
  uint32_t weekly = 0;
  uint32_t monthly = 0;
  uint32_t yearly = 0;
  uint64_t within_s = 0;

  bool any() const { return last || hourly || daily || weekly || monthly || yearly || within_s; }
  // "last=2 daily=7 within=86400": the form Open carries. parse() refuses anything else
  // (an unknown rule, a number out of range, a rule twice) with *error set.
  std::string serialize() const;
  static KeepRules parse(std::string_view text, std::string* error);
};

// For snapshots taken at `times` (oldest first), why each is kept ("last", "daily", … joined
// with ", "), or "" for one the rules remove.
std::vector<std::string> apply_keep_rules(const std::vector<std::time_t>& times, const KeepRules& rules);

}  // namespace ferry
