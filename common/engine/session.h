// Pieces both programs use around the engine: the handshake, keepalives, and the shared
// handling of frames that may arrive at any time (Message, Keepalive, Fatal).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "base/error.h"
#include "engine/data_writer.h"
#include "engine/receiver_options.h"
#include "engine/sender.h"
#include "engine/reporter.h"
#include "engine/framing.h"
#include "protocol/messages.h"

namespace ferry {

// Writes our magic and Hello, then reads the peer's. `noise` receives whatever the peer's
// side printed before its magic. Throws FatalError with both versions named when the
// protocol ranges do not overlap, or the peer's Fatal message if it sent one instead.
Hello exchange_hello(FrameReader& in, FrameWriter& out, const Hello& mine,
                     const std::string& my_name, const std::string& peer_name, std::string* noise);

// The error a peer's Fatal ends the session with: its text escaped, prefixed, and an exit code
// from our own table (the peer cannot choose 0).
FatalError peer_fatal(const Fatal& fatal, const std::string& prefix = "");

// Handles a frame type that may arrive at any point of a session. Returns true if it did:
// Keepalive is dropped, Message goes to the reporter (escaped), Fatal is thrown as peer_fatal().
bool handle_common_frame(const Frame& frame, Reporter& reporter);

// What the Open message asks of a sender (compression, --checksum).
SenderOptions sender_options(const Open& open);

// What the Open message asks of a receiver (dry run, --no-sync). `program_name` is the receiving
// program's, for messages; it keeps owners when it runs as root.
ReceiverOptions receiver_options(const Open& open, std::string program_name);

// Sends a Keepalive whenever nothing else was written for `interval`, so the peer's read
// deadline only fires when the link or this process is really dead.
class KeepaliveTimer {
 public:
  KeepaliveTimer(FrameWriter& out, std::chrono::seconds interval);
  ~KeepaliveTimer();
  KeepaliveTimer(const KeepaliveTimer&) = delete;
  KeepaliveTimer& operator=(const KeepaliveTimer&) = delete;

 private:
  FrameWriter& out_;
  std::chrono::seconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ferry
