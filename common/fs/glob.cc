#include "fs/glob.h"

#include <utility>

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

}  // namespace

// A set of pattern positions: a flag each for membership in O(1), and the list of members so a
// step visits only the live ones.
class Glob::Positions {
 public:
  explicit Positions(size_t count) : in_(count, false) {}

  bool insert(size_t position) {
    if (in_[position]) return false;
    in_[position] = true;
    members_.push_back(static_cast<uint32_t>(position));
    return true;
  }
  bool contains(size_t position) const { return in_[position]; }
  bool empty() const { return members_.empty(); }
  const std::vector<uint32_t>& members() const { return members_; }
  void clear() {
    for (uint32_t position : members_) in_[position] = false;
    members_.clear();
  }

 private:
  std::vector<bool> in_;
  std::vector<uint32_t> members_;
};

Glob::Glob(std::string_view pattern) {
  for (size_t g = 0; g < pattern.size();) {
    char p = pattern[g];
    std::bitset<256> members;
    size_t class_length = 0;
    if (p == '*') {
      size_t after = g;
      while (after < pattern.size() && pattern[after] == '*') ++after;
      tokens_.push_back({after - g > 1 ? Kind::kStars : Kind::kStar});
      g = after;
    } else if (p == '?') {
      tokens_.push_back({Kind::kOneButSlash});
      ++g;
    } else if (p == '[' && (class_length = read_class(pattern.substr(g), &members)) > 0) {
      tokens_.push_back({Kind::kClass, 0, static_cast<uint32_t>(classes_.size())});
      classes_.push_back(members);
      g += class_length;
    } else if (p == '\\' && g + 1 < pattern.size()) {
      tokens_.push_back({Kind::kByte, static_cast<unsigned char>(pattern[g + 1])});
      g += 2;
    } else {
      tokens_.push_back({Kind::kByte, static_cast<unsigned char>(p)});
      ++g;
    }
  }
}

bool Glob::matches(std::string_view text, size_t* steps) const { return run(text, false, steps); }

bool Glob::matches_some_tail(std::string_view text, size_t* steps) const { return run(text, true, steps); }

bool Glob::takes(const Token& token, unsigned char c) const {
  switch (token.kind) {
    case Kind::kByte:
      return c == token.byte;
    case Kind::kOneButSlash:
      return c != '/';
    case Kind::kClass:
      return classes_[token.class_index].test(c);
    case Kind::kStar:
    case Kind::kStars:
      break;
  }
  return false;
}

// A star may match nothing, so reaching it also reaches the position after it (and after that
// one, were stars ever adjacent: a run of them is one token, so they are not).
void Glob::add_with_empty_stars(size_t position, Positions* to) const {
  while (to->insert(position) && position < tokens_.size() &&
         (tokens_[position].kind == Kind::kStar || tokens_[position].kind == Kind::kStars)) {
    ++position;
  }
}

// Position i means "tokens [0, i) have matched the text read so far"; tokens_.size() means the
// whole pattern has. Each byte moves every live position at once, so no choice is ever undone.
bool Glob::run(std::string_view text, bool from_each_component, size_t* steps) const {
  const size_t whole = tokens_.size();
  Positions now(whole + 1), next(whole + 1);
  add_with_empty_stars(0, &now);
  size_t work = 0;
  for (char byte : text) {
    unsigned char c = static_cast<unsigned char>(byte);
    for (uint32_t position : now.members()) {
      ++work;
      if (position == whole) continue;  // the pattern is used up; more text ends this way
      const Token& token = tokens_[position];
      bool star_takes_it = token.kind == Kind::kStars || (token.kind == Kind::kStar && c != '/');
      if (star_takes_it) {
        add_with_empty_stars(position, &next);
      } else if (takes(token, c)) {
        add_with_empty_stars(position + 1, &next);
      }
    }
    // A tail starting at the next component is one more way in, followed in the same pass.
    if (from_each_component && c == '/') add_with_empty_stars(0, &next);
    std::swap(now, next);
    next.clear();
    if (now.empty() && !from_each_component) break;
  }
  if (steps != nullptr) *steps += work;
  return now.contains(whole);
}

bool glob_match(std::string_view glob, std::string_view text) { return Glob(glob).matches(text); }

}  // namespace ferry
