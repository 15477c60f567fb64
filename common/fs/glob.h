// The glob language of filter rules, compiled once and matched without backtracking.
//
// Patterns come from the peer, so no pattern may make matching expensive: a backtracking matcher
// tries every way of splitting the path among the "**"s, which is exponential in their number
// ("**a**a**a**a**a**a**a**a**b" against 48 a's took 15 s). This one follows every way at once:
// it keeps the set of pattern positions reachable after each byte of the path, as bits, and
// advances them all with a few word operations, so its work is at most one step (one 64-bit word
// of positions) per 64 pattern positions per path byte, whatever the pattern.
//
// The language (rsync's): "*" matches any run of bytes but '/', "**" (or more stars) any run at
// all; "?" one byte but '/'; "[a-z]" one byte but '/' in the class, "[!a-z]" or "[^a-z]" one not in
// it (a ']' first in the class is literal, "\" escapes inside it, a '[' with no ']' is a literal
// '['); "\" makes the next byte literal (a trailing "\" is itself); any other byte is itself.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ferry {

class Glob {
 public:
  explicit Glob(std::string_view pattern);

  // True if the whole of `text` matches. If `steps` is given, the work done is added to it (one
  // step per word of live pattern positions per byte of text), so tests can bound it.
  bool matches(std::string_view text, size_t* steps = nullptr) const;
  // True if `text` or any tail of it that starts just after a '/' matches. All the tails are
  // followed in the same pass, so this is bounded like matches(), not by that times the
  // number of components.
  bool matches_some_tail(std::string_view text, size_t* steps = nullptr) const;

 private:
  // Bit i % 64 of word i / 64 is position i: tokens [0, i) have matched the text read so far.
  using Positions = std::vector<uint64_t>;

  bool run(std::string_view text, bool from_each_component, size_t* steps) const;
  // Sets the positions reachable without reading a byte: the one after each live star.
  void add_empty_stars(Positions* live) const;

  size_t words_ = 1;  // per set of positions: one position per token, one for "all matched"
  size_t whole_ = 0;  // the position after the last token: the whole pattern has matched
  // The positions whose token takes the byte and moves on: row row_of_byte_[c] of takes_, which
  // keeps one row per distinct column (most bytes of most patterns share the all-zero one).
  std::array<uint8_t, 256> row_of_byte_{};
  std::vector<uint64_t> takes_;
  Positions stars_;         // "*" and "**": they take any byte but '/', and stay
  Positions double_stars_;  // "**" only: they take a '/' too
};

// Compiles `glob` and matches the whole of `text` against it.
bool glob_match(std::string_view glob, std::string_view text);

}  // namespace ferry
