#include <doctest/doctest.h>

#include <string>

#include "protocol/rel_path.h"

using namespace ferry;

TEST_CASE("valid relative paths") {
  for (const char* p : {"", "a", "a/b", "-leading dash", "new\nline", "\xff\xfe invalid utf8", "...", "a..b"}) {
    CAPTURE(p);
    CHECK(rel_path_problem(p).empty());
  }
  CHECK(rel_path_problem(std::string(255, 'n')).empty());
}

TEST_CASE("hostile or malformed paths are named with the reason") {
  CHECK(rel_path_problem("/abs") == "absolute path");
  CHECK(rel_path_problem("..") == "'..' component");
  CHECK(rel_path_problem("a/../b") == "'..' component");
  CHECK(rel_path_problem("a/./b") == "'.' component");
  CHECK(rel_path_problem("a//b") == "empty path component");
  CHECK(rel_path_problem("a/") == "empty path component");
  CHECK(rel_path_problem(std::string("a\0b", 3)) == "NUL byte in path");
  CHECK(rel_path_problem(std::string(256, 'n')) == "component longer than 255 bytes");
  CHECK(rel_path_problem(std::string(4096, 'a')) == "path longer than 4095 bytes");
}

TEST_CASE("paths order component by component, as a sorted depth-first walk emits them") {
  CHECK(compare_paths("a", "a/b") < 0);
  CHECK(compare_paths("a/b", "a-b") < 0);  // '/' sorts before every other byte
  CHECK(compare_paths("a/z", "b") < 0);
  CHECK(compare_paths("a", "a") == 0);
  CHECK(compare_paths("b", "a/z") > 0);
}

TEST_CASE("parent and leaf") {
  CHECK(parent_of("a/b/c") == "a/b");
  CHECK(parent_of("c") == "");
  CHECK(leaf_of("a/b/c") == "c");
  CHECK(leaf_of("c") == "c");
  CHECK(child_path("a/b", "c") == "a/b/c");
  CHECK(child_path("", "c") == "c");
}
