// Counts in messages read as sentences.
#include "base/plural.h"

#include <doctest/doctest.h>

TEST_CASE("counted: the noun agrees with the number") {
  CHECK(ferry::counted(0, "file") == "0 files");
  CHECK(ferry::counted(1, "file") == "1 file");
  CHECK(ferry::counted(2, "error") == "2 errors");
  CHECK(ferry::counted(1, "safety-net folder") == "1 safety-net folder");
  CHECK(ferry::counted(3, "entry", "entries") == "3 entries");
  CHECK(ferry::counted(1, "entry", "entries") == "1 entry");
}
