#include "fs/glob.h"

#include <bitset>
#include <map>

namespace ferry {
namespace {

// Reads the bracket class at glob[0] == '['. Returns its length and sets *members to the bytes it
// matches ('/' is never one), or returns 0 if it has no closing ']' (the '[' is then a literal).
size_t read_class(std::string_view glob, std::bitset<256>* members) {
  size_t i = 1;
  bool negate = i < glob.size() && (glob[i] == '!' || glob[i] == '^');
  if (negate) ++i;
  std::bitset<256> listed;
  // A ']' right after the '[' (or the '!') is a member, not the end.
  for (bool first = true; i < glob.size() && (glob[i] != ']' || first); ++i) {
    first = false;
    unsigned char lo = glob[i];
    if (lo == '\\' && i + 1 < glob.size()) lo = glob[++i];
    unsigned char hi = lo;
    if (i + 2 < glob.size() && glob[i + 1] == '-' && glob[i + 2] != ']') {
      hi = glob[i + 2];
      i += 2;
    }
    for (unsigned c = lo; c <= hi; ++c) listed.set(c);
  }
  if (i >= glob.size()) return 0;
  *members = negate ? ~listed : listed;
  members->reset('/');
  return i + 1;
}

// One token of a pattern: a star, or the set of bytes it takes before moving on.
struct Token {
  bool star = false;
  bool crosses_slash = false;  // "**"
  std::bitset<256> takes;
};

std::vector<Token> read_tokens(std::string_view pattern) {
  std::vector<Token> tokens;
  for (size_t g = 0; g < pattern.size();) {
    Token token;
    char p = pattern[g];
    size_t class_length = 0;
    if (p == '*') {
      // A run of stars is one token, so two stars are never adjacent.
      size_t after = pattern.find_first_not_of('*', g);
      if (after == std::string_view::npos) after = pattern.size();
      token.star = true;
      token.crosses_slash = after - g > 1;
      g = after;
    } else if (p == '?') {
      token.takes.set().reset('/');
      ++g;
    } else if (p == '[' && (class_length = read_class(pattern.substr(g), &token.takes)) > 0) {
      g += class_length;
    } else if (p == '\\' && g + 1 < pattern.size()) {
      token.takes.set(static_cast<unsigned char>(pattern[g + 1]));
      g += 2;
    } else {
      token.takes.set(static_cast<unsigned char>(p));
      ++g;
    }
    tokens.push_back(token);
  }
  return tokens;
}

void set_position(std::vector<uint64_t>& words, size_t at, size_t position) {
  words[at + position / 64] |= uint64_t{1} << (position % 64);
}

}  // namespace

Glob::Glob(std::string_view pattern) {
  std::vector<Token> tokens = read_tokens(pattern);
  whole_ = tokens.size();
  words_ = whole_ / 64 + 1;
  stars_.assign(words_, 0);
  double_stars_.assign(words_, 0);
  std::vector<uint64_t> column(256 * words_, 0);  // the positions that take each byte
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].star) set_position(stars_, 0, i);
    if (tokens[i].crosses_slash) set_position(double_stars_, 0, i);
    for (unsigned c = 0; c < 256; ++c) {
      if (tokens[i].takes.test(c)) set_position(column, c * words_, i);
    }
  }
  // Bytes with the same column share a row: "*.o" keeps three, not 256.
  std::map<std::vector<uint64_t>, uint8_t> row_of_column;
  for (unsigned c = 0; c < 256; ++c) {
    std::vector<uint64_t> one(column.begin() + c * words_, column.begin() + (c + 1) * words_);
    auto [it, added] = row_of_column.try_emplace(std::move(one), static_cast<uint8_t>(row_of_column.size()));
    if (added) takes_.insert(takes_.end(), it->first.begin(), it->first.end());
    row_of_byte_[c] = it->second;
  }
}

bool Glob::matches(std::string_view text, size_t* steps) const { return run(text, false, steps); }

bool Glob::matches_some_tail(std::string_view text, size_t* steps) const { return run(text, true, steps); }

// A star may match nothing, so a live star makes the position after it live too. One hop is
// enough: the position after a star is never a star.
void Glob::add_empty_stars(Positions* live) const {
  uint64_t carry = 0;  // the top position of the word below, moving up one
  for (size_t w = 0; w < words_; ++w) {
    uint64_t at_star = (*live)[w] & stars_[w];
    (*live)[w] |= (at_star << 1) | carry;
    carry = at_star >> 63;
  }
}

// Each byte moves every live position at once: a token that takes the byte moves its position up
// one, a star that takes it stays. No choice is ever made, so none is ever undone.
bool Glob::run(std::string_view text, bool from_each_component, size_t* steps) const {
  Positions start(words_, 0);
  start[0] = 1;
  add_empty_stars(&start);
  Positions live = start;
  Positions next(words_);
  size_t work = 0;
  for (char byte : text) {
    unsigned char c = static_cast<unsigned char>(byte);
    const uint64_t* takes = &takes_[row_of_byte_[c] * words_];
    const Positions& stay = c == '/' ? double_stars_ : stars_;
    uint64_t carry = 0;
    uint64_t any = 0;
    for (size_t w = 0; w < words_; ++w) {
      uint64_t moved = live[w] & takes[w];
      next[w] = (moved << 1) | carry | (live[w] & stay[w]);
      carry = moved >> 63;
      any |= next[w];
    }
    work += words_;
    add_empty_stars(&next);
    // A tail starting at the next component is one more way in, followed in the same pass.
    if (from_each_component && c == '/') {
      for (size_t w = 0; w < words_; ++w) next[w] |= start[w];
    } else if (any == 0 && !from_each_component) {
      live.swap(next);
      break;
    }
    live.swap(next);
  }
  if (steps != nullptr) *steps += work;
  return (live[whole_ / 64] >> (whole_ % 64)) & 1;
}

bool glob_match(std::string_view glob, std::string_view text) { return Glob(glob).matches(text); }

}  // namespace ferry
