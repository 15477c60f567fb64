#include "fs/filter.h"

namespace ferry {

void FilterRules::add(bool include, std::string pattern) {
  std::string_view p = pattern;
  bool anchored = !p.empty() && p.front() == '/';
  if (anchored) p.remove_prefix(1);
  bool dir_only = !p.empty() && p.back() == '/';
  if (dir_only) p.remove_suffix(1);
  bool whole_path =
      anchored || p.find('/') != std::string_view::npos || p.find("**") != std::string_view::npos;
  Glob glob(p);
  rules_.push_back(Rule{include, anchored, dir_only, whole_path, std::move(glob), std::move(pattern)});
}

bool FilterRules::matches(const Rule& rule, std::string_view path, bool is_dir) {
  if (rule.dir_only && !is_dir) return false;
  if (rule.anchored) return rule.glob.matches(path);
  if (!rule.whole_path) {
    size_t slash = path.rfind('/');
    return rule.glob.matches(slash == std::string_view::npos ? path : path.substr(slash + 1));
  }
  return rule.glob.matches_some_tail(path);
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
  if (text.size() > kMaxRulesBytes) return "filter rules longer than 256 KiB";
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
