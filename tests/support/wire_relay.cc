// wire_relay: a counting TCP relay on 127.0.0.1, for measuring bytes on the wire from outside
// the programs under test (the tests of --bwlimit, and bench/ for Ferry and rsync alike).
//
//   wire_relay TARGET_PORT LOG_FILE [BYTES_PER_SECOND]
//
// With a rate, each direction of each connection is paced to it, as a link of that speed would
// (bench/seals.py --link-mbit: what a cost looks like where the link, not the CPU, is the limit).
// Listens on a free port of 127.0.0.1 and prints it on stdout; forwards every connection to
// 127.0.0.1:TARGET_PORT. When a connection ends it appends one line to LOG_FILE:
//   <bytes client->server> <bytes server->client> <seconds from first to last byte>
//   <steady bytes> <steady seconds>
// where "steady" is the heavier direction from its first MiB to its last 256 KiB: the rate
// there leaves out the SSH handshake and start-up before, and the small closing exchange
// after (which waits for the receiver's flush to disk), neither of which a rate limit governs.
// Runs until killed.
//
// SIGUSR1 makes it stop forwarding on every connection while keeping both sockets open (a
// link that stalls without a reset: the tests of the idle timeout); SIGUSR2 resumes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kSteadyAfter = 1 << 20;
constexpr uint64_t kSteadyTail = 256 << 10;

volatile sig_atomic_t g_stalled = 0;  // set by SIGUSR1, cleared by SIGUSR2
double g_rate = 0;  // bytes per second per direction; 0: as fast as it goes

// While stalled, neither reads nor writes: the kernel's buffers fill and both peers see a
// connection that is open and silent.
void wait_while_stalled() {
  while (g_stalled) ::usleep(10'000);
}

struct Pipe {
  std::atomic<uint64_t> bytes{0};
  Clock::time_point first{}, last{};
  std::vector<std::pair<Clock::time_point, uint64_t>> progress;  // (time, bytes so far) per read

  // Bytes and seconds from the first MiB to the last kSteadyTail bytes; zeros if too short.
  std::pair<uint64_t, double> steady() const {
    uint64_t total = bytes;
    if (total < kSteadyAfter + kSteadyTail) return {0, 0};
    const std::pair<Clock::time_point, uint64_t>* from = nullptr;
    const std::pair<Clock::time_point, uint64_t>* to = nullptr;
    for (const auto& p : progress) {
      if (from == nullptr && p.second >= kSteadyAfter) from = &p;
      if (to == nullptr && p.second >= total - kSteadyTail) to = &p;
    }
    if (from == nullptr || to == nullptr || to <= from) return {0, 0};
    return {to->second - from->second, std::chrono::duration<double>(to->first - from->first).count()};
  }
};

void pump(int from, int to, Pipe* pipe) {
  // Paced in small reads, so that a burst never runs far ahead of the rate.
  std::vector<char> buf(g_rate > 0 ? 16 * 1024 : 256 * 1024);
  Clock::time_point paced_from{};
  while (true) {
    wait_while_stalled();
    ssize_t n = ::read(from, buf.data(), buf.size());
    if (n <= 0) break;
    wait_while_stalled();
    auto now = Clock::now();
    if (pipe->bytes == 0) pipe->first = now;
    pipe->last = now;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(to, buf.data() + off, static_cast<size_t>(n - off));
      if (w <= 0) {
        ::shutdown(from, SHUT_RD);
        ::shutdown(to, SHUT_WR);
        return;
      }
      off += w;
    }
    pipe->bytes += static_cast<uint64_t>(n);
    pipe->progress.emplace_back(Clock::now(), pipe->bytes.load());
    if (g_rate > 0) {
      if (paced_from == Clock::time_point{}) paced_from = now;
      auto due = paced_from + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(static_cast<double>(pipe->bytes) / g_rate));
      std::this_thread::sleep_until(due);
    }
  }
  ::shutdown(to, SHUT_WR);
}

int connect_target(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void relay(int client, int target_port, const std::string& log, std::mutex* log_mutex) {
  int server = connect_target(target_port);
  if (server < 0) {
    ::close(client);
    return;
  }
  int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  Pipe up, down;
  std::thread t([&] { pump(server, client, &down); });
  pump(client, server, &up);
  t.join();
  ::close(client);
  ::close(server);
  Clock::time_point first = std::min(up.first, down.first == Clock::time_point{} ? up.first : down.first);
  Clock::time_point last = std::max(up.last, down.last);
  double seconds = std::chrono::duration<double>(last - first).count();
  const Pipe& heavy = up.bytes >= down.bytes ? up : down;
  auto [steady_bytes, steady_seconds] = heavy.steady();
  std::lock_guard lock(*log_mutex);
  if (FILE* f = std::fopen(log.c_str(), "a")) {
    std::fprintf(f, "%llu %llu %.6f %llu %.6f\n", static_cast<unsigned long long>(up.bytes.load()),
                 static_cast<unsigned long long>(down.bytes.load()), seconds,
                 static_cast<unsigned long long>(steady_bytes), steady_seconds);
    std::fclose(f);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: wire_relay TARGET_PORT LOG_FILE [BYTES_PER_SECOND]\n");
    return 2;
  }
  if (argc == 4) g_rate = std::atof(argv[3]);
  ::signal(SIGUSR1, [](int) { g_stalled = 1; });
  ::signal(SIGUSR2, [](int) { g_stalled = 0; });
  int target_port = std::atoi(argv[1]);
  std::string log = argv[2];
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listener, 16) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("wire_relay: listen");
    return 1;
  }
  std::printf("%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  std::mutex log_mutex;
  while (true) {
    int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::thread(relay, client, target_port, log, &log_mutex).detach();
  }
}
