// A file the receiver creates starts with what its folder and the process hand down: the
// folder's group when it is setgid, a default ACL, inheritable flags (nodump), the umask. The
// receiver leaves out the calls that would change nothing on a new file, from what one probe
// file showed it at the start of the run (fs/metadata.h, NewFileTraits); whatever the
// destination hands down, every file must still end with exactly the source's metadata.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "e2e/e2e.h"
#include "platform/platform.h"
#include "support/tree_snapshot.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

// Files of every common mode, some owned by others (as root), one with an extended attribute.
void make_source(const std::string& src) {
  fs::create_directories(src + "/docs");
  const unsigned modes[] = {0644, 0755, 0600, 0666, 0640, 0444, 0700, 0664};
  for (int i = 0; i < 40; ++i) {
    std::string path = src + (i % 2 ? "/docs/f" : "/f") + std::to_string(i);
    std::ofstream(path) << "file " << i;
    ::chmod(path.c_str(), modes[i % 8]);
    if (running_as_root() && i % 3 == 0) REQUIRE(::chown(path.c_str(), 1000 + i, 2000 + i % 4) == 0);
  }
  run("setfattr -n user.note -v kept " + quote(src + "/f2"));
}

// The backup's first run, with `umask` for the whole run (the local agent inherits it).
RunResult backup(const std::string& umask, const std::string& src, const std::string& dest) {
  return run("sh -c 'umask " + umask + " && exec \"$0\" backup \"$1\" \"$2\"' " + quote(kFerry) + " " + quote(src) +
             " " + quote(dest));
}

}  // namespace

TEST_CASE("new files end with the source's metadata, not what the destination hands down") {
  TempDir work;
  std::string src = work / "src", dest = work / "backup";
  make_source(src);
  Snapshot original = snapshot(src);
  fs::create_directories(dest);

  SUBCASE("a setgid folder's group and a umask that takes bits away") {
    if (!running_as_root()) return;
    REQUIRE(::chown(dest.c_str(), 0, 4321) == 0);
    REQUIRE(::chmod(dest.c_str(), 02755) == 0);
    RunResult r = backup("077", src, dest);
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(compare(original, snapshot(dest)) == "");
  }

  SUBCASE("the nodump flag, which ext4 hands down from a folder") {
    if (run("chattr +d " + quote(dest) + " 2>/dev/null").code != 0) return;  // no flags here (tmpfs)
    run("chattr +d " + quote(src + "/f5"));
    original = snapshot(src);
    RunResult r = backup("022", src, dest);
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(compare(original, snapshot(dest)) == "");
  }

  SUBCASE("a default ACL, which gives every new file an ACL of its own") {
    if (std::string(ferry::platform::name()) == "darwin") return;  // POSIX ACLs
    REQUIRE(run("setfacl -d -m u:1234:rwx " + quote(dest)).code == 0);
    RunResult r = backup("022", src, dest);
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(compare(original, snapshot(dest)) == "");
  }
}
