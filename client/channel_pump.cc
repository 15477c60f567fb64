#include "client/channel_pump.h"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>

#include "base/log.h"
#include "transport/pumped_channel.h"
#include "transport/stripes.h"

namespace ferry {
namespace {

// The engine is woken for channel data in pieces this large while more is arriving: waking it
// per 32 KiB SSH packet cost a context switch per packet.
constexpr size_t kWakeBatch = 128 * 1024;
// The socket is read only while the engine's queue has this much room: one 4 KiB read can
// complete at most one SSH packet (32 KiB of channel data), so the data callback never has to
// refuse bytes.
constexpr size_t kRoomToRead = 64 * 1024;
// The window the pump grants the agent: 8 MiB in flight fills 160 MB/s at 50 ms of round trip.
// It is topped up each time another eighth of it has arrived.
constexpr uint32_t kWindowBytes = 8 * 1024 * 1024;
constexpr size_t kWidenEvery = kWindowBytes / 8;
// The pump gives up on a silent peer this long after the engine would: while the engine waits
// on the channel, its own deadline fires first and its message ("… sent nothing for 60 s") is
// the one the user sees. The pump's matters when nobody waits on the channel.
constexpr auto kDeadlineGrace = std::chrono::seconds(2);
// The longest one poll sleeps: it bounds how late we notice a close that produced no event, an
// abandon, an abort or the deadline.
constexpr int kPollMs = 100;
// How long a channel after the first may be closed, with nothing heard on the first, before the
// run ends (check_stripes).
constexpr auto kStripeGrace = std::chrono::seconds(2);

}  // namespace

ChannelPump::ChannelPump(ssh_session_struct* session, ssh_channel_struct* channel, PumpedChannel& engine,
                         std::string* stderr_tail, std::vector<ssh_channel_struct*> stripes,
                         std::vector<std::string> preambles)
    : session_(session),
      channel_(channel),
      engine_(engine),
      stderr_tail_(stderr_tail),
      read_buf_(new char[kWindowBytes]),  // not value-initialized: untouched pages cost nothing
      received_since_widened_(kWidenEvery),  // so the first turn of the loop widens it
      up_buf_(kStripeChunkHeaderBytes + 256 * 1024),
      preambles_(std::move(preambles)) {
  outs_.push_back(channel);
  outs_.insert(outs_.end(), stripes.begin(), stripes.end());
}

int ChannelPump::take_channel_data(const char* data, size_t len, bool is_stderr) {
  if (is_stderr) {
    show_remote_stderr(data, len, stderr_tail_);
    return static_cast<int>(len);
  }
  // While draining, ssh_channel_read is about to copy from the same buffer, in order; while
  // bytes are held, these come after them.
  if (draining_ || held_from_ < held_to_) {
    channel_holds_data_ = true;
    return 0;
  }
  size_t took = engine_.push_down(data, len);
  unpublished_ += took;
  received_since_widened_ += took;
  peer_alive_ = true;
  if (took < len) channel_holds_data_ = true;
  return static_cast<int>(took);
}

void ChannelPump::publish() {
  engine_.publish_down();
  unpublished_ = 0;
}

bool ChannelPump::hand_on_held() {
  size_t took = engine_.push_down(read_buf_.get() + held_from_, held_to_ - held_from_);
  held_from_ += took;
  unpublished_ += took;
  if (held_from_ < held_to_) return false;
  held_from_ = held_to_ = 0;
  return true;
}

bool ChannelPump::drain_channel_buffer() {
  channel_holds_data_ = false;
  if (!hand_on_held()) {
    channel_holds_data_ = true;
    return true;
  }
  // Once libssh's buffer is empty, a read polls the socket and may decrypt a packet, whose data
  // callback would queue bytes ahead of the ones this read returns: while draining it refuses,
  // and the read returns those bytes in order.
  draining_ = true;
  bool ok = true;
  while (true) {
    size_t room = engine_.down_room();
    if (room == 0) {
      channel_holds_data_ = true;  // maybe more
      break;
    }
    // Asks for what is there, at most `room`: this read never grows the window (widen_window
    // does, where a read asks for more than the window).
    room = std::min<size_t>(room, kRoomToRead);
    int n = ssh_channel_read_nonblocking(channel_, read_buf_.get(), static_cast<uint32_t>(room), 0);
    if (n == SSH_ERROR) ok = false;
    if (n <= 0) break;
    engine_.push_down(read_buf_.get(), static_cast<size_t>(n));
    unpublished_ += static_cast<size_t>(n);
    received_since_widened_ += static_cast<size_t>(n);
    peer_alive_ = true;
  }
  draining_ = false;
  return ok;
}

bool ChannelPump::widen_window() {
  received_since_widened_ = 0;
  if (remote_eof_ || channel_holds_data_ || !ssh_channel_is_open(channel_) || ssh_channel_is_eof(channel_)) {
    return true;
  }
  // libssh 0.10 has no call that sets the window; ssh_channel_read grows it to the count asked
  // for when that exceeds the window and what is buffered. Non-blocking (timeout 0), this read
  // decrypts at most what one socket read completes; the data callback hands that to the
  // engine, and whatever it refused comes back here, is held, and goes first.
  int n = ssh_channel_read_timeout(channel_, read_buf_.get(), kWindowBytes, 0, 0);
  if (n == SSH_ERROR) return false;
  if (n > 0) {
    held_to_ = static_cast<size_t>(n);
    peer_alive_ = true;
    if (!hand_on_held()) channel_holds_data_ = true;
  }
  return true;
}

std::string ChannelPump::lost(const char* while_doing) const {
  return std::string("connection lost") + while_doing + ": " + ssh_get_error(session_);
}

bool ChannelPump::next_up_chunk() {
  up_sent_ = up_len_ = 0;
  if (preambles_sent_ < preambles_.size()) {
    // Each channel's first bytes; the rotation has brought us to the channel of this one.
    const std::string& preamble = preambles_[preambles_sent_++];
    std::copy(preamble.begin(), preamble.end(), up_buf_.begin());
    up_len_ = preamble.size();
    return true;
  }
  size_t header = striped() ? kStripeChunkHeaderBytes : 0;
  size_t n = engine_.pop_up(up_buf_.data() + header, up_buf_.size() - header);
  if (n == 0) {
    if (engine_.up_ended()) {
      local_eof_ = true;
      for (ssh_channel out : outs_) {
        if (ssh_channel_is_open(out)) ssh_channel_send_eof(out);
      }
    }
    return false;
  }
  if (header != 0) encode_chunk_header(static_cast<uint32_t>(n), reinterpret_cast<uint8_t*>(up_buf_.data()));
  up_len_ = header + n;
  return true;
}

std::string ChannelPump::send_up() {
  window_shut_ = false;
  while (!local_eof_) {
    if (up_sent_ == up_len_ && !next_up_chunk()) break;
    // A blocking ssh_channel_write would wait for the window without bound (and libssh's
    // "non-blocking" one still polls for it): offer only what the window takes, and leave the
    // rest for when the peer's window adjust arrives through the poll.
    ssh_channel out = outs_[out_];
    // A channel after the first that the agent's side closed takes nothing more; check_stripes
    // decides when that ends the run, after channel 0 has had its say (a Fatal, say).
    bool stripe_gone = out_ != 0 && (!ssh_channel_is_open(out) || ssh_channel_is_eof(out));
    uint32_t window = stripe_gone ? 0 : ssh_channel_window_size(out);
    if (window == 0) {
      window_shut_ = true;
      break;
    }
    auto chunk = static_cast<uint32_t>(std::min<size_t>(up_len_ - up_sent_, window));
    int w = ssh_channel_write(out, up_buf_.data() + up_sent_, chunk);
    if (w == SSH_ERROR && out_ != 0 && ssh_is_connected(session_)) {
      window_shut_ = true;  // that channel closed under us: as above
      break;
    }
    if (w == SSH_ERROR) return lost(" while sending");
    if (w == 0) {
      window_shut_ = true;
      break;
    }
    up_sent_ += static_cast<size_t>(w);
    peer_alive_ = true;  // it opened the window for these
    // A chunk goes whole on one channel; the next one on the next channel.
    if (up_sent_ == up_len_) out_ = (out_ + 1) % outs_.size();
  }
  return "";
}

bool ChannelPump::engine_behind() {
  // Once the peer has sent its last byte (or the engine stopped listening), there is nothing
  // more to make room for.
  return !remote_eof_ && engine_.down_room() < kRoomToRead;
}

std::string ChannelPump::check_deadline() {
  auto now = std::chrono::steady_clock::now();
  // Silence counts only while we wait for the peer: to send it what it has no window for, or
  // to hear from it (it sends keepalives). Not while our engine is behind: then we are not
  // reading, and the peer may be waiting for us.
  bool waiting_for_peer = !engine_behind() && (window_shut_ || !remote_eof_);
  if (peer_alive_ || !waiting_for_peer) {
    peer_alive_ = false;
    heard_at_ = now;
    return "";
  }
  if (now - heard_at_ < engine_.idle_timeout() + kDeadlineGrace) return "";
  std::string error = engine_.idle_error(window_shut_ ? "stopped reading" : "sent nothing");
  engine_.fail(error);  // the engine's next read or write says so too
  return error;
}

std::string ChannelPump::check_stripes() {
  if (local_eof_ || remote_eof_) return "";  // the session is ending: its channels close now
  auto now = std::chrono::steady_clock::now();
  for (size_t k = 1; closed_stripe_ == 0 && k < outs_.size(); ++k) {
    if (!ssh_channel_is_open(outs_[k]) || ssh_channel_is_eof(outs_[k])) {
      closed_stripe_ = k;
      stripe_closed_at_ = now;
    }
  }
  // An agent that stops the session (a Fatal) ends every channel at about once: the first
  // channel's end, and the agent's own words, come first while it still sends anything.
  if (closed_stripe_ == 0 || now - std::max(stripe_closed_at_, heard_at_) < kStripeGrace) return "";
  std::string error = "channel " + std::to_string(closed_stripe_ + 1) + " of " + std::to_string(outs_.size()) +
                      " to the agent closed while the session went on (what it said, if anything, is above); if "
                      "it said nothing, check that the agent there is this version of Ferry, or leave --streams out";
  engine_.fail(error);
  return error;
}

void ChannelPump::wait_for_engine() {
  publish();
  if (!engine_.prepare_to_sleep()) return;  // it wrote something: send that first
  pollfd wake{engine_.wake_fd(), POLLIN, 0};
  ::poll(&wake, 1, kPollMs);
  engine_.woke();
  engine_.clear_wake();
}

std::string ChannelPump::run(const std::atomic<bool>& abandon) {
  ssh_channel_callbacks_struct callbacks{};
  callbacks.userdata = this;
  callbacks.channel_data_function = [](ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr,
                                       void* self) -> int {
    return static_cast<ChannelPump*>(self)->take_channel_data(static_cast<const char*>(data), len, is_stderr != 0);
  };
  ssh_callbacks_init(&callbacks);
  ssh_set_channel_callbacks(channel_, &callbacks);
  // The other channels of a striped session send nothing but what their process says on stderr.
  ssh_channel_callbacks_struct stripe_callbacks{};
  stripe_callbacks.userdata = this;
  stripe_callbacks.channel_data_function = [](ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr,
                                              void* self) -> int {
    if (is_stderr != 0) static_cast<ChannelPump*>(self)->take_channel_data(static_cast<const char*>(data), len, true);
    return static_cast<int>(len);
  };
  ssh_callbacks_init(&stripe_callbacks);
  for (size_t k = 1; k < outs_.size(); ++k) ssh_set_channel_callbacks(outs_[k], &stripe_callbacks);
  ssh_set_blocking(session_, 0);
  heard_at_ = std::chrono::steady_clock::now();
  event_ = ssh_event_new();
  ssh_event_add_session(event_, session_);
  auto on_wake = [](socket_t, int, void* engine) -> int {
    static_cast<PumpedChannel*>(engine)->clear_wake();
    return 0;
  };
  ssh_event_add_fd(event_, engine_.wake_fd(), POLLIN, on_wake, &engine_);

  std::string error;
  // Data that arrived before the callbacks were set sits in libssh's buffer.
  if (!drain_channel_buffer()) error = lost("");
  bool busy = false;  // the last poll found work: more may be ready without waiting
  while (error.empty() && !abandon && !engine_.aborted()) {
    if (received_since_widened_ >= kWidenEvery && !engine_behind() && !widen_window()) {
      error = lost("");
      break;
    }
    if (!busy || unpublished_ >= kWakeBatch || channel_holds_data_) publish();
    if (channel_holds_data_ && engine_.down_room() > 0 && !drain_channel_buffer()) {
      error = lost("");
      break;
    }
    if (!remote_eof_ && engine_.engine_closed()) remote_eof_ = true;  // drop what still comes
    if (!remote_eof_ && !channel_holds_data_ && (ssh_channel_is_eof(channel_) || !ssh_channel_is_open(channel_))) {
      remote_eof_ = true;
      publish();
      engine_.end_down();
    }
    error = send_up();
    if (!error.empty() || (remote_eof_ && local_eof_)) break;
    error = check_deadline();
    if (error.empty()) error = check_stripes();
    if (!error.empty()) break;
    if (engine_behind()) {
      // The engine is behind. Flow control is TCP's: left unread, the socket's buffers fill and
      // the agent's side stops. (Letting libssh take more would not stop it: every read from
      // libssh's own buffer re-opens the SSH window, whatever that buffer already holds.)
      wait_for_engine();
      busy = false;
      continue;
    }
    // Without work in hand, the timeout only bounds how late we notice a close that produced no
    // event; the engine's writes and reads wake the poll through its waker. Up data that
    // waits for the window is no work in hand: the window adjust wakes the poll.
    bool sleep = false;
    if (!busy) sleep = engine_.prepare_to_sleep() || window_shut_;
    int rc = ssh_event_dopoll(event_, sleep ? kPollMs : 0);
    if (!busy) engine_.woke();
    if (rc == SSH_ERROR && !ssh_is_connected(session_)) error = lost("");
    busy = rc == SSH_OK && !remote_eof_;
  }

  ssh_event_remove_fd(event_, engine_.wake_fd());
  ssh_event_remove_session(event_, session_);
  ssh_event_free(event_);
  event_ = nullptr;
  ssh_remove_channel_callbacks(channel_, &callbacks);
  for (size_t k = 1; k < outs_.size(); ++k) ssh_remove_channel_callbacks(outs_[k], &stripe_callbacks);
  return error;
}

void show_remote_stderr(const char* data, size_t len, std::string* tail) {
  std::string safe = terminal_safe(std::string_view(data, len));
  (void)!::write(STDERR_FILENO, safe.data(), safe.size());
  if (tail != nullptr) keep_tail(tail, data, len);
}

void keep_tail(std::string* tail, const char* data, size_t len) {
  constexpr size_t kTailBytes = 4096;
  tail->append(data, len);
  if (tail->size() > kTailBytes) tail->erase(0, tail->size() - kTailBytes);
}

}  // namespace ferry
