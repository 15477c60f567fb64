// The glob language of filter rules, compiled once and matched without backtracking.
//
// Patterns come from the peer, so no pattern may make matching expensive: a backtracking matcher
// tries every way of splitting the path among the "**"s, which is exponential in their number
// ("**a**a**a**a**a**a**a**a**b" against 48 a's took 15 s). This one follows every way at once:
// it keeps the set of pattern positions reachable after each byte of the path and advances them
// all together, so its work is at most (tokens + 1) steps per path byte, whatever the pattern.
//
// The language (rsync's): "*" matches any run of bytes but '/', "**" (or more stars) any run at
// all; "?" one byte but '/'; "[a-z]" one byte but '/' in the class, "[!a-z]" or "[^a-z]" one not in
// it (a ']' first in the class is literal, "\" escapes inside it, a '[' with no ']' is a literal
// '['); "\" makes the next byte literal (a trailing "\" is itself); any other byte is itself.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ferry {

class Glob {
 public:
  explicit Glob(std::string_view pattern);

  // True if the whole of `text` matches. If `steps` is given, the work done is added to it (one
  // step per live pattern position per byte of text), so tests can bound it.
  bool matches(std::string_view text, size_t* steps = nullptr) const;
  // True if `text` or any tail of it that starts just after a '/' matches. All the tails are
  // followed in the same pass, so this is bounded like matches(), not by that times the
  // number of components.
  bool matches_some_tail(std::string_view text, size_t* steps = nullptr) const;

  // What one byte of text costs at most, in steps.
  size_t max_steps_per_byte() const { return tokens_.size() + 1; }

 private:
  enum class Kind : uint8_t { kByte, kOneButSlash, kClass, kStar, kStars };
  struct Token {
    Kind kind;
    unsigned char byte = 0;    // kByte
    uint32_t class_index = 0;  // kClass: into classes_
  };
  class Positions;

  bool run(std::string_view text, bool from_each_component, size_t* steps) const;
  bool takes(const Token& token, unsigned char c) const;
  void add_with_empty_stars(size_t position, Positions* to) const;

  std::vector<Token> tokens_;
  std::vector<std::bitset<256>> classes_;
};

// Compiles `glob` and matches the whole of `text` against it.
bool glob_match(std::string_view glob, std::string_view text);

}  // namespace ferry
