// --streams N over the real sshd: what the client sends is spread over N SSH channels, chunk by
// chunk in rotation, and the agent puts it back in order (transport/stripes.h).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/ssh_session.h"
#include "e2e/e2e.h"
#include "transport/stripes.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

// An --agent that notes each way it is started ("serve --streams 3", "join") in `log`, then runs
// the real agent; or, for `join` with refuse_join, says so and exits.
std::string logging_agent(const std::string& dir, const std::string& log, bool refuse_join = false) {
  std::string path = dir + "/agent.sh";
  std::ofstream(path) << "#!/bin/sh\n"
                      << "echo \"$*\" >> " << quote(log) << "\n"
                      << (refuse_join ? "[ \"$1\" = join ] && { echo 'this join refuses' >&2; exit 1; }\n" : "")
                      << "exec " << quote(kAgent) << " \"$@\"\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace

TEST_CASE("--streams 3 spreads a backup over three channels, and the copy and its restore are exact") {
  TempDir work;
  std::string src = work / "src", backup = work / "backup", restored = work / "restored";
  fs::create_directory(src);
  build_full_tree(src);
  // Enough data for many chunks on every channel.
  for (int i = 0; i < 4; ++i) write_random(src + "/big" + std::to_string(i), 3 * 1024 * 1024 + 4097 * i, 40 + i);
  Snapshot original = snapshot(src);
  sshd().trust_host_key();
  std::string log = work / "agent.log";
  std::string agent = logging_agent(work.path(), log);

  RunResult b = run(ferry_over_ssh("backup --json --streams 3 --agent " + quote(agent), work / "home") + " " +
                    quote(src) + " " + quote(remote(backup)));
  INFO(b.err);
  REQUIRE(b.code == 0);
  CHECK(compare(original, snapshot(backup)) == "");
  CHECK(lines_of(slurp(log)) == std::vector<std::string>{"join", "join", "serve --streams 3"});
  CHECK(json_field(b.out, "bytes_wire_sent") > 12 * 1024 * 1024);
  // The rendezvous folder is gone once the channels have met.
  for (const auto& entry : fs::directory_iterator("/tmp")) {
    CHECK(entry.path().filename().string().rfind("ferry-stripes-" + std::to_string(::geteuid()) + "-", 0) != 0);
  }

  RunResult r = run(ferry_over_ssh("restore --streams 3 --agent " + quote(agent), work / "home") + " " +
                    quote(remote(backup)) + " " + quote(restored));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(original, snapshot(restored)) == "");

  // Another count on the same destination: nothing to send.
  RunResult again = run(ferry_over_ssh("backup --json --streams 2", work / "home") + " " + quote(src) + " " +
                        quote(remote(backup)));
  INFO(again.err);
  REQUIRE(again.code == 0);
  CHECK(json_field(again.out, "files_transferred") == 0);
}

TEST_CASE("a channel of a striped session that does not join ends the run in bounded time, with nothing written") {
  TempDir work;
  std::string src = work / "src", backup = work / "backup";
  fs::create_directory(src);
  write_random(src + "/data", 2 * 1024 * 1024, 7);
  sshd().trust_host_key();
  std::string log = work / "agent.log";
  std::string agent = logging_agent(work.path(), log, /*refuse_join=*/true);
  auto started = std::chrono::steady_clock::now();
  RunResult b = run(ferry_over_ssh("backup --streams 2 --timeout 10 --agent " + quote(agent), work / "home") + " " +
                    quote(src) + " " + quote(remote(backup)));
  auto took = std::chrono::steady_clock::now() - started;
  INFO(b.err);
  CHECK(b.code != 0);
  CHECK(b.err.find("this join refuses") != std::string::npos);
  CHECK(b.err.find("channel 2 of 2 to the agent closed") != std::string::npos);
  // Well before the 10 s the client would wait for a silent agent.
  CHECK(took < std::chrono::seconds(8));
  CHECK(!fs::exists(backup + "/data"));
}

TEST_CASE("the pump sends each channel its preamble, then the engine's bytes in whole chunks, in rotation") {
  TempDir work;
  ferry::SshOptions o = ssh_options_for_test_sshd();
  std::string sent(5 * 1024 * 1024 + 17, '\0');
  std::mt19937 random(3);
  for (char& c : sent) c = static_cast<char>(random());
  std::vector<std::string> files;
  for (int k = 0; k < 3; ++k) files.push_back(work / ("channel" + std::to_string(k)));
  {
    ferry::SshSession session(o);
    // Each command puts its file in place once it has read to the end: the session waits only for the
    // first channel's command to exit.
    auto keep = [](const std::string& f) { return "cat > " + quote(f + ".part") + " && mv " + quote(f + ".part") + " " + quote(f); };
    ferry::Channel& engine = session.start(keep(files[0]), "cat", {keep(files[1]), keep(files[2])});
    for (size_t at = 0; at < sent.size(); at += 100'000) engine.write_all(sent.data() + at, std::min<size_t>(100'000, sent.size() - at));
    engine.close_write();
    // The other channels' commands may still be reading when the first one ends.
    for (const std::string& f : files) {
      for (int i = 0; i < 200 && !fs::exists(f); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(session.finish() == 0);
  }
  std::vector<std::string> got;
  for (const std::string& f : files) got.push_back(slurp(f));
  std::vector<size_t> at(3, ferry::kStripePreambleBytes);
  ferry::StripeToken token{};
  for (int k = 0; k < 3; ++k) {
    REQUIRE(got[k].size() > ferry::kStripePreambleBytes);
    auto p = ferry::StripePreamble::decode(reinterpret_cast<const uint8_t*>(got[k].data()), ferry::kStripePreambleBytes);
    CHECK(p.index == k);
    CHECK(p.count == 3);
    if (k == 0) token = p.token;
    CHECK(ferry::same_token(p.token, token));
  }
  std::string joined;
  std::vector<int> chunks(3, 0);
  for (size_t k = 0; at[k] < got[k].size(); k = (k + 1) % 3) {
    REQUIRE(at[k] + ferry::kStripeChunkHeaderBytes <= got[k].size());
    uint32_t len = ferry::decode_chunk_header(reinterpret_cast<const uint8_t*>(got[k].data() + at[k]));
    at[k] += ferry::kStripeChunkHeaderBytes;
    REQUIRE(at[k] + len <= got[k].size());
    joined.append(got[k], at[k], len);
    at[k] += len;
    ++chunks[k];
  }
  for (int k = 0; k < 3; ++k) CHECK(at[k] == got[k].size());
  CHECK(joined == sent);
  for (int k = 0; k < 3; ++k) CHECK(chunks[k] >= 3);
}

TEST_CASE("an agent asked for stripes that gets anything but a preamble says so to the client, as a Fatal") {
  RunResult r = run("head -c 100 /dev/zero | " + quote(kAgent) + " serve --streams 2");
  CHECK(r.code == 1);
  CHECK(r.out.rfind("\x89" "FERRY\r\n\x1a", 0) == 0);  // the magic first: the client reads what follows
  CHECK(r.out.find("did not start with the stripe preamble") != std::string::npos);
}

TEST_CASE("with --streams, an agent that refuses the run is heard: its reason, not a closed channel") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest";
  fs::create_directories(src);
  fs::create_directories(dest);
  write_random(src + "/data", 4 * 1024 * 1024, 9);
  std::ofstream(dest + "/someone-elses") << "keep me";
  sshd().trust_host_key();
  RunResult b = run(ferry_over_ssh("backup --delete --streams 3", work / "home") + " " + quote(src) + " " +
                    quote(remote(dest)));
  INFO(b.err);
  CHECK(b.code == 2);
  CHECK(b.err.find("Ferry has never backed up into it") != std::string::npos);
  CHECK(b.err.find("to the agent closed") == std::string::npos);
  CHECK(fs::exists(dest + "/someone-elses"));
  CHECK(!fs::exists(dest + "/data"));
}

TEST_CASE("more --streams than sshd's MaxSessions is refused with the setting named, nothing written") {
  TempDir work;
  std::string src = work / "src", backup = work / "backup";
  fs::create_directories(src);
  write_random(src + "/data", 1024 * 1024, 11);
  sshd().trust_host_key();
  RunResult b = run(ferry_over_ssh("backup --streams 8", work / "home") + " " + quote(src) + " " + quote(remote(backup)));
  INFO(b.err);
  CHECK(b.code == 4);
  CHECK(b.err.find("refused channel 7 of 8") != std::string::npos);
  CHECK(b.err.find("MaxSessions") != std::string::npos);
  CHECK(!fs::exists(backup + "/data"));
}
