// What to say when a command line does not parse, beyond "not expected": the nearest command
// or option to a misspelt one, and Ferry's answer to an rsync option typed out of habit.
#pragma once

#include <string>
#include <vector>

namespace ferry {

// The candidate closest to `word` (at most two edits, or `word` a prefix of exactly one); ""
// if none is close.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

// For an rsync option Ferry does not have (-a, -e, -P, --partial, …), what Ferry does
// instead; "" if `arg` is not one.
std::string rsync_option_hint(const std::string& arg);

}  // namespace ferry
