// Moves bytes between an SSH exec channel and the engine's PumpedChannel, on the thread that
// owns the libssh session (libssh is not thread-safe).
//
// What it is shaped by: libssh 0.10 reads its socket 4 KiB per poll, so on a restore (the agent
// sending) the client's cost is system calls per byte. Everything therefore waits in one poll,
// libssh's own (an ssh_event holding the session and the engine's wake-up eventfd), and channel
// data is taken in libssh's data callback as each packet is decrypted, straight into the
// engine's queue. That is one poll and one 4 KiB read per 4 KiB, the least libssh allows.
#pragma once

#include <atomic>
#include <string>
#include <vector>

struct ssh_session_struct;
struct ssh_channel_struct;
struct ssh_event_struct;

namespace ferry {

class PumpedChannel;

class ChannelPump {
 public:
  ChannelPump(ssh_session_struct* session, ssh_channel_struct* channel, PumpedChannel& engine);

  // Runs until both directions are done (or `abandon` is set). Returns "" on success, else
  // what failed.
  std::string run(const std::atomic<bool>& abandon);

 private:
  // libssh calls this from inside ssh_event_dopoll (and from ssh_channel_write).
  int take_channel_data(const char* data, size_t len, bool is_stderr);

  void publish();                // lets the engine see what arrived, if it waits for it
  std::string send_up();         // what the engine wrote, to the channel; "" or an error
  bool drain_channel_buffer();   // what libssh kept while the engine's queue was full; false on error
  void wait_for_engine();        // the engine's queue is full: sleep until it reads
  std::string lost(const char* while_doing) const;  // the error for a dropped connection

  ssh_session_struct* session_;
  ssh_channel_struct* channel_;
  PumpedChannel& engine_;
  ssh_event_struct* event_ = nullptr;

  size_t unpublished_ = 0;  // bytes queued for the engine since it was last woken
  // The data callback refused bytes (rare: the engine's queue was full, or we were draining);
  // libssh keeps them until there is room.
  bool channel_holds_data_ = false;
  bool draining_ = false;
  std::vector<char> drain_buf_;
  std::vector<char> up_buf_;

  bool local_eof_ = false;   // the engine closed its writing side, and all of it was sent
  bool remote_eof_ = false;  // the agent closed its output (or the engine stopped listening)
};

}  // namespace ferry
