// What a newcomer types before reading the manual: no command, a misspelt one, a misspelt option,
// and rsync's options out of habit. Each gets the list or the nearest real name, exit 2.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

  // Options before the command are the top level's: help, or a flag for the command after them.
  for (const char* flag : {" --help", " -h"}) {
    RunResult top = run(quote(kFerry) + flag);
    CHECK(top.code == 0);
    CHECK(has(top.out, "Usage: ferry"));
  }
  RunResult verbose_first = run(quote(kFerry) + " -v bakup /tmp /tmp/x");
  CHECK(verbose_first.code == 2);
  CHECK(has(verbose_first.err, "bakup"));
  CHECK(!has(verbose_first.err, "terminate"));

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

TEST_CASE("a misspelt command one level down gets its command's list and the nearest name") {
  RunResult keys = run(quote(kFerry) + " keys lst");
  CHECK(keys.code == 2);
  CHECK(has(keys.err, "\"lst\" is not a `ferry keys` command; did you mean \"list\"?"));
  CHECK(has(keys.err, "create"));
  RunResult task = run(quote(kFerry) + " task rn nightly");
  CHECK(task.code == 2);
  CHECK(has(task.err, "did you mean \"run\"?"));
  CHECK_FALSE(has(task.err, "failed"));  // the scheduler's hidden command is never offered
}

TEST_CASE("-z auto and --compress auto mean --compress=auto; -z alone still compresses") {
  TempDir work;
  std::string src = work / "src";
  fs::create_directories(src);
  std::ofstream(src + "/text") << std::string(64 << 10, 'a');
  for (const char* form : {"-z auto", "--compress auto", "--compress=auto", "-z", "--compress on"}) {
    CAPTURE(form);
    std::string dest = work / ("dest-" + std::to_string(std::hash<std::string>()(form)));
    RunResult r = run(quote(kFerry) + " backup --json " + form + " " + quote(src) + " " + quote(dest));
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(fs::file_size(dest + "/text") == 64 << 10);
    // Compressed: 64 KiB of one letter goes over in far fewer bytes.
    CHECK(json_field(r.out, "bytes_compressed_raw") == 64 << 10);
  }
  RunResult help = run(quote(kFerry) + " backup --help");
  CHECK(has(help.out, "-z,--compress [auto]"));
}

TEST_CASE("-q says nothing but errors; without it the same run warns") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  std::ofstream(src + "/f") << "x";
  REQUIRE(run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest)).code == 0);
  // What a run cut off leaves: a marker that says it was running. The next run warns of it.
  auto cut_off = [&] { std::ofstream(dest + "/.ferry-state/last-run") << "state=running host=elsewhere pid=1 started=2026-01-01T00:00:00Z\n"; };
  cut_off();
  RunResult loud = run(quote(kFerry) + " backup " + quote(src) + " " + quote(dest));
  CHECK(loud.code == 0);
  CHECK(has(loud.err, "did not finish"));
  cut_off();
  for (const char* quiet : {" -q", " --quiet"}) {
    RunResult hushed = run(quote(kFerry) + " backup" + quiet + " " + quote(src) + " " + quote(dest));
    CHECK(hushed.code == 0);
    CHECK(hushed.err.empty());
    cut_off();
  }
  // Errors still speak.
  RunResult missing = run(quote(kFerry) + " backup -q " + quote(work / "nonexistent") + " " + quote(dest));
  CHECK(missing.code == 1);
  CHECK(has(missing.err, "does not exist"));
}

TEST_CASE("--json-progress prints a line a second as a run goes, both ways; --progress draws share, rate and time left") {
  TempDir work;
  std::string src = work / "src", home = work / "home";
  fs::create_directories(src);
  write_random(src + "/big", 6 << 20, 11);  // about 3 s at the limit below
  sshd().trust_host_key();
  auto lines_of = [](const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  };
  for (const char* verb : {"backup", "restore"}) {
    CAPTURE(verb);
    bool backup = std::string(verb) == "backup";
    std::string from = backup ? quote(src) : quote(remote(work / "dest"));
    std::string to = backup ? quote(remote(work / "dest")) : quote(work / "back");
    RunResult r = run(ferry_over_ssh(std::string(verb) + " --json-progress --bwlimit 2M", home) + " " + from + " " + to);
    INFO(r.err);
    REQUIRE(r.code == 0);
    std::vector<std::string> lines = lines_of(r.out);
    CHECK(lines.size() >= 3);  // one a second, and the last
    long long previous = -1;
    for (const std::string& line : lines) {
      long long done = json_field(line, "bytes_done");
      CHECK(done >= previous);  // never backwards
      previous = done;
    }
    CHECK(json_field(lines.back(), "bytes_wanted") == 6 << 20);
    CHECK(json_field(lines.back(), "bytes_done") == 6 << 20);
    CHECK(json_field(lines.back(), "percent") == 100);
    CHECK(lines.back().find("\"current\":\"big\"") != std::string::npos);
  }
  // On a terminal (script gives it one): the line with the share, the rate and the time left.
  RunResult drawn = run("script -qec " +
                        quote(ferry_over_ssh("backup --progress --bwlimit 4M", home) + " " + quote(src) + " " +
                              quote(remote(work / "dest2"))) +
                        " /dev/null </dev/null");
  CHECK(drawn.out.find("100% 6.0 MiB of 6.0 MiB") != std::string::npos);
  CHECK(drawn.out.find(" left, 1 file  big") != std::string::npos);
}
