#include "fs/filter.h"

namespace ferry {
namespace {

// Matches a bracket class at glob[0] == '[' against c. Sets *consumed to the class's length;
// a '[' without its ']' is a literal '[' (consumed 1).
bool class_matches(std::string_view glob, char c, size_t* consumed) {
  size_t i = 1;
  bool negate = i < glob.size() && (glob[i] == '!' || glob[i] == '^');
  if (negate) ++i;
  bool hit = false;
  bool first = true;
  while (i < glob.size() && (glob[i] != ']' || first)) {
    first = false;
    char lo = glob[i];
    if (lo == '\\' && i + 1 < glob.size()) lo = glob[++i];
    char hi = lo;
    if (i + 2 < glob.size() && glob[i + 1] == '-' && glob[i + 2] != ']') {
      hi = glob[i + 2];
      i += 2;
    }
    if (static_cast<unsigned char>(c) >= static_cast<unsigned char>(lo) &&
        static_cast<unsigned char>(c) <= static_cast<unsigned char>(hi)) {
      hit = true;
    }
    ++i;
  }
  if (i >= glob.size()) {
    *consumed = 1;
    return c == '[';
  }
  *consumed = i + 1;
  return hit != negate && c != '/';
}

}  // namespace

bool glob_match(std::string_view glob, std::string_view text) {
  size_t g = 0, t = 0;
  // Backtracking for the last '*' seen (the classic linear wildcard match); "**" restarts the
  // recursion because it may swallow slashes.
  size_t star_g = std::string_view::npos, star_t = 0;
  while (t < text.size() || g < glob.size()) {
    if (g < glob.size()) {
      char p = glob[g];
      if (p == '*' && g + 1 < glob.size() && glob[g + 1] == '*') {
        size_t rest = g + 2;
        while (rest < glob.size() && glob[rest] == '*') ++rest;
        for (size_t k = t; k <= text.size(); ++k) {
          if (glob_match(glob.substr(rest), text.substr(k))) return true;
        }
        return false;
      }
      if (p == '*') {
        star_g = g++;
        star_t = t;
        continue;
      }
      if (t < text.size()) {
        char c = text[t];
        if (p == '?' && c != '/') {
          ++g, ++t;
          continue;
        }
        if (p == '[') {
          size_t consumed = 1;
          if (class_matches(glob.substr(g), c, &consumed)) {
            g += consumed, ++t;
            continue;
          }
        } else if (p == '\\' && g + 1 < glob.size()) {
          if (glob[g + 1] == c) {
            g += 2, ++t;
            continue;
          }
        } else if (p != '?' && p == c) {
          ++g, ++t;
          continue;
        }
      }
    }
    // Mismatch: let the last '*' take one more character, unless that would cross a '/'.
    if (star_g != std::string_view::npos && star_t < text.size() && text[star_t] != '/') {
      g = star_g + 1;
      t = ++star_t;
      continue;
    }
    return false;
  }
  return true;
}

void FilterRules::add(bool include, std::string pattern) {
  Rule rule;
  rule.include = include;
  rule.text = pattern;
  std::string_view p = pattern;
  if (!p.empty() && p.front() == '/') {
    rule.anchored = true;
    p.remove_prefix(1);
  }
  if (!p.empty() && p.back() == '/') {
    rule.dir_only = true;
    p.remove_suffix(1);
  }
  rule.glob = std::string(p);
  rule.whole_path = rule.anchored || p.find('/') != std::string_view::npos || p.find("**") != std::string_view::npos;
  rules_.push_back(std::move(rule));
}

bool FilterRules::matches(const Rule& rule, std::string_view path, bool is_dir) {
  if (rule.dir_only && !is_dir) return false;
  if (rule.anchored) return glob_match(rule.glob, path);
  if (!rule.whole_path) {
    size_t slash = path.rfind('/');
    return glob_match(rule.glob, slash == std::string_view::npos ? path : path.substr(slash + 1));
  }
  // Any tail of the path that starts at a component.
  for (size_t at = 0;;) {
    if (glob_match(rule.glob, path.substr(at))) return true;
    size_t slash = path.find('/', at);
    if (slash == std::string_view::npos) return false;
    at = slash + 1;
  }
}

bool FilterRules::excluded(std::string_view path, bool is_dir) const {
  for (const Rule& rule : rules_) {
    if (matches(rule, path, is_dir)) return !rule.include;
  }
  return false;
}

std::string FilterRules::add_file_lines(std::string_view text) {
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    bool include = false;
    if (line.starts_with("+ ") || line.starts_with("- ")) {
      include = line.front() == '+';
      line.remove_prefix(2);
    }
    if (line.empty()) return "line " + std::to_string(line_no) + ": a rule without a pattern";
    if (line.size() > kMaxPatternBytes) return "line " + std::to_string(line_no) + ": pattern longer than 4095 bytes";
    add(include, std::string(line));
  }
  return "";
}

std::string FilterRules::serialize() const {
  std::string out;
  for (const Rule& rule : rules_) {
    out += rule.include ? "+ " : "- ";
    out += rule.text;
    out += '\n';
  }
  return out;
}

std::string FilterRules::parse(std::string_view text, FilterRules* out) {
  *out = FilterRules();
  while (!text.empty()) {
    size_t end = text.find('\n');
    if (end == std::string_view::npos) return "a filter rule without its newline";
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    if (line.size() < 3 || (line[0] != '+' && line[0] != '-') || line[1] != ' ') {
      return "a filter rule that is not \"+ PATTERN\" or \"- PATTERN\"";
    }
    if (line.size() - 2 > kMaxPatternBytes) return "a filter pattern longer than 4095 bytes";
    if (line.find('\0') != std::string_view::npos) return "a filter pattern with a NUL byte";
    if (out->rules_.size() == kMaxRules) return "more than 4096 filter rules";
    out->add(line[0] == '+', std::string(line.substr(2)));
  }
  return "";
}

}  // namespace ferry
