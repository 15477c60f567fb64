// Sparse files: holes found with SEEK_DATA/SEEK_HOLE travel as counts (FileHole), not zeros, and
// are holes again on the receiving side, in both directions, in a file sent whole and in a delta.
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

// Rewrites a sparse file in place the way a VM's disk changes: 4 KiB in its first data, a hole
// punched where data was (at 64 MiB), new data where a hole was (at 160 MiB).
void change_sparse(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  std::string edit(4096, 'E');
  REQUIRE(::pwrite(fd, edit.data(), edit.size(), 8192) == 4096);
  REQUIRE(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t{64} << 20, 256 * 1024) == 0);
  std::string fresh(256 * 1024, '\0');
  for (size_t i = 0; i < fresh.size(); ++i) fresh[i] = static_cast<char>(i * 7919 % 251);
  REQUIRE(::pwrite(fd, fresh.data(), fresh.size(), off_t{160} << 20) == static_cast<ssize_t>(fresh.size()));
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

TEST_CASE("a sparse file changed in a few places keeps its holes through a delta, in both directions") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest", back = work / "back";
  fs::create_directories(src);
  make_sparse(src + "/disk.img");
  const bool holes = std::string(ferry::platform::name()) != "posix";
  INFO("platform backend: " << ferry::platform::name());
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
  REQUIRE(run(quote(kFerry) + " restore " + quote(dest) + " " + quote(back)).code == 0);

  change_sparse(src + "/disk.img");
  RunResult b = run(quote(kFerry) + " backup --json " + quote(src) + " " + quote(dest));
  INFO(b.err);
  REQUIRE(b.code == 0);
  CHECK(json_field(b.out, "bytes_matched") > 0);  // a delta, not the file again
  RunResult r = run(quote(kFerry) + " restore --json " + quote(dest) + " " + quote(back));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(json_field(r.out, "bytes_matched") > 0);
  Snapshot want = snapshot(src);
  CHECK(compare(want, snapshot(dest)) == "");
  CHECK(compare(want, snapshot(back)) == "");
  if (!holes) return;
  // The holes stayed holes: the 1 MiB of data, not the 256 MiB of the file.
  CHECK(allocated(dest + "/disk.img") < (4ll << 20));
  CHECK(allocated(back + "/disk.img") < (4ll << 20));
  // ... and the wire carried the changes, not the zeros.
  CHECK(json_field(b.out, "bytes_wire_sent") < (4ll << 20));
  CHECK(json_field(r.out, "bytes_wire_received") < (4ll << 20));
}
