// Moves bytes between an SSH exec channel and the engine's PumpedChannel, on the thread that
// owns the libssh session (libssh is not thread-safe).
//
// What it is shaped by: libssh 0.10 reads its socket 4 KiB per poll, so on a restore (the agent
// sending) the client's cost is system calls per byte. Everything therefore waits in one poll,
// libssh's own (an ssh_event holding the session and the engine's wake-up fd, platform::Waker), and channel
// data is taken in libssh's data callback as each packet is decrypted, straight into the
// engine's queue. That is one poll and one 4 KiB read per 4 KiB, the least libssh allows.
//
// It never blocks inside libssh: the session is non-blocking, writes take only what the SSH
// window allows, and every wait is that one poll, with a timeout. A peer that stops reading
// (the window stays shut) or goes silent therefore cannot hold the thread; the pump's own
// deadline (the channel's idle timeout, plus a grace) ends it even when the engine is not
// waiting on the channel to notice, as in SshSession::finish.
//
// Striped (transport/stripes.h), the pump also owns the session's other channels: what the engine
// writes goes out in chunks, one channel after another, each chunk whole on its channel; what
// the engine reads still comes from the first channel alone. The others' stderr is copied like
// the first's.
//
// On a long link the SSH window is the limit: libssh 0.10 grants its peer 1,280,000 bytes and
// tops that up at half, about 13 MB/s at 50 ms of round trip. The pump keeps a wider window
// (widen_window), which costs no memory of ours: while the engine is behind, the socket is not
// read, and what the window lets the agent send waits in the kernel and in sshd.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

struct ssh_session_struct;
struct ssh_channel_struct;
struct ssh_event_struct;

namespace ferry {

class PumpedChannel;

class ChannelPump {
 public:
  // The remote's stderr goes to ours as it comes; its last bytes are also kept in
  // *stderr_tail (if given), for the messages that explain why the agent did not start.
  // `stripes` are the channels after the first, `preambles` what each channel (the first
  // included) begins with; both empty for one plain channel.
  ChannelPump(ssh_session_struct* session, ssh_channel_struct* channel, PumpedChannel& engine,
              std::string* stderr_tail = nullptr, std::vector<ssh_channel_struct*> stripes = {},
              std::vector<std::string> preambles = {});

  // Runs until both directions are done, or `abandon` is set, or the engine's channel is
  // aborted, or the peer is silent past the deadline. Returns "" on success, else what failed.
  // Leaves the session non-blocking, so that its teardown cannot wait on a dead peer either.
  std::string run(const std::atomic<bool>& abandon);

 private:
  // libssh calls this from inside ssh_event_dopoll (and from ssh_channel_write).
  int take_channel_data(const char* data, size_t len, bool is_stderr);

  void publish();                // lets the engine see what arrived, if it waits for it
  std::string send_up();         // what the engine wrote, as far as the window allows; "" or an error
  bool next_up_chunk();          // fills up_buf_ with what goes out next; false when there is nothing
  bool striped() const { return outs_.size() > 1; }
  bool drain_channel_buffer();   // what libssh kept while the engine's queue was full; false on error
  bool widen_window();           // grants the peer kWindowBytes again; false on error
  bool hand_on_held();           // gives the engine what a widening read left over; true once none is left
  bool engine_behind();          // the engine's queue has no room to read the socket into
  void wait_for_engine();        // the engine's queue is full: sleep until it reads
  std::string lost(const char* while_doing) const;  // the error for a dropped connection
  // "" while the peer shows signs of life; the error once it has been silent too long.
  std::string check_deadline();
  // "" unless a channel after the first closed while the session went on (its process ended).
  std::string check_stripes();

  ssh_session_struct* session_;
  ssh_channel_struct* channel_;
  PumpedChannel& engine_;
  ssh_event_struct* event_ = nullptr;

  size_t unpublished_ = 0;  // bytes queued for the engine since it was last woken
  // The data callback refused bytes (rare: the engine's queue was full, or we were draining);
  // libssh keeps them until there is room.
  bool channel_holds_data_ = false;
  bool draining_ = false;
  std::string* stderr_tail_;
  // Reads from libssh land here. A widening read may return up to the whole window, so it is
  // that large, but allocated without being written: only the bytes read ever use memory.
  std::unique_ptr<char[]> read_buf_;
  // read_buf_[held_from_, held_to_) came from a widening read and waits for room in the engine;
  // until it is gone, newer data stays in libssh, behind it.
  size_t held_from_ = 0;
  size_t held_to_ = 0;
  size_t received_since_widened_;  // channel data since the window was last widened
  std::vector<char> up_buf_;
  size_t up_sent_ = 0;   // of up_len_ bytes in up_buf_, taken from the engine
  size_t up_len_ = 0;
  // The channels the engine's bytes go out on: channel_, then the stripes. up_buf_ goes whole to
  // outs_[out_], then the next.
  std::vector<ssh_channel_struct*> outs_;
  std::vector<std::string> preambles_;
  size_t preambles_sent_ = 0;
  size_t out_ = 0;
  size_t closed_stripe_ = 0;  // a channel after the first that closed early, 0 if none
  std::chrono::steady_clock::time_point stripe_closed_at_;
  bool window_shut_ = false;  // up data waits for the peer to open the SSH window
  // Whether the peer did something (sent bytes, opened the window) since the last check,
  // and when it last did.
  bool peer_alive_ = true;
  std::chrono::steady_clock::time_point heard_at_;

  bool local_eof_ = false;   // the engine closed its writing side, and all of it was sent
  bool remote_eof_ = false;  // the agent closed its output (or the engine stopped listening)
};

// Appends to *tail, keeping only its last 4 KiB.
void keep_tail(std::string* tail, const char* data, size_t len);

// Shows what the remote command wrote to its stderr on ours, with control characters escaped (a
// hostile machine must not reach our terminal's escape sequences), and keeps it in *tail if given.
void show_remote_stderr(const char* data, size_t len, std::string* tail);

}  // namespace ferry
