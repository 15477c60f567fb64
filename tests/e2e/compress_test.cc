// Compression and the bandwidth limit over the real sshd, with bytes counted from outside by a
// relay in front of it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "e2e/e2e.h"
#include "support/relay_fixture.h"

namespace ferry::test {
namespace {

namespace fs = std::filesystem;

// Text that compresses the way source code and documents do: varied words, repeated shapes.
void write_text(const std::string& path, size_t size, unsigned seed) {
  static const char* words[] = {"backup", "restore", "the", "file", "of", "agent", "delta", "block",
                                "signature", "window", "and", "a", "to", "receiver", "sender", "hash"};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < size) {
    s += words[rng() % 16];
    s += (rng() % 9 == 0) ? ".\n" : " ";
  }
  s.resize(size);
  std::ofstream(path, std::ios::binary) << s;
}

// ferry VERB through the relay instead of straight to sshd.
std::string ferry_via(const WireRelay& relay, const std::string& verb, const std::string& home) {
  return "FERRY_HOME=" + quote(home) + " " + quote(kFerry) + " " + verb + " -i " + quote(sshd().client_key()) +
         " --port " + std::to_string(relay.port()) + " --known-hosts " + quote(sshd().known_hosts());
}

// The relay logs a connection once both ends have closed: wait for the n-th.
WireRelay::Connection wait_for_connection(const WireRelay& relay, size_t n) {
  for (int i = 0; i < 100; ++i) {
    auto all = relay.connections();
    if (all.size() >= n) return all[n - 1];
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("the relay logged no connection " << n);
  return {};
}

}  // namespace

TEST_CASE("-z moves a text-heavy tree in far fewer wire bytes, both ways, and loses nothing") {
  TempDir work;
  std::string src = work / "src", home = work / "home";
  fs::create_directories(src + "/docs");
  for (int i = 0; i < 20; ++i) write_text(src + "/docs/chapter" + std::to_string(i) + ".txt", 200 * 1024, i);
  write_text(src + "/big.log", 4 * 1024 * 1024, 99);
  sshd().trust_host_key();

  RunResult plain = run(ferry_over_ssh("backup --json", home) + " " + quote(src) + " " + quote(remote(work / "plain")));
  RunResult packed = run(ferry_over_ssh("backup -z --json", home) + " " + quote(src) + " " + quote(remote(work / "packed")));
  INFO(plain.err, packed.err);
  REQUIRE(plain.code == 0);
  REQUIRE(packed.code == 0);
  CHECK(compare(snapshot(src), snapshot(work / "packed")) == "");
  long long plain_wire = json_field(plain.out, "bytes_wire_sent");
  long long packed_wire = json_field(packed.out, "bytes_wire_sent");
  const long long total = 20 * 200 * 1024 + 4 * 1024 * 1024;
  CHECK(plain_wire > total);
  CHECK(packed_wire * 3 < plain_wire);  // words from a 16-word list: well under a third
  CHECK(json_field(packed.out, "bytes_compressed_raw") == total);

  RunResult back = run(ferry_over_ssh("restore -z --json", home) + " " + quote(remote(work / "packed")) + " " +
                       quote(work / "restored"));
  INFO(back.err);
  REQUIRE(back.code == 0);
  CHECK(compare(snapshot(src), snapshot(work / "restored")) == "");
  CHECK(json_field(back.out, "bytes_wire_received") * 3 < plain_wire);
}

TEST_CASE("random data and skip-listed names travel uncompressed") {
  TempDir work;
  std::string src = work / "src", home = work / "home";
  fs::create_directories(src);
  write_random(src + "/a-random.bin", 4 * 1024 * 1024, 1);
  write_text(src + "/b-photo.JPG", 2 * 1024 * 1024, 2);  // compressible, but its name says it is not
  write_text(src + "/c-notes.txt", 1024 * 1024, 3);
  sshd().trust_host_key();

  RunResult r = run(ferry_over_ssh("backup -z --json", home) + " " + quote(src) + " " + quote(remote(work / "dst")));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(snapshot(src), snapshot(work / "dst")) == "");
  // Compressed: the notes, and the two 256 KiB chunks of the random file that the first-chunks
  // test looks at before it gives up on that file. Never the .JPG.
  CHECK(json_field(r.out, "bytes_compressed_raw") == 1024 * 1024 + 512 * 1024);
  CHECK(json_field(r.out, "bytes_wire_sent") > 6 * 1024 * 1024);

  RunResult custom = run(ferry_over_ssh("backup -z --skip-compress=txt/bin --json", home) + " " + quote(src) + " " +
                         quote(remote(work / "dst2")));
  INFO(custom.err);
  REQUIRE(custom.code == 0);
  CHECK(json_field(custom.out, "bytes_compressed_raw") == 2 * 1024 * 1024);  // only the .JPG now
}

TEST_CASE("--bwlimit holds the rate on the wire, measured from outside, in both directions") {
  TempDir work;
  std::string src = work / "src", home = work / "home";
  fs::create_directories(src);
  write_random(src + "/payload.bin", 24 * 1024 * 1024, 5);
  WireRelay relay(kBin + "/wire_relay", sshd().port(), work / "relay.log");
  sshd().trust_host_key(relay.port());
  const double limit = 8.0 * 1024 * 1024;

  RunResult b = run(ferry_via(relay, "backup --bwlimit 8M", home) + " " + quote(src) + " " + quote(remote(work / "dst")));
  INFO(b.err);
  REQUIRE(b.code == 0);
  WireRelay::Connection up = wait_for_connection(relay, 1);
  double up_rate = up.steady_rate();
  CAPTURE(up.steady_bytes);
  CAPTURE(up.steady_seconds);
  CHECK(up.up > 24 * 1024 * 1024);
  CHECK(up.steady_bytes > 22 * 1024 * 1024);
  CHECK(static_cast<double>(up.up) / up.seconds <= limit);  // the whole connection, too
  CHECK(up_rate <= limit);
  CHECK(up_rate >= 0.85 * limit);

  RunResult r = run(ferry_via(relay, "restore --bwlimit 8M", home) + " " + quote(remote(work / "dst")) + " " +
                    quote(work / "back"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(snapshot(src), snapshot(work / "back")) == "");
  WireRelay::Connection down = wait_for_connection(relay, 2);
  double down_rate = down.steady_rate();
  CAPTURE(down.steady_bytes);
  CAPTURE(down.steady_seconds);
  CHECK(down.steady_bytes > 22 * 1024 * 1024);
  CHECK(down_rate <= limit);
  CHECK(down_rate >= 0.85 * limit);
}

TEST_CASE("a bandwidth limit that is not a rate is a usage error") {
  RunResult r = run(quote(kFerry) + " backup --bwlimit fast /tmp /tmp/x");
  CHECK(r.code == 2);
  CHECK(r.err.find("not a rate") != std::string::npos);
}

}  // namespace ferry::test
