// A backup disk that is not mounted: its mount point is then a plain folder on the system disk,
// which a backup would fill. The client remembers each destination's volume (FERRY_HOME/volumes)
// and the agent refuses another before it creates anything.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "e2e/e2e.h"

using namespace ferry::test;
namespace fs = std::filesystem;

TEST_CASE("a backup onto a volume that is no longer mounted is refused and creates nothing") {
  if (!running_as_root()) return;  // mounting needs root
  TempDir work;
  std::string src = work / "src", disk = work / "disk", dest = disk + "/laptop";
  fs::create_directories(src);
  std::ofstream(src + "/notes") << "keep me";
  fs::create_directories(disk);
  std::string backup = "FERRY_HOME=" + quote(work / "home") + " " + quote(kFerry) + " backup " + quote(src) + " " +
                       quote(dest);
  REQUIRE(run("mount -t tmpfs -o size=16m ferry-test-disk " + quote(disk)).code == 0);
  RunResult first = run(backup);
  INFO(first.err);
  CHECK(first.code == 0);
  CHECK(slurp(work / "home/volumes").find(disk) != std::string::npos);
  RunResult same_disk = run(backup);
  CHECK(same_disk.code == 0);
  run("umount " + quote(disk));

  // The disk is gone: the mount point is an empty folder on the disk below.
  RunResult missing = run(backup);
  INFO(missing.err);
  CHECK(missing.code == 1);
  CHECK(missing.err.find("is the backup disk mounted at " + disk + "?") != std::string::npos);
  CHECK(missing.err.find("--accept-new-volume") != std::string::npos);
  CHECK(fs::is_empty(disk));  // nothing created: no destination, no .ferry-state
  RunResult doctor = run("FERRY_HOME=" + quote(work / "home") + " " + quote(kFerry) + " doctor " + quote(dest));
  CHECK(doctor.code == 1);
  CHECK(doctor.out.find("[FAIL] volume: earlier backups to " + dest + " went to the volume mounted at " + disk) !=
        std::string::npos);

  // Another disk mounted in its place is not the backup disk either.
  REQUIRE(run("mount -t tmpfs -o size=16m ferry-test-other " + quote(disk)).code == 0);
  RunResult other = run(backup);
  CHECK(other.code == 1);
  CHECK(other.err.find("another disk is mounted there") != std::string::npos);
  CHECK(fs::is_empty(disk));

  // A deliberate move is accepted once, and expected from then on.
  RunResult moved = run(backup + " --accept-new-volume");
  INFO(moved.err);
  CHECK(moved.code == 0);
  CHECK(slurp(dest + "/notes") == "keep me");
  CHECK(run(backup).code == 0);
  run("umount " + quote(disk));
  CHECK(run(backup).code == 1);
}
