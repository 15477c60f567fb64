// rsync-style include/exclude rules: the glob language, where a pattern is matched, rule order,
// and the wire form a receiver must bound.
#include <doctest/doctest.h>

#include "fs/filter.h"

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
}
