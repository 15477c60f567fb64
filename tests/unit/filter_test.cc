// rsync-style include/exclude rules: the glob language, where a pattern is matched, rule order,
// and the wire form a receiver must bound.
#include <doctest/doctest.h>

#include "fs/filter.h"

#include <string>

#include "fs/glob.h"

using namespace ferry;

TEST_CASE("globs: * and ? stay inside a component, ** crosses them, classes and escapes") {
  CHECK(glob_match("*.o", "main.o"));
  CHECK_FALSE(glob_match("*.o", "src/main.o"));
  CHECK(glob_match("src/*.c", "src/a.c"));
  CHECK_FALSE(glob_match("src/*.c", "src/x/a.c"));
  CHECK(glob_match("src/**.c", "src/x/a.c"));
  CHECK(glob_match("**/cache", "a/b/cache"));
  CHECK(glob_match("a/**", "a/b/c"));
  CHECK(glob_match("file?.txt", "file1.txt"));
  CHECK_FALSE(glob_match("a?b", "a/b"));
  CHECK(glob_match("[a-c]x", "bx"));
  CHECK_FALSE(glob_match("[!a-c]x", "bx"));
  CHECK(glob_match("[!a-c]x", "dx"));
  CHECK(glob_match("\\*", "*"));
  CHECK_FALSE(glob_match("\\*", "a"));
  CHECK(glob_match("*", ""));
  CHECK_FALSE(glob_match("", "a"));
  CHECK(glob_match("a*b*c", "axxbyyc"));
  CHECK_FALSE(glob_match("a*b*c", "axxbyy"));
}

TEST_CASE("globs: the corners of classes, escapes and runs of stars") {
  CHECK(glob_match("[]a]", "]"));  // a ']' first in the class is a member
  CHECK(glob_match("[!]a]", "b"));
  CHECK_FALSE(glob_match("[!]a]", "]"));
  CHECK(glob_match("[^a]", "b"));
  CHECK(glob_match("[\\]]", "]"));       // escaped inside the class
  CHECK(glob_match("[a-]", "-"));        // a '-' before the ']' is a member, not a range
  CHECK_FALSE(glob_match("[!a]", "/"));  // no class matches '/', negated or not
  CHECK(glob_match("[ab", "[ab"));       // no ']': the '[' is a literal
  CHECK(glob_match("\\[a]", "[a]"));
  CHECK(glob_match("a\\", "a\\"));  // a trailing '\' is itself
  CHECK(glob_match("***", "a/b"));  // a run of stars is "**"
  CHECK(glob_match("a**", "a"));    // "**" may match nothing
  CHECK(glob_match("a/**/b", "a/x/y/b"));
  CHECK_FALSE(glob_match("a/**/b", "a/b"));  // both slashes are in the pattern
  CHECK(glob_match("*/*", "a/b"));
  CHECK_FALSE(glob_match("*", "a/b"));
  CHECK_FALSE(glob_match("*b", "a/b"));
}

TEST_CASE("globs: a tail may start only at a component") {
  Glob glob("src/*.c");
  CHECK(glob.matches_some_tail("src/a.c"));
  CHECK(glob.matches_some_tail("lib/src/a.c"));
  CHECK_FALSE(glob.matches("lib/src/a.c"));
  CHECK_FALSE(glob.matches_some_tail("lib/mysrc/a.c"));
  CHECK_FALSE(glob.matches_some_tail("src/a.c/x"));
  CHECK(Glob("**/b").matches_some_tail("a/b"));
}

namespace {

// The bound filter.h promises: per path byte, one step (a word of 64 pattern positions) per 64
// pattern bytes, plus one.
size_t bound(const std::string& pattern, const std::string& path) {
  return (pattern.size() / 64 + 1) * path.size();
}

// "**a" eight times, then "**b", against a path of a's: a backtracking matcher tries every way of
// sharing the a's among the stars. The one this replaced took 0.6 s for 32 a's, 3 s for 40 and
// 15 s for 48 (about x5 per 8 more); on the 4000 a's below it was still running when stopped
// after two minutes, and so was the excluded() check of the deep path further down.
const std::string kManyStars = "**a**a**a**a**a**a**a**a**b";

}  // namespace

TEST_CASE("globs: many ** against a long path take work linear in each") {
  const std::string path(4000, 'a');
  CHECK_FALSE(glob_match(kManyStars, path));

  Glob glob(kManyStars);
  size_t steps = 0;
  CHECK_FALSE(glob.matches(path, &steps));
  CHECK(steps <= bound(kManyStars, path));
  steps = 0;
  CHECK(glob.matches(path + "b", &steps));
  CHECK(steps <= bound(kManyStars, path + "b"));

  // Single stars cannot cross '/', so a run of them cannot explode, but they are bounded alike.
  const std::string single = "*a*a*a*a*a*a*a*a*b";
  steps = 0;
  CHECK_FALSE(Glob(single).matches(path, &steps));
  CHECK(steps <= bound(single, path));

  // A pattern as long as the wire allows, all "**a", still costs a step per word per byte.
  std::string longest;
  while (longest.size() + 3 <= FilterRules::kMaxPatternBytes) longest += "**a";
  const std::string long_path(4095, 'a');
  steps = 0;
  CHECK(Glob(longest).matches(long_path, &steps));
  CHECK(steps <= bound(longest, long_path));
}

TEST_CASE("rules: every tail of a deep path is tried in the same pass, not once per component") {
  std::string path;
  for (int i = 0; i < 1000; ++i) path += "a/";
  path += "a";
  Glob glob(kManyStars);
  size_t steps = 0;
  CHECK_FALSE(glob.matches_some_tail(path, &steps));
  CHECK(steps <= bound(kManyStars, path));

  const std::string components = "a/*/a/*/b";
  steps = 0;
  CHECK_FALSE(Glob(components).matches_some_tail(path, &steps));
  CHECK(steps <= bound(components, path));

  FilterRules rules;
  rules.exclude(kManyStars);
  rules.exclude("/" + kManyStars);
  rules.exclude("a/*/a/*/b");
  CHECK_FALSE(rules.excluded(path, false));
  CHECK(rules.excluded(path + "b", false));
}

TEST_CASE("rules: last-name patterns, anchored and directory-only ones; the first match decides") {
  FilterRules rules;
  rules.exclude("*.o");
  rules.exclude("/build");
  rules.exclude("cache/");
  rules.exclude("docs/*.tmp");
  CHECK(rules.excluded("main.o", false));
  CHECK(rules.excluded("deep/down/main.o", false));
  CHECK(rules.excluded("build", true));
  CHECK_FALSE(rules.excluded("src/build", true));  // anchored: only the top one
  CHECK(rules.excluded("a/cache", true));
  CHECK_FALSE(rules.excluded("a/cache", false));  // a file named cache is not a directory
  CHECK(rules.excluded("docs/x.tmp", false));
  CHECK(rules.excluded("project/docs/x.tmp", false));  // any tail that starts at a component
  CHECK_FALSE(rules.excluded("mydocs/x.tmp", false));
  CHECK_FALSE(rules.excluded("main.c", false));

  FilterRules only_c;
  only_c.include("*/");
  only_c.include("*.c");
  only_c.exclude("*");
  CHECK_FALSE(only_c.excluded("src", true));
  CHECK_FALSE(only_c.excluded("src/a.c", false));
  CHECK(only_c.excluded("src/a.h", false));
}

TEST_CASE("rule files: comments, + and - prefixes") {
  FilterRules rules;
  CHECK(rules.add_file_lines("# comment\n; also\n\n*.log\n+ keep.log\n- *.bak\r\n") == "");
  CHECK(rules.excluded("x.log", false));
  CHECK(rules.excluded("keep.log", false));  // the earlier *.log decides first
  CHECK(rules.excluded("a.bak", false));
  CHECK(rules.add_file_lines("- \n").find("line 1") == 0);
}

TEST_CASE("the wire form round-trips, and a receiver refuses what it cannot bound") {
  FilterRules rules;
  rules.include("/keep/**");
  rules.exclude("*.o");
  FilterRules back;
  REQUIRE(FilterRules::parse(rules.serialize(), &back) == "");
  CHECK(back.serialize() == rules.serialize());
  CHECK(back.excluded("a.o", false));
  CHECK_FALSE(back.excluded("keep/a.o", false));

  CHECK(FilterRules::parse("* x\n", &back) != "");
  CHECK(FilterRules::parse("- x", &back) != "");  // no newline
  CHECK(FilterRules::parse("- " + std::string(4096, 'a') + "\n", &back) != "");
  std::string many;
  for (int i = 0; i < 4097; ++i) many += "- x\n";
  CHECK(FilterRules::parse(many, &back) == "more than 4096 filter rules");

  // Each rule within its bounds, but more text in all than Open.filters may carry.
  std::string long_rules;
  for (int i = 0; i < 65; ++i) long_rules += "- " + std::string(4093, 'a') + "\n";
  CHECK(FilterRules::parse(long_rules, &back) == "filter rules longer than 256 KiB");
}
