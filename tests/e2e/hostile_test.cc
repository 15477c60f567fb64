// Hostile peers at both ends: paths that try to leave the destination and frames that lie.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "e2e/e2e.h"
#include "protocol/wire.h"

using namespace ferry::test;
namespace fs = std::filesystem;

TEST_CASE("restore from a hostile agent refuses escaping paths and writes nothing outside") {
  TempDir work;
  std::string dest = work / "restore";
  fs::remove("/tmp/ferry-hostile-absolute");
  fs::remove("/tmp/ferry-hostile-through-link");
  struct Case {
    const char* mode;
    const char* message;
  };
  for (Case c : {Case{"dotdot", "refused path \"../escape\": '..' component"},
                 Case{"absolute", "refused path \"/tmp/ferry-hostile-absolute\": absolute path"},
                 Case{"symlink-parent", "entry \"l/ferry-hostile-through-link\" arrived without its directory"},
                 Case{"oversized", "Entry frame of 1073741824 bytes exceeds the limit of 1048576"}}) {
    CAPTURE(c.mode);
    RunResult r = run(quote(kFerry) + " restore --agent " + quote(kHostile + " " + c.mode) + " " + quote(work / "backup") +
                      " " + quote(dest));
    CHECK(r.code == 1);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK_FALSE(fs::exists(work / "escape"));
    CHECK_FALSE(fs::exists("/tmp/ferry-hostile-absolute"));
    CHECK_FALSE(fs::exists("/tmp/ferry-hostile-through-link"));
  }
}

TEST_CASE("the agent refuses a hostile client's escaping path") {
  TempDir work;
  fs::create_directory(work / "dest");
  RunResult r = run(quote(kHostile) + " client-dotdot " + quote(kAgent) + " " + quote(work / "dest"));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("agent said: protocol error: refused path \"../escape\": '..' component") != std::string::npos);
  CHECK(r.out.find("agent exit status: 1") != std::string::npos);
  CHECK_FALSE(fs::exists(work / "escape"));
}

TEST_CASE("a peer's Fatal cannot choose the exit status: a run that did not finish never exits 0") {
  TempDir work;
  for (const char* mode : {"fatal-ok", "fatal-partial"}) {
    CAPTURE(mode);
    RunResult r = run(quote(kFerry) + " restore --agent " + quote(kHostile + " " + mode) + " " +
                      quote(work / "backup") + " " + quote(work / "restore"));
    CHECK(r.code == 1);  // "the run stopped", from our own table
    CHECK(r.err.find("all done") != std::string::npos);
  }
}

TEST_CASE("an agent that stops with a reason while the client is still sending: the reason is reported, not a lost connection") {
  // As an agent whose disk filled: its Fatal arrives, and its end closes, while the client is
  // in the middle of writing a large file, so the client's next write fails first.
  TempDir work;
  std::string src = work / "src";
  fs::create_directories(src);
  write_random(src + "/big", 64 << 20, 3);
  for (int attempt = 0; attempt < 3; ++attempt) {
    RunResult r = run(quote(kFerry) + " backup --agent " + quote(kHostile + std::string(" full-disk")) + " " +
                      quote(src) + " " + quote(work / "dest"));
    INFO(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find("the destination is full; free space there and run again") != std::string::npos);
    CHECK(r.err.find("connection") == std::string::npos);
  }
}

TEST_CASE("the sender lists no more than a window ahead of what the receiver settled") {
  TempDir work;
  std::string src = work / "src";
  fs::create_directories(src);
  const uint64_t files = ferry::wire::kListWindow + 3000;
  for (uint64_t i = 0; i < files; ++i) {
    std::ofstream(src + "/f" + std::to_string(100000 + i)) << "x";
  }
  {
    RunResult r = run(quote(kFerry) + " backup --agent " + quote(kHostile + std::string(" unsettled")) + " " +
                      quote(src) + " " + quote(work / "dest"));
    INFO(r.err);
    CHECK(r.code == 1);
    // The root and the files, up to the window; never the rest or the end of the list.
    CHECK(r.err.find("received " + std::to_string(ferry::wire::kListWindow) + " entries") != std::string::npos);
  }
  {
    RunResult r = run(quote(kFerry) + " backup --agent " + quote(kHostile + std::string(" settle-back")) + " " +
                      quote(src) + " " + quote(work / "dest"));
    INFO(r.err);
    CHECK(r.code != 0);
    CHECK(r.err.find("Settled 1000 after Settled 1500: it went back") != std::string::npos);
  }
}

TEST_CASE("text a peer chose reaches the terminal escaped, in plain and --json output") {
  TempDir work;
  for (const char* json : {"", " --json"}) {
    CAPTURE(json);
    RunResult r = run(quote(kFerry) + " restore" + json + " --agent " + quote(kHostile + std::string(" terminal")) +
                      " " + quote(work / "backup") + " " + quote(work / "restore"));
    INFO(r.err);
    CHECK(r.code == 1);
    for (const std::string& stream : {r.err, r.out}) {
      CHECK(stream.find('\x1b') == std::string::npos);
      CHECK(stream.find('\x07') == std::string::npos);
      CHECK(stream.find("\nrestore finished OK") == std::string::npos);
    }
    // Both the Message and the Fatal arrived, visibly and on one line each.
    CHECK(r.err.find("agent: \\x1b]0;pwned\\x07\\x1b[2J\\x0arestore finished OK") != std::string::npos);
    CHECK(r.err.find("ferry: \\x1b]0;pwned") != std::string::npos);
    if (*json) {
      auto summary = nlohmann::json::parse(r.out);  // throws if not valid JSON
      CHECK(summary["exit_code"] == 1);
      CHECK(summary["error"].get<std::string>().find("\\x1b]0;pwned") != std::string::npos);
    }
  }
}

TEST_CASE("a Compressed frame the client did not negotiate is a protocol error") {
  TempDir work;
  RunResult r = run(quote(kFerry) + " restore --agent " + quote(kHostile + std::string(" uncompressed")) + " " +
                    quote(work / "backup") + " " + quote(work / "restore"));
  CHECK(r.code == 1);
  CHECK(r.err.find("protocol error: Compressed frame, but compression was not negotiated") != std::string::npos);
}

TEST_CASE("a hostile agent's answer to verify: records out of order, fewer than it counts, a verdict without a record") {
  TempDir work;
  struct Case {
    const char* mode;
    const char* message;
  };
  for (Case c : {Case{"verify-out-of-order", "the seal on the backup machine is damaged: records are out of order"},
                 Case{"verify-short", "its records do not give the root stored with them"},
                 Case{"verify-orphan", "a verify verdict without its sealed record"}}) {
    CAPTURE(c.mode);
    RunResult r = run("FERRY_HOME=" + quote(work / "home") + " " + quote(kFerry) + " verify --agent " +
                      quote(kHostile + " " + c.mode) + " " + quote(work / "backup"));
    INFO(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find(c.message) != std::string::npos);
  }
}
