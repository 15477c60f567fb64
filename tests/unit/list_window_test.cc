// The sender's window of listed entries (engine/list_window.h).
#include <doctest/doctest.h>

#include "engine/list_window.h"

using namespace ferry;

TEST_CASE("the list window forgets what is settled and has room only within its width") {
  ListWindow window(4);
  for (int i = 0; i < 4; ++i) {
    REQUIRE(window.has_room());
    window.add(Listed{"f" + std::to_string(i)});
  }
  CHECK_FALSE(window.has_room());
  CHECK(window.count() == 4);
  REQUIRE(window.find(3) != nullptr);
  CHECK(window.find(3)->path == "f3");
  CHECK(window.find(4) == nullptr);

  CHECK(window.settle(2) == "");
  CHECK(window.has_room());
  CHECK(window.find(1) == nullptr);
  CHECK(window.was_settled(1));
  CHECK_FALSE(window.was_settled(2));
  CHECK(window.find(2)->path == "f2");
  window.add(Listed{"f4"});
  window.add(Listed{"f5"});
  CHECK_FALSE(window.has_room());
  CHECK(window.find(5)->path == "f5");
  CHECK(window.count() == 6);

  CHECK(window.settle(2) == "");  // the same mark again is harmless
  CHECK(window.settle(1).find("went back") != std::string::npos);
  CHECK(window.settle(7).find("only 6 entries were listed") != std::string::npos);
  CHECK(window.find(2)->path == "f2");  // a refused Settled changes nothing
  CHECK(window.settle(6) == "");
  CHECK(window.find(5) == nullptr);
  CHECK(window.has_room());
}
