// Temporary file names: whose they are, and that nothing else is taken for one (the sweep
// deletes by this test).
#include <doctest/doctest.h>
#include <unistd.h>

#include "fs/temp_files.h"

TEST_CASE("temporary file names carry their writer's pid, and nothing else parses as one") {
  std::string mine = ferry::temp_file_name(7);
  REQUIRE(ferry::temp_file_owner(mine));
  CHECK(*ferry::temp_file_owner(mine) == ::getpid());
  CHECK(*ferry::temp_file_owner(".ferry-123-4.tmp") == 123);
  for (const char* not_ours : {".ferry-.tmp", ".ferry-12.tmp", ".ferry-12-.tmp", ".ferry--3.tmp", ".ferry-1x-2.tmp",
                               "ferry-1-2.tmp", ".ferry-1-2.tmpx", ".ferry-0-1.tmp", ".ferry-99999999999999-1.tmp"}) {
    CAPTURE(not_ours);
    CHECK_FALSE(ferry::temp_file_owner(not_ours));
  }
}
