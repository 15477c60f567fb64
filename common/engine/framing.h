// Frames over a Channel: the thin adapter between protocol/frame_parser.h (which knows the
// format and its limits, and does no IO) and a Channel. The reader refuses a length above
// kMaxFramePayload before reading it; the writer batches small frames into one write.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "protocol/frame_parser.h"
#include "protocol/wire.h"
#include "transport/channel.h"

namespace ferry {

class Encoder;

class FrameReader {
 public:
  explicit FrameReader(Channel& channel);

  // Reads up to and including the peer's magic. Returns the bytes that came before it (a login
  // shell's chatter). Throws ConnectionError if the stream ends or too much arrives without one.
  std::string read_magic();

  // The next frame; its payload is valid until the next call. A clean end of stream between
  // frames throws ConnectionError naming the peer; an end inside a frame says the frame was
  // truncated.
  Frame next();

  // Called before the reader blocks for more input: the place to flush pending output so the
  // two sides never wait on each other.
  void set_before_block(std::function<void()> hook) { before_block_ = std::move(hook); }

 private:
  bool read_more();  // false at end of stream

  Channel& channel_;
  FrameParser parser_;
  std::function<void()> before_block_;
};

// Thread-safe: frames from several threads interleave whole.
class FrameWriter {
 public:
  explicit FrameWriter(Channel& channel);

  void write_magic();
  void send(wire::MsgType type, std::string_view payload);
  void send(wire::MsgType type, const Encoder& payload);
  // A frame whose payload is head + body, without copying body when it is large.
  void send_split(wire::MsgType type, std::string_view head, std::string_view body);
  // The same, where body is also bytes [offset, offset + body.size()) of file `fd` (-1: none):
  // the channel may move them from the file without a copy (Channel::write_file_range).
  void send_split_from_file(wire::MsgType type, std::string_view head, std::string_view body, int fd,
                            uint64_t offset);
  void flush();
  // Sends a Keepalive if nothing was written for `idle`; skips if another thread is writing.
  void keepalive_if_idle(std::chrono::steady_clock::duration idle);

 private:
  void flush_locked();

  Channel& channel_;
  std::mutex mutex_;
  std::string pending_;
  std::chrono::steady_clock::time_point last_write_;
};

}  // namespace ferry
