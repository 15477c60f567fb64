// `ferry restore --at WHEN`: what a person types, turned into what the agent resolves
// (fs/snapshot_store.h resolve_snapshot): "latest", a snapshot ID, or "<=" and the ID form of
// a UTC time, meaning the newest snapshot at or before it.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace ferry {

// Accepts "latest"; an ID ("2026-12-02T03-15-00Z", with or without its "-N"); a local date
// "2026-11-30" (the end of that day) or date and time "2026-11-30 14:05[:30]"; "N minutes|hours|
// days|weeks ago" (singular too) counted back from `now`. Returns "" with *error set for
// anything else.
std::string snapshot_at_from_text(std::string_view text, std::time_t now, std::string* error);

// --keep-within: an age as restic writes it, "1y6m", "30d", "2w3d", "12h" (y = 365 days, m = 30
// days). Returns the seconds, or 0 with *error set.
uint64_t parse_age(std::string_view text, std::string* error);

}  // namespace ferry
