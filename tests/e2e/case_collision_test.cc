// Names that differ only by letter case or Unicode normalization, backed up onto a destination
// that treats them as one (APFS's default, ext4 with casefold): both are named, the first keeps
// the name, nothing is overwritten, the run exits 3. The stored names are read where the file
// system keeps them (the FUSE file system's backing folder, or ext4 itself), not through Ferry.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "e2e/e2e.h"
#include "support/background.h"
#include "support/mounted_disk.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

const std::string kNfd = "cafe\xCC\x81";  // "café" as "e" and a combining accent (macOS's form)
const std::string kNfc = "caf\xC3\xA9";   // "café" as one code point (Linux's usual form)

// tests/support/casefold_fs over `backing`, mounted at `path` until the test ends.
class CasefoldMount {
 public:
  CasefoldMount(const std::string& backing, const std::string& path)
      : path_(path), fs_(quote(kBin + "/casefold_fs") + " " + quote(backing) + " " + quote(path) + " -f -s",
                         path + ".log") {
    for (int i = 0; i < 100 && !mounted(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~CasefoldMount() {
    if (mounted()) run("umount " + quote(path_));
    fs_.wait_for(std::chrono::seconds(10));
  }

  bool mounted() const {
    struct stat a {}, b {};
    return ::stat(path_.c_str(), &a) == 0 && ::stat((path_ + "/..").c_str(), &b) == 0 && a.st_dev != b.st_dev;
  }

 private:
  std::string path_;
  Background fs_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

void build_colliding_tree(const std::string& src) {
  fs::create_directories(src + "/Photos");
  fs::create_directories(src + "/photos");
  std::ofstream(src + "/NOTES.txt") << "listed first";
  std::ofstream(src + "/Notes.txt") << "listed second";
  std::ofstream(src + "/Photos/a.jpg") << "a";
  std::ofstream(src + "/photos/b.jpg") << "b";
  std::ofstream(src + "/" + kNfd) << "decomposed";
  std::ofstream(src + "/" + kNfc) << "composed";
  std::ofstream(src + "/plain.txt") << "plain";
}

// Backs src up into dest twice; `stored` is where the names dest keeps can be read as stored.
void check_collisions(const std::string& src, const std::string& dest, const std::string& stored) {
  std::string ferry = quote(kFerry) + " backup --json " + quote(src) + " " + quote(dest);
  RunResult first = run(ferry);
  INFO(first.err);
  CHECK(first.code == 3);
  CHECK(first.err.find("\"NOTES.txt\" and \"Notes.txt\"") != std::string::npos);
  CHECK(first.err.find("\"Photos\" and \"photos\"") != std::string::npos);
  CHECK(first.err.find("nothing in it was copied") != std::string::npos);
  CHECK(first.err.find("Unicode normalization") != std::string::npos);
  CHECK(first.err.find("backup finished with 3 errors: the files named above were not copied") != std::string::npos);

  // The first of each pair holds the name, with its own content; the second is nowhere.
  CHECK(names_in(stored) == std::set<std::string>{".ferry-state", "NOTES.txt", "Photos", kNfd, "plain.txt"});
  CHECK(read_file(stored + "/NOTES.txt") == "listed first");
  CHECK(read_file(stored + "/" + kNfd) == "decomposed");
  CHECK(names_in(stored + "/Photos") == std::set<std::string>{"a.jpg"});
  CHECK(read_file(stored + "/plain.txt") == "plain");

  // Run again: the same report, and the kept files are not sent again.
  RunResult again = run(ferry);
  INFO(again.err);
  CHECK(again.code == 3);
  CHECK(json_field(again.out, "files_transferred") == 0);
  CHECK(read_file(stored + "/NOTES.txt") == "listed first");

  // A mirror deletes nothing of the kept names: "photos" opens "Photos" there, which must not
  // be swept as if it were the folder that lists only b.jpg.
  RunResult mirror = run(quote(kFerry) + " backup --delete " + quote(src) + " " + quote(dest));
  INFO(mirror.err);
  CHECK(mirror.code == 3);
  CHECK(mirror.err.find("deleted") == std::string::npos);
  CHECK(names_in(stored + "/Photos") == std::set<std::string>{"a.jpg"});
  CHECK(names_in(stored) == std::set<std::string>{".ferry-state", "NOTES.txt", "Photos", kNfd, "plain.txt"});
}

}  // namespace

TEST_CASE("names that a case-insensitive destination treats as one are reported, and none overwrites another") {
  if (!running_as_root()) return;  // mounting needs root
  if (!fs::exists(kBin + "/casefold_fs") || !fs::exists("/dev/fuse")) {
    MESSAGE("skipped: no FUSE here to mount the case-insensitive test file system");
    return;
  }
  TempDir work;
  std::string src = work / "src", backing = work / "backing", dest = work / "dest";
  fs::create_directories(backing);
  fs::create_directories(dest);
  build_colliding_tree(src);
  CasefoldMount mount(backing, dest);
  REQUIRE(mount.mounted());
  // The mount folds as APFS does: the test's premise, checked.
  std::ofstream(dest + "/Probe") << "x";
  REQUIRE(fs::exists(dest + "/PROBE"));
  fs::remove(dest + "/Probe");

  check_collisions(src, dest, backing);

  // The same source onto a case-sensitive destination: every name is kept.
  std::string plain = work / "plain";
  RunResult sensitive = run(quote(kFerry) + " backup " + quote(src) + " " + quote(plain));
  INFO(sensitive.err);
  CHECK(sensitive.code == 0);
  CHECK(names_in(plain).count("Notes.txt") == 1);
  CHECK(names_in(plain).count(kNfc) == 1);

  // Restored from there onto the case-insensitive volume (a Mac restoring a Linux backup): the
  // restoring side reports the same and keeps the first of each pair.
  RunResult restored = run(quote(kFerry) + " restore " + quote(plain) + " " + quote(dest + "/restored"));
  INFO(restored.err);
  CHECK(restored.code == 3);
  CHECK(restored.err.find("\"NOTES.txt\" and \"Notes.txt\"") != std::string::npos);
  CHECK(read_file(backing + "/restored/NOTES.txt") == "listed first");
  CHECK(names_in(backing + "/restored/Photos") == std::set<std::string>{"a.jpg"});
}

TEST_CASE("on ext4 with casefold, names that differ only by case are reported, and none overwrites another") {
  if (!running_as_root()) return;
  if (!fs::exists("/sys/fs/ext4/features/casefold")) {
    MESSAGE("skipped: this kernel's ext4 has no casefold (the FUSE test above covers folding)");
    return;
  }
  TempDir work;
  std::string src = work / "src", disk = work / "disk";
  build_colliding_tree(src);
  MountedDisk mounted(disk, MountedDisk::image(work / "ext4.img", 64, "mkfs.ext4 -q -O casefold", disk, "rw"));
  REQUIRE(mounted.mounted());
  std::string dest = disk + "/backup";
  fs::create_directories(dest);
  REQUIRE(run("chattr +F " + quote(dest)).code == 0);
  check_collisions(src, dest, dest);
}
