// The client's SSH pump against the real sshd, driven directly: what reaches the engine's channel
// is exactly what the remote command wrote, a slow engine does not make the client buffer, and
// the window it grants is wide.
#include <doctest/doctest.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "client/ssh_session.h"
#include "e2e/e2e.h"

using namespace ferry::test;

namespace {

// Peak resident memory of this process so far, in KiB (VmHWM).
long peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

TEST_CASE("a slow engine makes the remote wait, not the client buffer") {
  constexpr long kBytes = 96L * 1024 * 1024;
  ferry::SshSession session(ssh_options_for_test_sshd());
  ferry::Channel& engine = session.start("head -c " + std::to_string(kBytes) + " /dev/zero", "head");
  long before = peak_rss_kib();
  REQUIRE(before > 0);
  std::string buf(256 * 1024, '\1');
  long total = 0;
  bool all_zero = true;
  while (true) {
    size_t n = engine.read_some(buf.data(), buf.size());
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) all_zero &= buf[i] == 0;
    total += static_cast<long>(n);
    // About 100 MiB/s: far slower than sshd can send over loopback.
    std::this_thread::sleep_for(std::chrono::microseconds(2500));
  }
  CHECK(session.finish() == 0);
  CHECK(total == kBytes);
  CHECK(all_zero);
  // The engine's queues are 512 KiB each; without flow control the difference would be most of
  // the 96 MiB the remote could send ahead. (AddressSanitizer keeps freed memory in quarantine,
  // so under it the figure says nothing.)
#ifndef __SANITIZE_ADDRESS__
  CHECK(peak_rss_kib() - before < 16 * 1024);
#endif
}

TEST_CASE("the client grants the agent a window wide enough for a long link") {
  // libssh 0.10 on its own grants 1,280,000 bytes at most, 13 MB/s at 50 ms of round trip; the
  // pump widens it to 8 MiB. sshd logs each adjust it receives; only this test's are read.
  auto log_size = [] { return std::filesystem::exists(sshd().log()) ? std::filesystem::file_size(sshd().log()) : 0; };
  auto before = log_size();
  constexpr long kBytes = 24L * 1024 * 1024;
  ferry::SshSession session(ssh_options_for_test_sshd());
  ferry::Channel& engine = session.start("head -c " + std::to_string(kBytes) + " /dev/zero", "head");
  std::string buf(256 * 1024, '\1');
  long total = 0;
  while (size_t n = engine.read_some(buf.data(), buf.size())) total += static_cast<long>(n);
  CHECK(session.finish() == 0);
  CHECK(total == kBytes);

  std::ifstream log(sshd().log());
  log.seekg(static_cast<std::streamoff>(before));
  std::string line;
  long widest = 0;
  int adjusts = 0;
  const std::string said = "rcvd adjust ";
  while (std::getline(log, line)) {
    auto at = line.find(said);
    if (at == std::string::npos) continue;
    ++adjusts;
    widest = std::max(widest, std::stol(line.substr(at + said.size())));
  }
  INFO("window adjusts seen: " << adjusts);
  CHECK(adjusts > 0);
  CHECK(widest >= 4L * 1024 * 1024);
}
