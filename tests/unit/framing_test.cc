#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "base/error.h"
#include "fs/unique_fd.h"
#include "engine/framing.h"
#include "transport/fd_channel.h"

using namespace ferry;

namespace {

struct SocketPair {
  SocketPair() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
  UniqueFd a, b;
};

// A FrameReader fed with exactly `bytes`, then end of stream.
struct Fed {
  explicit Fed(const std::string& bytes) {
    // Larger than the default socket buffer for the noise test: feed from a thread.
    writer = std::thread([this, bytes] {
      (void)!::write(pair.b.get(), bytes.data(), bytes.size());
      ::shutdown(pair.b.get(), SHUT_WR);
    });
  }
  ~Fed() {
    ::shutdown(pair.a.get(), SHUT_RDWR);
    writer.join();
  }
  SocketPair pair;
  std::thread writer;
  FdChannel channel{pair.a.get(), pair.a.get(), "test peer"};
  FrameReader reader{channel};
};

std::string header(uint8_t type, uint32_t length) {
  std::string h(5, '\0');
  h[0] = static_cast<char>(type);
  for (int i = 0; i < 4; ++i) h[1 + i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return h;
}

}  // namespace

TEST_CASE("frames written are the frames read, with the shell's noise before the magic kept apart") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);
  REQUIRE(::write(b.get(), "Welcome to host\n", 16) == 16);
  FdChannel writer_channel(b.get(), b.get(), "w");
  FrameWriter writer(writer_channel);
  writer.write_magic();
  writer.send(wire::MsgType::kMessage, std::string_view("hello"));
  writer.send_split(wire::MsgType::kFileData, "\x01", std::string(100000, 'z'));
  writer.flush();

  FdChannel reader_channel(a.get(), a.get(), "r");
  FrameReader reader(reader_channel);
  CHECK(reader.read_magic() == "Welcome to host\n");
  Frame f = reader.next();
  CHECK(f.type == wire::MsgType::kMessage);
  CHECK(f.payload == "hello");
  f = reader.next();
  CHECK(f.type == wire::MsgType::kFileData);
  CHECK(f.payload.size() == 100001);
  CHECK(f.payload.substr(1) == std::string(100000, 'z'));
}

TEST_CASE("an oversized frame is refused before its payload is read") {
  Fed fed(header(7, wire::kMaxFramePayload + 1));
  CHECK_THROWS_WITH_AS(fed.reader.next(),
                       "protocol error: FileData frame of 1048577 bytes exceeds the limit of 1048576",
                       ProtocolError);
}

TEST_CASE("a stream that ends inside a frame is a lost connection, saying how much was announced and came") {
  Fed fed(header(4, 100) + std::string(40, 'x'));
  CHECK_THROWS_WITH_AS(fed.reader.next(),
                       "connection to test peer lost in the middle of a frame (Entry, 100 bytes announced, 40 received)",
                       ConnectionError);
  Fed cut(std::string("\x04\x01", 2));
  CHECK_THROWS_WITH_AS(cut.reader.next(), "connection to test peer lost in the middle of a frame header",
                       ConnectionError);
}

TEST_CASE("an unknown type is a protocol error") {
  Fed unknown(header(200, 0));
  CHECK_THROWS_WITH(unknown.reader.next(), "protocol error: unknown message type 200");
}

TEST_CASE("a clean end of stream between frames is a lost connection, not a protocol error") {
  Fed fed("");
  CHECK_THROWS_AS(fed.reader.next(), ConnectionError);
}

TEST_CASE("a peer that never sends the magic is refused after a bounded amount of noise") {
  Fed fed(std::string(wire::kMaxNoiseBeforeMagic + 4096, 'n'));
  CHECK_THROWS_AS(fed.reader.read_magic(), ConnectionError);
  Fed closed("bash: ferry-agent: command not found\n");
  CHECK_THROWS_WITH(closed.reader.read_magic(),
                    "test peer closed the connection before starting the protocol; it printed: bash: "
                    "ferry-agent: command not found\n");
}

TEST_CASE("a silent peer ends the read at the deadline") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);
  FdChannel channel(a.get(), a.get(), "slow peer");
  channel.set_idle_timeout(std::chrono::seconds(1));
  FrameReader reader(channel);
  CHECK_THROWS_AS(reader.next(), ConnectionError);
}
