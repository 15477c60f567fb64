// Channel::write_file_range: file data moved without a copy where the channel can (into a pipe),
// the caller's bytes where it cannot, and never fewer bytes than promised.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "fs/unique_fd.h"
#include "platform/platform.h"
#include "support/temp_dir.h"
#include "transport/fd_channel.h"

using namespace ferry;

namespace {

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 4096) % 253);
  return s;
}

// Everything written to `write_fd` by `send`, read on another thread until end of stream.
template <typename Send>
std::string collect(int read_fd, UniqueFd write_end, Send send) {
  std::string got;
  std::thread reader([&] {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(read_fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  });
  {
    FdChannel channel(write_end.get(), write_end.get(), "test reader");
    send(channel);
  }
  write_end.reset();
  reader.join();
  return got;
}

}  // namespace

TEST_CASE("write_file_range moves the file's pages into a pipe, and copies where it cannot") {
  test::TempDir dir;
  const std::string data = pattern(3 * 1024 * 1024 + 123);
  std::ofstream(dir / "f", std::ios::binary) << data;
  UniqueFd file(::open((dir / "f").c_str(), O_RDONLY));
  REQUIRE(file.valid());
  const uint64_t offset = 1000;
  const std::string range = data.substr(offset, 2 * 1024 * 1024);
  // The caller's copy, made different on purpose: what arrives shows which path ran.
  const std::string copy(range.size(), 'x');
  auto send = [&](FdChannel& channel) {
    channel.write_all("head", 4);
    channel.write_file_range(file.get(), offset, copy.data(), copy.size());
    CHECK(channel.bytes_written() == 4 + range.size());
  };
  SUBCASE("pipe: spliced where the platform can, else copied") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    UniqueFd read_end(p[0]);
    // Only the linux backend splices; the posix one (as on macOS) copies the caller's bytes.
    const bool splices = std::string(platform::name()) == "linux";
    INFO("platform backend: " << platform::name());
    CHECK((collect(p[0], UniqueFd(p[1]), send) == "head" + (splices ? range : copy)));
  }
  SUBCASE("socket: copied") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    UniqueFd read_end(sv[0]);
    CHECK((collect(sv[0], UniqueFd(sv[1]), send) == "head" + copy));
  }
  SUBCASE("pipe with a rate limit: copied, and metered") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    UniqueFd read_end(p[0]);
    auto limited = [&](FdChannel& channel) {
      channel.set_rate_limit(1ull << 40);
      send(channel);
    };
    CHECK((collect(p[0], UniqueFd(p[1]), limited) == "head" + copy));
  }
}

TEST_CASE("a file cut short under write_file_range still delivers as many bytes as promised") {
  test::TempDir dir;
  const std::string data = pattern(1024 * 1024);  // what the caller read, before the cut
  std::ofstream(dir / "f", std::ios::binary) << data;
  UniqueFd file(::open((dir / "f").c_str(), O_RDWR));
  REQUIRE(file.valid());
  REQUIRE(::ftruncate(file.get(), 300 * 1000) == 0);  // after the caller read it whole
  int p[2];
  REQUIRE(::pipe(p) == 0);
  UniqueFd read_end(p[0]);
  std::string got = collect(p[0], UniqueFd(p[1]), [&](FdChannel& channel) {
    channel.write_file_range(file.get(), 0, data.data(), data.size());
  });
  CHECK(got.size() == data.size());
  CHECK((got == data));
}
