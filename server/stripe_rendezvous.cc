#include "server/stripe_rendezvous.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "base/log.h"
#include "platform/platform.h"
#include "seal/sha256.h"

namespace ferry {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kSocketName[] = "/s";
// A connection that says nothing is dropped after this, so a stray one cannot hold the gathering.
constexpr auto kHandOverLimit = std::chrono::seconds(5);
constexpr char kAccepted = 'k';

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1000));
}

// Waits for fd to be readable until `deadline`; false if it passed.
bool readable_by(int fd, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, ms_left(deadline));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) throw FatalError(errno_message("poll", errno));
    if (Clock::now() >= deadline) return false;
  }
}

// Reads exactly len bytes by `deadline`. Returns how many it got: fewer at an end or the deadline.
size_t read_by(int fd, uint8_t* buf, size_t len, Clock::time_point deadline) {
  size_t got = 0;
  while (got < len && readable_by(fd, deadline)) {
    ssize_t n = ::read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

StripePreamble read_preamble(int fd, Clock::time_point deadline, const char* whose) {
  uint8_t bytes[kStripePreambleBytes];
  size_t got = read_by(fd, bytes, sizeof(bytes), deadline);
  if (got < sizeof(bytes)) {
    throw ConnectionError(std::string("the client sent no stripe preamble on ") + whose +
                          (got == 0 ? "" : " (it ended after " + std::to_string(got) + " bytes)"));
  }
  return StripePreamble::decode(bytes, sizeof(bytes));
}

void close_on_exec(int fd) { ::fcntl(fd, F_SETFD, FD_CLOEXEC); }

// Whether the process at the other end of a Unix socket runs as this one's user: the folder's
// mode already keeps others out, and this holds even if the name was reused in between.
bool peer_is_us(int socket_fd) {
  uid_t uid = 0;
  return platform::socket_peer_uid(socket_fd, &uid) && uid == ::geteuid();
}

// Whether the client closed channel 0 (its data may still wait to be read; the hang-up is what
// counts), so that a session whose client went away stops waiting for its other channels.
bool client_gone(int in_fd) {
  pollfd p{in_fd, 0, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

sockaddr_un socket_address(const std::string& dir) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = dir + kSocketName;
  if (path.size() >= sizeof(addr.sun_path)) throw FatalError("the rendezvous socket's path is too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Takes one join's hand-over: its preamble, with its channel's fd attached. Returns the fd and
// stores the preamble, or an invalid fd for anything else.
UniqueFd take_hand_over(int conn, Clock::time_point deadline, StripePreamble* said) {
  if (!readable_by(conn, std::min(deadline, Clock::now() + kHandOverLimit))) return {};
  uint8_t bytes[kStripePreambleBytes];
  iovec iov{bytes, sizeof(bytes)};
  // Room for more fds than a join sends: a kernel that cannot deliver what was sent may not
  // close the rest (older macOS); whatever comes beyond the first is closed here.
  alignas(cmsghdr) char control[CMSG_SPACE(8 * sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(conn, &msg, 0);
  UniqueFd passed;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n > 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < fds; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (!passed.valid()) passed.reset(fd);
      else ::close(fd);  // one fd a hand-over, never more
    }
  }
  if (n != static_cast<ssize_t>(sizeof(bytes)) || (msg.msg_flags & MSG_CTRUNC) || !passed.valid()) return {};
  try {
    *said = StripePreamble::decode(bytes, sizeof(bytes));
  } catch (const ProtocolError&) {
    return {};
  }
  close_on_exec(passed.get());
  return passed;
}

// The folder and its socket, removed when the gathering ends, whichever way.
class Rendezvous {
 public:
  explicit Rendezvous(const std::string& dir) : dir_(dir) {
    if (::mkdir(dir_.c_str(), 0700) != 0) {
      throw FatalError(errno_message("cannot make the folder where the other channels of this session meet: " + dir_, errno));
    }
    made_dir_ = true;
    listener_.reset(platform::stream_socket(AF_UNIX, /*nonblocking=*/false));
    if (!listener_.valid()) throw FatalError(errno_message("socket", errno));
    sockaddr_un addr = socket_address(dir_);
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listener_.get(), kMaxStripes) != 0) {
      throw FatalError(errno_message("cannot listen on " + dir_ + kSocketName, errno));
    }
    bound_ = true;
  }
  ~Rendezvous() {
    listener_.reset();
    if (bound_) ::unlink((dir_ + kSocketName).c_str());
    if (made_dir_) ::rmdir(dir_.c_str());
  }
  int listener() const { return listener_.get(); }

 private:
  std::string dir_;
  UniqueFd listener_;
  bool made_dir_ = false;
  bool bound_ = false;
};

}  // namespace

std::string rendezvous_dir(const StripeToken& token) {
  // Always /tmp: both processes must find the same place whatever their login set up, and a
  // client must not choose it (sshd may accept TMPDIR from the client).
  std::string hash = hex_of(sha256_of(std::string_view(reinterpret_cast<const char*>(token.data()), token.size())));
  return "/tmp/ferry-stripes-" + std::to_string(::geteuid()) + "-" + hash.substr(0, 16);
}

GatheredStripes gather_stripes(int in_fd, int count, std::chrono::milliseconds limit) {
  Clock::time_point deadline = Clock::now() + limit;
  StripePreamble own = read_preamble(in_fd, deadline, "its first channel");
  if (own.index != 0 || own.count != count) {
    throw ProtocolError("the first channel's stripe preamble says channel " + std::to_string(own.index) + " of " +
                        std::to_string(own.count) + ", not 0 of " + std::to_string(count));
  }
  Rendezvous rendezvous(rendezvous_dir(own.token));
  GatheredStripes gathered;
  gathered.channels.resize(static_cast<size_t>(count - 1));
  int joined = 0;
  while (joined < count - 1) {
    if (client_gone(in_fd)) throw ConnectionError("the client closed the session before its other channels joined");
    if (Clock::now() >= deadline) {
      throw ConnectionError(std::to_string(joined) + " of the " + std::to_string(count - 1) +
                            " other channels of this session joined within " +
                            std::to_string(limit.count() / 1000) + " s: their `ferry-agent join` did not start or "
                            "could not reach this one (what they said is on the client's terminal)");
    }
    // Short waits, so that a client that hangs up is noticed.
    if (!readable_by(rendezvous.listener(), std::min(deadline, Clock::now() + std::chrono::milliseconds(200)))) continue;
    UniqueFd conn(::accept(rendezvous.listener(), nullptr, nullptr));
    if (!conn.valid()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // out of fds, say: not a busy loop
      continue;
    }
    close_on_exec(conn.get());
    StripePreamble said;
    UniqueFd channel = take_hand_over(conn.get(), deadline, &said);
    bool ours = channel.valid() && peer_is_us(conn.get()) && same_token(said.token, own.token) &&
                said.count == count && said.index != 0 && !gathered.channels[static_cast<size_t>(said.index - 1)].valid();
    if (!ours) {
      spdlog::warn("a process that was not one of this session's channels connected to its rendezvous; ignored");
      continue;
    }
    (void)!::write(conn.get(), &kAccepted, 1);
    gathered.channels[static_cast<size_t>(said.index - 1)] = std::move(channel);
    gathered.joins.push_back(std::move(conn));
    ++joined;
  }
  spdlog::debug("all {} channels of this session joined", count);
  return gathered;
}

void join_stripe(int in_fd, std::chrono::milliseconds limit) {
  Clock::time_point deadline = Clock::now() + limit;
  StripePreamble own = read_preamble(in_fd, deadline, "this channel");
  if (own.index == 0) throw ProtocolError("a joining channel's stripe preamble says it is channel 0");
  std::string dir = rendezvous_dir(own.token);
  sockaddr_un addr = socket_address(dir);
  UniqueFd conn;
  // The serving process may still be reading its own preamble: try until the deadline.
  while (true) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
        throw FatalError(dir + " is not a private folder of this user: refusing to hand this channel to it");
      }
      conn.reset(platform::stream_socket(AF_UNIX, /*nonblocking=*/false));
      if (!conn.valid()) throw FatalError(errno_message("socket", errno));
      if (::connect(conn.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
        if (!peer_is_us(conn.get())) {
          throw FatalError("the process waiting at " + dir + " does not run as this user: refusing to hand this "
                           "channel to it");
        }
        break;
      }
      conn.reset();
    }
    if (Clock::now() >= deadline) {
      throw ConnectionError("no ferry-agent of this session waits for its other channels at " + dir +
                            " (it ended, or runs as another user)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string bytes = own.encode();
  iovec iov{bytes.data(), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &in_fd, sizeof(int));
  if (::sendmsg(conn.get(), &msg, 0) != static_cast<ssize_t>(bytes.size())) {
    throw ConnectionError(errno_message("cannot hand this channel to the session's ferry-agent", errno));
  }
  uint8_t answer[1];
  if (read_by(conn.get(), answer, 1, Clock::now() + kHandOverLimit) != 1 || answer[0] != kAccepted) {
    throw FatalError("the session's ferry-agent did not take this channel");
  }
  // The serving process reads the channel now; this one only keeps it open until that one ends.
  ::close(in_fd);
  while (true) {
    char ignored;
    ssize_t n = ::read(conn.get(), &ignored, 1);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    break;
  }
}

}  // namespace ferry
