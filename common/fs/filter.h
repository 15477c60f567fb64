// Include/exclude rules with rsync's glob semantics, shared by the sender (what to list) and the
// receiver (what --delete must leave alone).
//
// Rules are tried in order; the first whose pattern matches decides; a path no rule matches is
// included. An excluded directory is not entered, so nothing below it is sent.
//
// A pattern:
//   - starting with "/" is anchored at the top of the transfer ("/build" is only the top one);
//   - ending with "/" matches directories only ("cache/");
//   - with no other "/" (and no "**") is matched against the last component of a path, at any
//     depth ("*.o", "node_modules/");
//   - otherwise is matched against the whole path, or any tail of it that starts at a
//     component ("src/*.c" matches "src/a.c" and "lib/src/a.c");
//   - "*" matches within one component, "**" across components, "?" one character other than
//     "/", "[a-z]" and "[!a-z]" a class; "\" makes the next character literal (fs/glob.h).
//
// The cost of excluded() is bounded, since the rules may come from a hostile peer. Each rule is
// matched in one pass over the path (its tails included) that costs at most
// (pattern bytes / 64 + 1) steps per path byte, a step being a few operations on one 64-bit word
// (fs/glob.h). One call therefore costs at most (total pattern bytes / 64 + rules) x path bytes
// steps: with the limits below and a path of at most 4095 bytes, (4096 + 4096) x 4095, about
// 3.4 x 10^7 steps. Rules built to be slow (4096 rules of "**a**a...b" against a 4095-byte path)
// measured 90 ms a path; rules a person writes cost microseconds.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fs/glob.h"

namespace ferry {

class FilterRules {
 public:
  // Limits a receiver enforces on rules from the wire. The total is the wire's own limit on
  // Open.filters (wire::kMaxFilterBytes), checked here again so the bound above holds for any
  // caller of parse().
  static constexpr size_t kMaxRules = 4096;
  static constexpr size_t kMaxPatternBytes = 4095;
  static constexpr size_t kMaxRulesBytes = 256 * 1024;

  void include(std::string pattern) { add(true, std::move(pattern)); }
  void exclude(std::string pattern) { add(false, std::move(pattern)); }
  // The lines of an --exclude-from file: each an exclude pattern, or "+ PATTERN" / "- PATTERN";
  // blank lines and lines starting with '#' or ';' are comments. Returns "" or what is wrong.
  std::string add_file_lines(std::string_view text);

  bool empty() const { return rules_.empty(); }
  // True if `path` (relative to the top, not empty) is left out.
  bool excluded(std::string_view path, bool is_dir) const;

  // The wire form: one "+ PATTERN" or "- PATTERN" per line. parse() returns "" or the reason it
  // refuses (too many rules or bytes, a pattern too long or empty, a line of another form).
  std::string serialize() const;
  static std::string parse(std::string_view text, FilterRules* out);

 private:
  struct Rule {
    bool include = false;
    bool anchored = false;
    bool dir_only = false;
    bool whole_path = false;  // has a '/' or "**": matched against the path, not the last name
    Glob glob;                // without the leading '/' and the trailing '/'
    std::string text;         // as given, for serialize()
  };
  void add(bool include, std::string pattern);
  static bool matches(const Rule& rule, std::string_view path, bool is_dir);

  std::vector<Rule> rules_;
};

}  // namespace ferry
