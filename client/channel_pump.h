// Moves bytes between an SSH exec channel and the local socket the engine reads and writes, on
// the thread that owns the libssh session (libssh is not thread-safe).
//
// What it is shaped by: libssh 0.10 reads its socket 4 KiB per poll, so on a restore (the agent
// sending) the client's cost is system calls per byte. Everything therefore waits in one poll,
// libssh's own (an ssh_event holding the session and the engine's socket), and channel data
// is taken in libssh's data callback as each packet is decrypted, instead of by reads that each
// poll again. That is one poll and one 4 KiB read per 4 KiB, the least libssh allows.
#pragma once

#include <atomic>
#include <string>
#include <vector>

struct ssh_session_struct;
struct ssh_channel_struct;
struct ssh_event_struct;

namespace ferry {

class ChannelPump {
 public:
  ChannelPump(ssh_session_struct* session, ssh_channel_struct* channel, int local_fd);

  // Runs until both directions are done (or `abandon` is set). Returns "" on success, else
  // what failed.
  std::string run(const std::atomic<bool>& abandon);

 private:
  // libssh calls these from inside ssh_event_dopoll (and from ssh_channel_write).
  int take_channel_data(const char* data, size_t len, bool is_stderr);
  void note_local_events(int revents);

  void update_local_watch();       // which events of the engine's socket the poll waits for
  bool write_down();                // to the engine; false when the engine is gone
  std::string read_up();            // from the engine to the channel; "" or an error
  bool drain_channel_buffer();      // what libssh kept while `down_` was full; false on error
  void compact_down();              // moves the waiting bytes of `down_` to its start
  std::string lost(const char* while_doing) const;  // the error for a dropped connection

  ssh_session_struct* session_;
  ssh_channel_struct* channel_;
  int local_;
  ssh_event_struct* event_ = nullptr;

  // Channel → engine. Bounded: while it is nearly full the pump stops reading the socket, and
  // TCP stops the agent's side.
  std::vector<char> down_;
  size_t down_begin_ = 0, down_end_ = 0;
  // The data callback refused bytes (rare: packets read inside ssh_channel_write, or while
  // draining); libssh keeps them until there is room.
  bool channel_holds_data_ = false;
  bool draining_ = false;
  std::vector<char> up_;

  bool local_readable_ = true;
  bool local_writable_ = true;
  short local_events_ = 0;   // registered with event_
  bool local_eof_ = false;   // the engine closed its writing side
  bool remote_eof_ = false;  // the agent closed its output, and all of it reached the engine
};

}  // namespace ferry
