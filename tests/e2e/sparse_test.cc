// Sparse files: holes found with SEEK_DATA/SEEK_HOLE travel as counts (FileHole), not zeros, and
// are holes again on the receiving side, in both directions.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "e2e/e2e.h"
#include "platform/platform.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

constexpr off_t kSparseSize = 256ll << 20;

// 256 MiB that hold 1 MiB of data: 256 KiB at the start, in two places inside, and at the end.
void make_sparse(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  std::string block(256 * 1024, '\0');
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>('a' + i % 23);
  for (off_t at : {off_t{0}, off_t{64} << 20, off_t{100} << 20, kSparseSize - off_t(block.size())}) {
    REQUIRE(::pwrite(fd, block.data(), block.size(), at) == static_cast<ssize_t>(block.size()));
  }
  ::close(fd);
}

long long allocated(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(st.st_size == kSparseSize);
  return static_cast<long long>(st.st_blocks) * 512;
}

}  // namespace

TEST_CASE("a sparse file stays sparse through a backup and a restore, and its holes cost no wire bytes") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest", back = work / "back";
  fs::create_directories(src);
  make_sparse(src + "/disk.img");
  const bool holes = std::string(ferry::platform::name()) != "posix";  // POSIX cannot find holes
  INFO("platform backend: " << ferry::platform::name());

  RunResult b = run(quote(kFerry) + " backup --json " + quote(src) + " " + quote(dest));
  INFO(b.err);
  REQUIRE(b.code == 0);
  RunResult r = run(quote(kFerry) + " restore --json " + quote(dest) + " " + quote(back));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(snapshot(src), snapshot(back)) == "");
  if (holes) {
    CHECK(allocated(dest + "/disk.img") < (4ll << 20));
    CHECK(allocated(back + "/disk.img") < (4ll << 20));
    CHECK(json_field(b.out, "bytes_wire_sent") < (4ll << 20));
    CHECK(json_field(r.out, "bytes_wire_received") < (4ll << 20));
  } else {
    CHECK(json_field(b.out, "bytes_wire_sent") > kSparseSize);  // every zero travels
  }
}
