// On a file system that clones (btrfs here; XFS and APFS alike), a file rebuilt from a delta
// starts as a clone of its old version and only the changed blocks are written: the new
// version shares the rest of its blocks with the old one, kept in the safety net. Checked on
// both receivers: the agent (a backup over the real sshd) and the client (a restore). A hole
// the new version has where the old one had data is punched out of the clone, not written.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "e2e/e2e.h"
#include "platform/platform.h"
#include "support/mounted_disk.h"
#include "support/tree_snapshot.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

// Bytes of `path` in extents the file system marks as shared with another file (FIEMAP).
long long shared_bytes(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  constexpr unsigned kExtents = 512;
  std::vector<char> buf(sizeof(fiemap) + kExtents * sizeof(fiemap_extent));
  long long shared = 0;
  for (uint64_t start = 0;;) {
    auto* map = reinterpret_cast<fiemap*>(buf.data());
    *map = fiemap{};
    map->fm_start = start;
    map->fm_length = FIEMAP_MAX_OFFSET - start;
    map->fm_flags = FIEMAP_FLAG_SYNC;
    map->fm_extent_count = kExtents;
    REQUIRE(::ioctl(fd, FS_IOC_FIEMAP, map) == 0);
    if (map->fm_mapped_extents == 0) break;
    bool last = false;
    for (unsigned i = 0; i < map->fm_mapped_extents; ++i) {
      const fiemap_extent& e = map->fm_extents[i];
      if (e.fe_flags & FIEMAP_EXTENT_SHARED) shared += static_cast<long long>(e.fe_length);
      last = last || (e.fe_flags & FIEMAP_EXTENT_LAST);
      start = e.fe_logical + e.fe_length;
    }
    if (last) break;
  }
  ::close(fd);
  return shared;
}

// Rewrites 4 KiB at each offset (same size), then grows or shrinks the file by `resize`.
void change_blocks(const std::string& path, std::initializer_list<long> offsets, long resize) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::string block(4096, 'x');
  for (long at : offsets) REQUIRE(::pwrite(fd, block.data(), block.size(), at) == 4096);
  struct stat st {};
  REQUIRE(::fstat(fd, &st) == 0);
  REQUIRE(::ftruncate(fd, st.st_size + resize) == 0);
  if (resize > 0) REQUIRE(::pwrite(fd, block.data(), block.size(), st.st_size) == 4096);
  ::close(fd);
}

long long allocated_bytes(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<long long>(st.st_blocks) * 512;
}

}  // namespace

TEST_CASE("a delta onto a file system that clones writes only the changed blocks") {
  if (!running_as_root()) return;  // mounting needs root
  TempDir work;
  ::chmod(work.path().c_str(), 0755);
  std::string src = work / "src", disk = work / "disk", backup = disk + "/b", restored = disk + "/r";
  std::string home = work / "home";
  fs::create_directories(src);
  constexpr long kSize = 24 << 20;
  write_random(src + "/grows.img", kSize, 7);
  write_random(src + "/shrinks.img", kSize, 8);
  write_random(src + "/punched.img", kSize, 9);
  // Room for the three files four times (backup, restore, each one's safety net) and a rebuild,
  // written whole on a backend that does not clone (posix).
  MountedDisk mounted(disk, MountedDisk::image(work / "disk.img", 512, "mkfs.btrfs -q", disk, "noatime"));
  REQUIRE(mounted.mounted());

  sshd().trust_host_key();
  RunResult first = run(ferry_over_ssh("backup", home) + " " + quote(src) + " " + quote(remote(backup)));
  INFO(first.err);
  REQUIRE(first.code == 0);
  RunResult first_restore = run(ferry_over_ssh("restore", home) + " " + quote(remote(backup)) + " " + quote(restored));
  INFO(first_restore.err);
  REQUIRE(first_restore.code == 0);

  change_blocks(src + "/grows.img", {0, 5 << 20, 17 << 20}, 300 << 10);
  change_blocks(src + "/shrinks.img", {4096, 9 << 20}, -(3 << 20));
  {  // 8 MiB of data become a hole (a VM's disk trimmed); sent as a FileHole within the delta
    int fd = ::open((src + "/punched.img").c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8 << 20, 8 << 20) == 0);
    ::close(fd);
  }
  Snapshot changed = snapshot(src);

  // The backup: the agent rebuilds both files, the old versions go to the safety net.
  RunResult second =
      run(ferry_over_ssh("backup --safety-net --json", home) + " " + quote(src) + " " + quote(remote(backup)));
  INFO(second.err);
  REQUIRE(second.code == 0);
  CHECK(json_field(second.out, "files_transferred") == 3);
  CHECK(json_field(second.out, "bytes_matched") > kSize);  // it was a delta
  CHECK(compare(changed, snapshot(backup)) == "");

  // The restore: the client rebuilds them over its earlier restore (kept in its safety net).
  RunResult second_restore =
      run(ferry_over_ssh("restore --json", home) + " " + quote(remote(backup)) + " " + quote(restored));
  INFO(second_restore.err);
  REQUIRE(second_restore.code == 0);
  CHECK(json_field(second_restore.out, "bytes_matched") > kSize);
  CHECK(compare(changed, snapshot(restored)) == "");

  INFO("platform backend: " << ferry::platform::name());
  if (std::string(ferry::platform::name()) != "linux") return;  // only the linux backend clones
  for (const std::string& dir : {backup, restored}) {
    for (const char* name : {"/grows.img", "/shrinks.img"}) {
      long long shared = shared_bytes(dir + name);
      INFO(dir << std::string(name) << ": " << shared << " bytes shared");
      // Everything but the few blocks changed and the tail added; the smaller file is 21 MiB.
      CHECK(shared >= kSize - (4 << 20));
    }
    // The hole is a hole in the rebuilt file too, not 8 MiB of zeros written over the clone.
    long long used = allocated_bytes(dir + "/punched.img");
    INFO(dir << "/punched.img: " << used << " bytes allocated");
    CHECK(used <= kSize - (8 << 20));
    CHECK(shared_bytes(dir + "/punched.img") >= kSize - (8 << 20) - (1 << 20));
  }
}
