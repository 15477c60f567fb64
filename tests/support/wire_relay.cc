// wire_relay: a counting TCP relay on 127.0.0.1, for measuring bytes on the wire from outside
// the programs under test (the tests of --bwlimit, and bench/ for Ferry and rsync alike).
//
//   wire_relay TARGET_PORT LOG_FILE [BYTES_PER_SECOND [DELAY_MS]]
//
// With a rate, each direction of each connection is paced to it, as a link of that speed would
// (bench/seals.py --link-mbit: what a cost looks like where the link, not the CPU, is the limit);
// 0 is no limit. With a delay, every byte reaches the other side that many milliseconds after it
// was read, in each direction (a round trip of twice the delay), as over a long link, without
// touching the host's loopback (bench/one_file.py --rtt-ms).
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
#include <condition_variable>
#include <deque>
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
Clock::duration g_delay{};  // one way

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

// Holds one direction to g_rate: once `total` bytes have gone, waits until they are due.
class Pacer {
 public:
  void wait_for(uint64_t total) {
    if (g_rate <= 0) return;
    if (from_ == Clock::time_point{}) from_ = Clock::now();
    std::this_thread::sleep_until(from_ + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(static_cast<double>(total) / g_rate)));
  }

 private:
  Clock::time_point from_{};  // when the first bytes went
};

void pump(int from, int to, Pipe* pipe) {
  // Paced in small reads, so that a burst never runs far ahead of the rate.
  std::vector<char> buf(g_rate > 0 ? 16 * 1024 : 256 * 1024);
  Pacer pacer;
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
    pacer.wait_for(pipe->bytes);
  }
  ::shutdown(to, SHUT_WR);
}

// The bytes of one direction in flight on a delayed link: read, and not yet due at the far end.
// A real link holds rate x delay; this one at most kMaxInFlight (the reader waits beyond it).
struct InFlight {
  static constexpr size_t kMaxInFlight = 64 << 20;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::pair<Clock::time_point, std::vector<char>>> queue;
  size_t bytes = 0;
  bool closed = false;
};

// pump() with a delay: this thread reads and queues, a second one writes each piece when due.
void delayed_pump(int from, int to, Pipe* pipe) {
  InFlight link;
  std::thread writer([&] {
    std::vector<char> piece;
    uint64_t written = 0;
    Pacer pacer;  // the rate applies on the far side, as the link's own
    while (true) {
      {
        std::unique_lock lock(link.mutex);
        link.changed.wait(lock, [&] { return link.closed || !link.queue.empty(); });
        if (link.queue.empty()) break;
        Clock::time_point due = link.queue.front().first;
        lock.unlock();
        std::this_thread::sleep_until(due);
        wait_while_stalled();
        lock.lock();
        piece = std::move(link.queue.front().second);
        link.queue.pop_front();
        link.bytes -= piece.size();
      }
      link.changed.notify_all();
      for (size_t off = 0; off < piece.size();) {
        ssize_t w = ::write(to, piece.data() + off, piece.size() - off);
        if (w <= 0) {
          ::shutdown(from, SHUT_RD);
          std::lock_guard lock(link.mutex);
          link.closed = true;
          link.queue.clear();
          link.changed.notify_all();
          return;
        }
        off += static_cast<size_t>(w);
      }
      written += piece.size();
      pacer.wait_for(written);
    }
    ::shutdown(to, SHUT_WR);
  });
  std::vector<char> buf(64 * 1024);
  while (true) {
    wait_while_stalled();
    ssize_t n = ::read(from, buf.data(), buf.size());
    if (n <= 0) break;
    auto now = Clock::now();
    if (pipe->bytes == 0) pipe->first = now;
    pipe->last = now;
    pipe->bytes += static_cast<uint64_t>(n);
    pipe->progress.emplace_back(now, pipe->bytes.load());
    std::unique_lock lock(link.mutex);
    link.changed.wait(lock, [&] { return link.closed || link.bytes < InFlight::kMaxInFlight; });
    if (link.closed) break;
    link.queue.emplace_back(now + g_delay, std::vector<char>(buf.data(), buf.data() + n));
    link.bytes += static_cast<size_t>(n);
    link.changed.notify_all();
  }
  {
    std::lock_guard lock(link.mutex);
    link.closed = true;
  }
  link.changed.notify_all();
  writer.join();
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
  auto forward = g_delay > Clock::duration{} ? delayed_pump : pump;
  std::thread t([&] { forward(server, client, &down); });
  forward(client, server, &up);
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
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: wire_relay TARGET_PORT LOG_FILE [BYTES_PER_SECOND [DELAY_MS]]\n");
    return 2;
  }
  if (argc >= 4) g_rate = std::atof(argv[3]);
  if (argc == 5) g_delay = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(std::atof(argv[4])));
  // A peer that closes while bytes for it are still in flight (the delay holds them back) is a
  // failed write on that connection, not the end of the relay.
  ::signal(SIGPIPE, SIG_IGN);
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
