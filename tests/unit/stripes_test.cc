// Striping (transport/stripes.h): the preamble and chunk format, the agent's channel that reads a
// stream back from its chunks, and the rendezvous where a session's channels meet.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "server/stripe_rendezvous.h"
#include "support/run.h"
#include "transport/striped_fd_channel.h"
#include "transport/stripes.h"

using namespace ferry;

namespace {

StripePreamble preamble(int index, int count, uint8_t seed) {
  StripePreamble p;
  for (size_t i = 0; i < p.token.size(); ++i) p.token[i] = static_cast<uint8_t>(seed + i * 7);
  p.index = index;
  p.count = count;
  return p;
}

StripePreamble decoded(const std::string& bytes) {
  return StripePreamble::decode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::string chunk(const std::string& payload) {
  uint8_t header[kStripeChunkHeaderBytes];
  encode_chunk_header(static_cast<uint32_t>(payload.size()), header);
  return std::string(reinterpret_cast<char*>(header), sizeof(header)) + payload;
}

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { REQUIRE(::pipe(fds) == 0); }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (fds[0] >= 0) ::close(fds[0]);
    fds[0] = -1;
  }
  void close_write() {
    if (fds[1] >= 0) ::close(fds[1]);
    fds[1] = -1;
  }
  void put(const std::string& bytes) {
    for (size_t at = 0; at < bytes.size();) {
      ssize_t n = ::write(fds[1], bytes.data() + at, bytes.size() - at);
      REQUIRE(n > 0);
      at += static_cast<size_t>(n);
    }
  }
};

std::string read_all(Channel& channel) {
  std::string got;
  char buf[7000];
  while (size_t n = channel.read_some(buf, sizeof(buf))) got.append(buf, n);
  return got;
}

}  // namespace

TEST_CASE("a stripe preamble says its channel and session, and a wrong one is refused") {
  StripePreamble p = preamble(2, 3, 9);
  StripePreamble back = decoded(p.encode());
  CHECK(back.index == 2);
  CHECK(back.count == 3);
  CHECK(same_token(back.token, p.token));
  CHECK(!same_token(back.token, preamble(2, 3, 10).token));
  CHECK(p.encode().size() == kStripePreambleBytes);

  std::string bad_magic = p.encode();
  bad_magic[1] = 'X';
  CHECK_THROWS_AS(decoded(bad_magic), ProtocolError);
  CHECK_THROWS_AS(decoded(p.encode().substr(0, kStripePreambleBytes - 1)), ProtocolError);
  CHECK_THROWS_AS(decoded(preamble(3, 3, 1).encode()), ProtocolError);   // index beyond the count
  CHECK_THROWS_AS(decoded(preamble(0, 1, 1).encode()), ProtocolError);   // one channel is not striped
  CHECK_THROWS_AS(decoded(preamble(0, kMaxStripes + 1, 1).encode()), ProtocolError);
}

TEST_CASE("a chunk header holds 1 byte to 1 MiB") {
  uint8_t header[kStripeChunkHeaderBytes];
  for (uint32_t len : {1u, 300u, 65536u, kMaxStripeChunk}) {
    encode_chunk_header(len, header);
    CHECK(decode_chunk_header(header) == len);
  }
  encode_chunk_header(0, header);
  CHECK_THROWS_AS(decode_chunk_header(header), ProtocolError);
  encode_chunk_header(kMaxStripeChunk + 1, header);
  CHECK_THROWS_AS(decode_chunk_header(header), ProtocolError);
}

TEST_CASE("the striped channel reads chunks in rotation and gives back the stream in order") {
  Pipe a, b, c, out;
  std::string sent;
  std::vector<std::string> per_channel(3);
  for (int k = 0; k < 40; ++k) {
    std::string payload(static_cast<size_t>(1 + (k * 977) % 3000), static_cast<char>('a' + k % 26));
    sent += payload;
    per_channel[static_cast<size_t>(k % 3)] += chunk(payload);
  }
  // Chunks that arrive on the later channels first wait there: each channel is read only when
  // its turn comes.
  c.put(per_channel[2]);
  b.put(per_channel[1]);
  a.put(per_channel[0]);
  a.close_write();
  b.close_write();
  c.close_write();
  StripedFdChannel channel({a.fds[0], b.fds[0], c.fds[0]}, out.fds[1], "test");
  CHECK(read_all(channel) == sent);
}

TEST_CASE("the striped channel refuses an empty chunk, and an end inside a chunk is a lost connection") {
  SUBCASE("empty chunk") {
    Pipe a, b, out;
    a.put(std::string(kStripeChunkHeaderBytes, '\0'));
    StripedFdChannel channel({a.fds[0], b.fds[0]}, out.fds[1], "test");
    char buf[16];
    CHECK_THROWS_AS(channel.read_some(buf, sizeof(buf)), ProtocolError);
  }
  SUBCASE("an end inside a chunk") {
    Pipe a, b, out;
    a.put(chunk("hello"));
    b.put(chunk("world").substr(0, 6));
    a.close_write();
    b.close_write();
    StripedFdChannel channel({a.fds[0], b.fds[0]}, out.fds[1], "test");
    char buf[16];
    CHECK(channel.read_some(buf, sizeof(buf)) == 5);
    CHECK(channel.read_some(buf, sizeof(buf)) == 2);
    try {
      channel.read_some(buf, sizeof(buf));
      FAIL("no error");
    } catch (const ConnectionError& e) {
      CHECK(std::string(e.what()).find("channel 2 of 2") != std::string::npos);
    }
  }
}

namespace {

// A `ferry-agent join` in a child process, its stdin the read end of `in`; returns its pid.
pid_t join_in_child(Pipe& in, std::chrono::milliseconds limit) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = in.fds[0];
    ::close(in.fds[1]);
    try {
      join_stripe(fd, limit);
    } catch (const std::exception&) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  in.close_read();  // the child holds it now
  return pid;
}

// What join_stripe says when it refuses to hand over a channel with preamble `p`; "" if it did.
std::string join_refusal(const StripePreamble& p) {
  Pipe in;
  in.put(p.encode());
  try {
    join_stripe(in.fds[0], std::chrono::seconds(2));
  } catch (const FatalError& e) {
    return e.what();
  }
  return "";
}

// A rendezvous folder made by a test, removed with whatever it holds when the test ends.
struct RemoveAtEnd {
  std::string dir;
  ~RemoveAtEnd() { std::filesystem::remove_all(dir); }
};

}  // namespace

TEST_CASE("the channels of a session meet: each join hands its stdin to the serving process") {
  Pipe first, second, third;
  StripePreamble p = preamble(0, 3, 42);
  first.put(p.encode());
  p.index = 2;
  third.put(p.encode());
  p.index = 1;
  second.put(p.encode());
  pid_t j1 = join_in_child(second, std::chrono::seconds(10));
  pid_t j2 = join_in_child(third, std::chrono::seconds(10));
  {
    GatheredStripes gathered = gather_stripes(first.fds[0], 3, std::chrono::seconds(10));
    REQUIRE(gathered.channels.size() == 2);
    // The folder where they met is gone.
    CHECK(!std::filesystem::exists(rendezvous_dir(p.token)));
    // What the client writes into each channel now reaches this process.
    second.put("to channel one");
    third.put("to channel two");
    second.close_write();
    third.close_write();
    char buf[64];
    CHECK(std::string(buf, static_cast<size_t>(::read(gathered.channels[0].get(), buf, sizeof(buf)))) == "to channel one");
    CHECK(std::string(buf, static_cast<size_t>(::read(gathered.channels[1].get(), buf, sizeof(buf)))) == "to channel two");
  }
  // Closing the connections lets the joins end.
  CHECK(test::exit_code_of(j1) == 0);
  CHECK(test::exit_code_of(j2) == 0);
}

TEST_CASE("a join from another session is not taken, and the wait for the missing one is bounded") {
  Pipe first, stranger;
  first.put(preamble(0, 2, 1).encode());
  stranger.put(preamble(1, 2, 2).encode());  // another token: another folder, nobody there
  pid_t j = join_in_child(stranger, std::chrono::milliseconds(1500));
  try {
    gather_stripes(first.fds[0], 2, std::chrono::milliseconds(1500));
    FAIL("gathered");
  } catch (const ConnectionError& e) {
    CHECK(std::string(e.what()).find("0 of the 1 other channels") != std::string::npos);
  }
  CHECK(test::exit_code_of(j) == 1);
  CHECK(!std::filesystem::exists(rendezvous_dir(preamble(0, 2, 1).token)));
}

TEST_CASE("a join hands its channel only to a folder that is private to its user") {
  StripePreamble p = preamble(1, 2, 5);
  std::string dir = rendezvous_dir(p.token);
  std::filesystem::create_directory(dir);
  RemoveAtEnd remove_at_end{dir};
  ::chmod(dir.c_str(), 0777);
  CHECK(join_refusal(p).find("not a private folder") != std::string::npos);
  // And the serving side does not take over a folder someone else made.
  Pipe first;
  p.index = 0;
  first.put(p.encode());
  CHECK_THROWS_AS(gather_stripes(first.fds[0], 2, std::chrono::seconds(1)), FatalError);
}

TEST_CASE("a join hands its channel only to a process of its own user") {
  if (::geteuid() != 0) return;  // needs to listen as another user
  StripePreamble p = preamble(1, 2, 6);
  std::string dir = rendezvous_dir(p.token);
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  RemoveAtEnd remove_at_end{dir};
  // The folder is right (ours, 0700); the process listening in it is not: it listens as nobody.
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t listener = ::fork();
  if (listener == 0) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/s", dir.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::seteuid(65534) != 0 || ::listen(fd, 1) != 0) {
      ::_exit(1);
    }
    (void)!::write(ready[1], "r", 1);
    int conn = ::accept(fd, nullptr, nullptr);
    char buf[64];
    while (conn >= 0 && ::read(conn, buf, sizeof(buf)) > 0) {
    }
    ::_exit(0);
  }
  char r;
  REQUIRE(::read(ready[0], &r, 1) == 1);
  CHECK(join_refusal(p).find("does not run as this user") != std::string::npos);
  CHECK(test::exit_code_of(listener) == 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_CASE("a serving process stops waiting for its other channels once the client hangs up") {
  Pipe first;
  first.put(preamble(0, 2, 8).encode());
  first.close_write();
  auto started = std::chrono::steady_clock::now();
  try {
    gather_stripes(first.fds[0], 2, std::chrono::seconds(20));
    FAIL("gathered");
  } catch (const ConnectionError& e) {
    CHECK(std::string(e.what()).find("client closed the session") != std::string::npos);
  }
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
}
