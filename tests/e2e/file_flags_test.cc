// File flags (chattr): immutable, append-only and nodump travel, are set last, and never stop a
// later run from replacing or deleting what they protect. Flags are made with chattr and read
// by the tree snapshot's own ioctl, not by Ferry's code.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "e2e/e2e.h"
#include "support/tree_snapshot.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

// Immutable files outlive a recursive remove: clears every flag below the given folders when
// the test ends, before TempDir removes them.
class Unprotect {
 public:
  explicit Unprotect(std::vector<std::string> roots) : roots_(std::move(roots)) {}
  ~Unprotect() {
    for (const std::string& root : roots_) run("chattr -R -i -a " + quote(root) + " 2>/dev/null");
  }

 private:
  std::vector<std::string> roots_;
};

bool chattr(const std::string& flags, const std::string& path) {
  return run("chattr " + flags + " " + quote(path)).code == 0;
}

}  // namespace

TEST_CASE("immutable and append-only files are kept, replaced when they change, and removed by a mirror") {
  if (!running_as_root()) return;  // the immutable and append-only flags need root
  TempDir work;
  std::string src = work / "src", dest = work / "dest", back = work / "back";
  Unprotect cleanup({src, dest, back});
  fs::create_directories(src + "/vault");
  std::ofstream(src + "/vault/deed") << "signed";
  std::ofstream(src + "/locked") << "version 1";
  std::ofstream(src + "/journal") << "entry 1\n";
  std::ofstream(src + "/scratch") << "not worth a backup";
  std::ofstream(src + "/linked") << "two names";
  fs::create_hard_link(src + "/linked", src + "/vault-link");
  REQUIRE(chattr("+i", src + "/locked"));
  REQUIRE(chattr("+a", src + "/journal"));
  REQUIRE(chattr("+d", src + "/scratch"));
  REQUIRE(chattr("+i", src + "/linked"));  // and so its second name
  REQUIRE(chattr("+i", src + "/vault"));
  std::string ferry = quote(kFerry) + " backup --json --delete ";

  RunResult first = run(ferry + quote(src) + " " + quote(dest));
  INFO(first.err);
  REQUIRE(first.code == 0);
  CHECK(compare(snapshot(src), snapshot(dest)) == "");

  RunResult again = run(ferry + quote(src) + " " + quote(dest));
  CHECK(again.code == 0);
  CHECK(json_field(again.out, "files_transferred") == 0);

  // Changed while immutable, a journal grown, a file gone: all reach the backup.
  REQUIRE(chattr("-i", src + "/locked"));
  std::ofstream(src + "/locked") << "version 2, longer";
  REQUIRE(chattr("+i", src + "/locked"));
  std::ofstream(src + "/journal", std::ios::app) << "entry 2\n";
  REQUIRE(chattr("-i", src + "/vault"));
  std::ofstream(src + "/vault/codicil") << "added later";
  REQUIRE(chattr("+i", src + "/vault"));
  REQUIRE(chattr("-a", src + "/journal"));
  fs::remove(src + "/journal");
  RunResult changed = run(ferry + quote(src) + " " + quote(dest));
  INFO(changed.err);
  CHECK(changed.code == 0);
  CHECK(compare(snapshot(src), snapshot(dest)) == "");
  CHECK_FALSE(fs::exists(dest + "/journal"));

  RunResult restore = run(quote(kFerry) + " restore " + quote(dest) + " " + quote(back));
  INFO(restore.err);
  CHECK(restore.code == 0);
  CHECK(compare(snapshot(src), snapshot(back)) == "");
}

TEST_CASE("an agent that is not root stores file flags, and a root restore sets them") {
  if (!running_as_root()) return;
  TempDir work;
  ::chmod(work.path().c_str(), 0755);
  std::string src = work / "src", dest = work / "dest", back = work / "back";
  Unprotect cleanup({src, back});
  fs::create_directories(src);
  std::ofstream(src + "/locked") << "kept as it is";
  std::ofstream(src + "/scratch") << "no dump";
  REQUIRE(chattr("+i", src + "/locked"));
  REQUIRE(chattr("+d", src + "/scratch"));
  fs::create_directory(dest);
  REQUIRE(::chown(dest.c_str(), 65534, 65534) == 0);
  std::string agent = quote("setpriv --reuid=65534 --regid=65534 --clear-groups " + kAgent);

  RunResult b = run(quote(kFerry) + " backup --agent " + agent + " " + quote(src) + " " + quote(dest));
  INFO(b.err);
  REQUIRE(b.code == 0);
  CHECK(run("getfattr --only-values -n user.ferry.meta " + quote(dest + "/locked")).out.ends_with(" f=1"));
  CHECK(snapshot(dest)["locked"].flags == 0);  // the backup copy itself stays changeable

  RunResult again = run(quote(kFerry) + " backup --json --agent " + agent + " " + quote(src) + " " + quote(dest));
  CHECK(again.code == 0);
  CHECK(json_field(again.out, "files_transferred") == 0);

  RunResult r = run(quote(kFerry) + " restore --agent " + agent + " " + quote(dest) + " " + quote(back));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(compare(snapshot(src), snapshot(back)) == "");
}
