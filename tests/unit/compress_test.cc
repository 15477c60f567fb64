// zstd on the wire: a stream of flushed segments that decode one by one, with bounds against
// corrupt data and decompression bombs; and the policy of what to compress.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "base/error.h"
#include "compress/compress_policy.h"
#include "compress/zstd_stream.h"

using namespace ferry;

namespace {

std::string text(size_t n) {
  std::string s;
  while (s.size() < n) s += "the quick brown fox jumps over the lazy dog, again and again. ";
  return s.substr(0, n);
}

std::string noise(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace

TEST_CASE("segments decode one at a time, in order, and later ones reuse earlier context") {
  StreamCompressor c(3);
  StreamDecompressor d;
  std::string first_wire, second_wire;
  std::string head = "\x05";
  std::string body = text(100000);
  c.compress(head, body, &first_wire);
  c.compress(head, body, &second_wire);
  CHECK(first_wire.size() < body.size() / 20);
  CHECK(second_wire.size() < first_wire.size());  // the same text again: matched across frames
  CHECK(d.decompress(first_wire, 1 << 20) == head + body);
  CHECK(d.decompress(second_wire, 1 << 20) == head + body);
}

TEST_CASE("random data survives compression unchanged") {
  StreamCompressor c(1);
  StreamDecompressor d;
  std::string body = noise(256 * 1024, 7);
  std::string wire;
  c.compress("", body, &wire);
  CHECK(d.decompress(wire, 1 << 20) == body);
  CHECK_FALSE(worth_compressing(body.size(), wire.size()));
}

TEST_CASE("corrupt and oversized segments are protocol errors") {
  StreamCompressor c(3);
  std::string wire;
  c.compress("", text(300000), &wire);

  StreamDecompressor bomb;
  CHECK_THROWS_WITH(bomb.decompress(wire, 1000), "protocol error: compressed frame expands beyond the frame size limit");

  StreamDecompressor garbage;
  CHECK_THROWS_AS(garbage.decompress(noise(500, 3), 1 << 20), ProtocolError);

  // A damaged frame header is refused outright; damage inside a literal section may decode to
  // wrong bytes, which the whole-file hash then catches (tested in the receiver's tests).
  std::string damaged_header = wire;
  damaged_header[0] ^= 0x55;
  StreamDecompressor damaged;
  CHECK_THROWS_AS(damaged.decompress(damaged_header, 1 << 20), ProtocolError);
}

TEST_CASE("the skip list matches the last extension, case-insensitively") {
  SkipCompressList defaults;
  CHECK(defaults.skips("photos/IMG_0001.JPG"));
  CHECK(defaults.skips("a/b/archive.tar.gz"));
  CHECK(defaults.skips("movie.mkv"));
  CHECK_FALSE(defaults.skips("notes.txt"));
  CHECK_FALSE(defaults.skips("gz"));        // a name, not an extension
  CHECK_FALSE(defaults.skips(".zip"));      // a dot file named zip
  CHECK_FALSE(defaults.skips("dir.zip/readme"));

  SkipCompressList custom = SkipCompressList::parse("txt/.LOG//");
  CHECK(custom.skips("a.txt"));
  CHECK(custom.skips("b.log"));
  CHECK_FALSE(custom.skips("c.jpg"));
  CHECK(custom.to_string() == "log/txt");
  CHECK_FALSE(SkipCompressList::parse("").skips("a.jpg"));
  CHECK(SkipCompressList::parse(defaults.to_string()).to_string() == defaults.to_string());
}

TEST_CASE("auto compression keeps the faster mode and re-measures the other") {
  const uint64_t w = AutoCompressPolicy::kWindowBytes;
  SUBCASE("a slow link: compressing moves more input per second") {
    AutoCompressPolicy p;
    CHECK(p.compress_next());  // measures compression first
    p.record(w, 1.0);          // compressed: 8 MiB/s of input
    CHECK_FALSE(p.compress_next());
    p.record(w, 4.0);  // plain: 2 MiB/s
    CHECK(p.compress_next());
    for (int i = 0; i < AutoCompressPolicy::kWindowsBetweenProbes - 2; ++i) {
      p.record(w, 1.0);
      CHECK(p.compress_next());
    }
    p.record(w, 1.0);
    CHECK_FALSE(p.compress_next());  // a probe of the plain mode
    p.record(w, 0.1);                // the link got fast
    CHECK_FALSE(p.compress_next());
  }
  SUBCASE("a fast link: compression is the bottleneck") {
    AutoCompressPolicy p;
    p.record(w, 0.05);  // compressing: 160 MiB/s
    p.record(w, 0.01);  // plain: 800 MiB/s
    CHECK_FALSE(p.compress_next());
  }
}
