#include "client/channel_pump.h"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>

namespace ferry {
namespace {

constexpr size_t kBufferSize = 256 * 1024;
// Channel data is handed to the engine in pieces this large while more is arriving: a write per
// 32 KiB SSH packet cost the engine a read per packet, and often a failed read and a poll.
constexpr size_t kWriteBatch = 128 * 1024;
// The socket is read only while `down_` has this much room: one 4 KiB read can complete at most
// one SSH packet (32 KiB of channel data), so the data callback never has to refuse bytes.
constexpr size_t kRoomToRead = 64 * 1024;

}  // namespace

ChannelPump::ChannelPump(ssh_session_struct* session, ssh_channel_struct* channel, int local_fd)
    : session_(session), channel_(channel), local_(local_fd), down_(kBufferSize), up_(kBufferSize) {
  int flags = ::fcntl(local_, F_GETFL);
  ::fcntl(local_, F_SETFL, flags | O_NONBLOCK);
}

void ChannelPump::compact_down() {
  if (down_begin_ == 0) return;
  std::memmove(down_.data(), down_.data() + down_begin_, down_end_ - down_begin_);
  down_end_ -= down_begin_;
  down_begin_ = 0;
}

int ChannelPump::take_channel_data(const char* data, size_t len, bool is_stderr) {
  if (is_stderr) {
    (void)!::write(STDERR_FILENO, data, len);
    return static_cast<int>(len);
  }
  if (draining_) {  // ssh_channel_read is about to copy from the same buffer, in order
    channel_holds_data_ = true;
    return 0;
  }
  if (down_.size() - down_end_ < len) compact_down();
  size_t room = down_.size() - down_end_;
  size_t take = len < room ? len : room;
  std::memcpy(down_.data() + down_end_, data, take);
  down_end_ += take;
  if (take < len) channel_holds_data_ = true;
  return static_cast<int>(take);
}

void ChannelPump::note_local_events(int revents) {
  if (revents & (POLLIN | POLLHUP | POLLERR)) local_readable_ = true;
  if (revents & (POLLOUT | POLLHUP | POLLERR)) local_writable_ = true;
}

// ssh_event fds have fixed events: to add or drop POLLOUT, the engine's socket is registered
// again. That happens only when the engine falls behind, not per packet.
void ChannelPump::update_local_watch() {
  short wanted = static_cast<short>((local_eof_ ? 0 : POLLIN) | (down_begin_ < down_end_ && !local_writable_ ? POLLOUT : 0));
  if (wanted == local_events_) return;
  auto on_local = [](socket_t, int revents, void* self) -> int {
    static_cast<ChannelPump*>(self)->note_local_events(revents);
    return 0;
  };
  if (local_events_ != 0) ssh_event_remove_fd(event_, local_);
  if (wanted != 0) ssh_event_add_fd(event_, local_, wanted, on_local, this);
  local_events_ = wanted;
}

bool ChannelPump::write_down() {
  while (down_begin_ < down_end_ && local_writable_) {
    ssize_t w = ::write(local_, down_.data() + down_begin_, down_end_ - down_begin_);
    if (w > 0) {
      down_begin_ += static_cast<size_t>(w);
    } else if (w < 0 && errno == EAGAIN) {
      local_writable_ = false;
    } else if (w < 0 && errno != EINTR) {
      return false;
    }
  }
  return true;
}

bool ChannelPump::drain_channel_buffer() {
  compact_down();
  channel_holds_data_ = false;
  // Once libssh's buffer is empty, a read polls the socket and may decrypt a packet, whose data
  // callback would write into `down_` under the read's feet: while draining it refuses, and
  // the read copies those bytes in order.
  draining_ = true;
  bool ok = true;
  while (down_end_ < down_.size()) {
    int n = ssh_channel_read_nonblocking(channel_, down_.data() + down_end_,
                                         static_cast<uint32_t>(down_.size() - down_end_), 0);
    if (n == SSH_ERROR) ok = false;
    if (n <= 0) break;
    down_end_ += static_cast<size_t>(n);
  }
  draining_ = false;
  if (down_end_ == down_.size()) channel_holds_data_ = true;  // maybe more
  return ok;
}

std::string ChannelPump::lost(const char* while_doing) const {
  return std::string("connection lost") + while_doing + ": " + ssh_get_error(session_);
}

std::string ChannelPump::read_up() {
  while (!local_eof_ && local_readable_) {
    ssize_t r = ::read(local_, up_.data(), up_.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) {
      local_readable_ = false;
      break;
    }
    if (r <= 0) {
      local_eof_ = true;
      if (ssh_channel_is_open(channel_)) ssh_channel_send_eof(channel_);
      break;
    }
    size_t off = 0;
    while (off < static_cast<size_t>(r)) {
      int w = ssh_channel_write(channel_, up_.data() + off, static_cast<uint32_t>(static_cast<size_t>(r) - off));
      if (w == SSH_ERROR) return lost(" while sending");
      off += static_cast<size_t>(w);
    }
  }
  return "";
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
  event_ = ssh_event_new();
  ssh_event_add_session(event_, session_);

  std::string error;
  // Data that arrived before the callbacks were set sits in libssh's buffer.
  if (!drain_channel_buffer()) error = lost("");
  bool busy = false;  // the last poll found work: more may be ready without waiting
  while (error.empty() && !abandon) {
    bool batch_ready = !busy || down_end_ - down_begin_ >= kWriteBatch || channel_holds_data_;
    if (batch_ready && !write_down()) {  // the engine is gone; drop what the agent still sends
      down_begin_ = down_end_ = 0;
      remote_eof_ = true;
    }
    if (channel_holds_data_ && down_end_ - down_begin_ < down_.size() && !drain_channel_buffer()) {
      error = lost("");
      break;
    }
    if (down_begin_ == down_end_ && !channel_holds_data_ && !remote_eof_ &&
        (ssh_channel_is_eof(channel_) || !ssh_channel_is_open(channel_))) {
      remote_eof_ = true;
      ::shutdown(local_, SHUT_WR);
    }
    error = read_up();
    if (!error.empty() || (remote_eof_ && local_eof_)) break;
    if (down_.size() - (down_end_ - down_begin_) < kRoomToRead) {
      // The engine is behind. Flow control is TCP's: left unread, the socket's buffers fill and
      // the agent's side stops. (Letting libssh take more would not stop it: every read from
      // libssh's own buffer re-opens the SSH window, whatever that buffer already holds.)
      pollfd engine{local_, static_cast<short>(POLLOUT | (local_eof_ ? 0 : POLLIN)), 0};
      if (::poll(&engine, 1, 100) > 0) note_local_events(engine.revents);
      busy = false;
      continue;
    }
    update_local_watch();
    // Without work in hand, the timeout only bounds how late we notice a close that produced no
    // event; with bytes waiting for the engine, a poll that finds nothing sends them.
    bool waiting = down_begin_ < down_end_ && local_writable_;
    int rc = ssh_event_dopoll(event_, busy || waiting ? 0 : 100);
    if (rc == SSH_ERROR && !ssh_is_connected(session_)) error = lost("");
    busy = rc == SSH_OK && !remote_eof_;
  }

  if (local_events_ != 0) ssh_event_remove_fd(event_, local_);
  ssh_event_remove_session(event_, session_);
  ssh_event_free(event_);
  event_ = nullptr;
  ssh_remove_channel_callbacks(channel_, &callbacks);
  return error;
}

}  // namespace ferry
