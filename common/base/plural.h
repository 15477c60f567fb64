// "1 file", "2 files": counts in messages read as sentences.
#pragma once

#include <cstdint>
#include <string>

namespace ferry {

// `n` and the noun, in the plural unless n is 1. `plural` is for nouns that do not just add "s".
inline std::string counted(uint64_t n, const std::string& noun, const std::string& plural = "") {
  return std::to_string(n) + " " + (n == 1 ? noun : plural.empty() ? noun + "s" : plural);
}

}  // namespace ferry
