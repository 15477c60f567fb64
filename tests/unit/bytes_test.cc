#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "base/bytes.h"
#include "base/error.h"

using namespace ferry;

TEST_CASE("varints round-trip at every width") {
  const uint64_t values[] = {0, 1, 127, 128, 255, 16383, 16384, uint64_t{1} << 35,
                             std::numeric_limits<uint64_t>::max()};
  for (uint64_t v : values) {
    Encoder e;
    e.varint(v);
    Decoder d(e.data());
    CHECK(d.varint("v") == v);
    CHECK(d.at_end());
  }
  const int64_t signed_values[] = {0, -1, 1, -64, 64, std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max()};
  for (int64_t v : signed_values) {
    Encoder e;
    e.svarint(v);
    Decoder d(e.data());
    CHECK(d.svarint("v") == v);
  }
}

TEST_CASE("a truncated varint names its field") {
  Encoder e;
  e.varint(300);
  std::string cut = e.data().substr(0, 1);
  Decoder d(cut);
  CHECK_THROWS_WITH_AS(d.varint("size"), "protocol error: truncated field size", ProtocolError);
}

TEST_CASE("an over-long varint is refused instead of overflowing") {
  std::string eleven(11, '\xff');
  Decoder d(eleven);
  CHECK_THROWS_AS(d.varint("n"), ProtocolError);
}

TEST_CASE("byte strings are bounded before they are read") {
  Encoder e;
  e.bytes(std::string(100, 'x'));
  Decoder ok(e.data());
  CHECK(ok.bytes("name", 100).size() == 100);
  Decoder too_long(e.data());
  CHECK_THROWS_WITH(too_long.bytes("name", 99), "protocol error: field name = 100 exceeds the limit 99");
  // A length that promises more than the frame holds.
  Encoder lie;
  lie.varint(1000);
  lie.raw("abc");
  Decoder d(lie.data());
  CHECK_THROWS_WITH(d.bytes("name", 4096),
                    "protocol error: truncated field name: 1000 bytes announced, 3 present");
}
