// What a newcomer types before reading the manual: no command, a misspelt one, a misspelt option,
// and rsync's options out of habit. Each gets the list or the nearest real name, exit 2.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "e2e/e2e.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("ferry alone, ferry help and a misspelt command list the commands") {
  RunResult bare = run(quote(kFerry));
  CHECK(bare.code == 2);
  CHECK(has(bare.err, "Usage: ferry"));
  CHECK(has(bare.err, "backup"));
  CHECK(has(bare.err, "restore"));

  RunResult help = run(quote(kFerry) + " help");
  CHECK(help.code == 0);
  CHECK(has(help.out, "doctor"));

  RunResult typo = run(quote(kFerry) + " bakup /tmp /tmp/x");
  CHECK(typo.code == 2);
  CHECK(has(typo.err, "\"bakup\" is not a ferry command; did you mean \"backup\"?"));
  CHECK(has(typo.err, "restore"));
}

TEST_CASE("an unknown option is named alone, with the nearest real one; rsync's options get Ferry's answer") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  std::ofstream(src + "/f") << "x";
  std::string paths = " " + quote(src) + " " + quote(dest);

  RunResult typo = run(quote(kFerry) + " backup --exlude '*.tmp'" + paths);
  CHECK(typo.code == 2);
  CHECK(has(typo.err, "unknown option --exlude for `ferry backup`; did you mean --exclude?"));
  CHECK_FALSE(has(typo.err, src));  // the option alone, not the arguments after it

  for (const char* habit : {"-a", "-avz", "--partial", "-P", "-e ssh", "--rsh=ssh", "-aHAX"}) {
    CAPTURE(habit);
    RunResult r = run(quote(kFerry) + " backup " + habit + paths);
    CHECK(r.code == 2);
    CHECK((has(r.err, "is rsync's: ") || has(r.err, "bundles rsync's flags")));
    CHECK_FALSE(fs::exists(dest));
  }

  // Ferry's own short flags still bundle.
  RunResult ours = run(quote(kFerry) + " backup -vz" + paths);
  INFO(ours.err);
  CHECK(ours.code == 0);
  CHECK(fs::exists(dest + "/f"));
}
