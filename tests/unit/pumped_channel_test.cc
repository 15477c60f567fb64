// The engine's end of the client's SSH pump, driven by a stand-in pump thread: bytes cross in
// order both ways through queues much smaller than the data, and every way the connection can
// end reaches a blocked engine.
#include <doctest/doctest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "base/error.h"
#include "transport/byte_ring.h"
#include "transport/pumped_channel.h"

using namespace ferry;

namespace {

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) % 251);
  return s;
}

bool readable_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

}  // namespace

TEST_CASE("ByteRing keeps order across the wrap") {
  ByteRing ring(10);
  char out[10];
  CHECK(ring.push("abcdefg", 7) == 7);
  CHECK(ring.pop(out, 5) == 5);
  CHECK(std::string(out, 5) == "abcde");
  CHECK(ring.push("hijklmnopq", 10) == 8);  // 2 were still queued
  CHECK(ring.room() == 0);
  CHECK(ring.pop(out, 10) == 10);
  CHECK(std::string(out, 10) == "fghijklmno");
  CHECK(ring.empty());
}

TEST_CASE("bytes cross in order both ways through small queues") {
  PumpedChannel channel("test pump", 1000);
  const std::string down = pattern(300'000, 1), up = pattern(200'000, 2);
  std::string got_up;
  std::thread pump([&] {  // what ChannelPump does, with the peer's bytes in memory
    size_t sent = 0;
    char buf[777];
    while (sent < down.size() || !channel.up_ended()) {
      if (sent < down.size()) {
        size_t n = std::min({down.size() - sent, channel.down_room(), size_t{333}});
        if (n > 0 && channel.push_down(down.data() + sent, n) != n) FAIL("push_down took less than down_room()");
        sent += n;
        channel.publish_down();
        if (sent == down.size()) channel.end_down();
      }
      size_t n = channel.pop_up(buf, sizeof buf);
      got_up.append(buf, n);
    }
  });
  std::thread writer([&] {
    for (size_t off = 0; off < up.size(); off += 4096) channel.write_all(up.data() + off, std::min<size_t>(4096, up.size() - off));
    channel.close_write();
  });
  std::string got_down;
  char buf[1500];
  while (size_t n = channel.read_some(buf, sizeof buf)) got_down.append(buf, n);
  writer.join();
  pump.join();
  CHECK(got_down == down);
  CHECK(got_up == up);
  CHECK(channel.bytes_read() == down.size());
  CHECK(channel.bytes_written() == up.size());
}

TEST_CASE("a sleeping pump is woken by the engine's write, not before") {
  PumpedChannel channel("test pump", 1000);
  REQUIRE(channel.prepare_to_sleep());
  CHECK_FALSE(readable_within(channel.wake_fd(), 0));
  channel.write_all("x", 1);
  CHECK(readable_within(channel.wake_fd(), 1000));
  channel.clear_wake();
  CHECK_FALSE(channel.prepare_to_sleep());  // the byte is waiting: no sleeping now
  char c;
  CHECK(channel.pop_up(&c, 1) == 1);
  CHECK(channel.prepare_to_sleep());
  channel.close_engine();
  CHECK(readable_within(channel.wake_fd(), 1000));
  CHECK(channel.engine_closed());
  CHECK(channel.up_ended());
  CHECK(channel.push_down("dropped", 7) == 7);  // accepted and thrown away
}

TEST_CASE("a lost connection ends the engine's blocked read and fails its writes") {
  PumpedChannel channel("test pump", 100);
  std::thread pump([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    channel.push_down("last", 4);
    channel.fail();
  });
  char buf[16];
  CHECK(channel.read_some(buf, sizeof buf) == 4);  // what arrived before the loss
  CHECK(channel.read_some(buf, sizeof buf) == 0);
  pump.join();
  CHECK_THROWS_AS(channel.write_all("x", 1), ConnectionError);
}

TEST_CASE("abort and the idle deadline reach a blocked engine") {
  PumpedChannel channel("test pump", 100);
  SUBCASE("abort") {
    std::thread other([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      channel.abort();
    });
    char buf[16];
    CHECK_THROWS_AS(channel.read_some(buf, sizeof buf), ConnectionError);
    other.join();
  }
  SUBCASE("a peer that stops reading") {
    channel.set_idle_timeout(std::chrono::seconds(1));
    std::string big(1000, 'x');
    try {
      channel.write_all(big.data(), big.size());
      FAIL("write_all returned although nobody read");
    } catch (const ConnectionError& e) {
      CHECK(std::string(e.what()).find("test pump stopped reading for 1 s") != std::string::npos);
    }
  }
}

TEST_CASE("traffic the other way does not stretch a silent peer's deadline") {
  // The engine's reader waits for a peer that sends nothing, while its writer keeps writing
  // and the pump keeps taking those bytes: each take wakes the reader's wait early.
  PumpedChannel channel("test pump", 100);
  channel.set_idle_timeout(std::chrono::seconds(1));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    try {
      while (!done) {
        channel.write_all("k", 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    } catch (const ConnectionError&) {  // once the pump below has stopped
    }
  });
  std::thread pump([&] {
    char sink[100];
    while (!done) {
      channel.pop_up(sink, sizeof sink);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto start = std::chrono::steady_clock::now();
  char buf[16];
  CHECK_THROWS_WITH_AS(channel.read_some(buf, sizeof buf), doctest::Contains("test pump sent nothing for 1 s"),
                       ConnectionError);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  done = true;
  writer.join();
  pump.join();
}

TEST_CASE("the pump's reason for failing reaches the engine's reads and writes") {
  PumpedChannel channel("test pump", 100);
  channel.push_down("last", 4);
  channel.fail("test pump stopped reading for 5 s");
  channel.fail();  // the pump thread's final fail() keeps the reason
  char buf[16];
  CHECK(channel.read_some(buf, sizeof buf) == 4);  // what arrived before comes first
  CHECK_THROWS_WITH_AS(channel.read_some(buf, sizeof buf), "test pump stopped reading for 5 s", ConnectionError);
  CHECK_THROWS_WITH_AS(channel.write_all("x", 1), "test pump stopped reading for 5 s", ConnectionError);
}
