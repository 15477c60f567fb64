#include "engine/framing.h"

#include <cstring>

#include "base/bytes.h"
#include "base/error.h"

namespace ferry {

using wire::MsgType;

namespace {
// Small frames are gathered up to this size before a write: one syscall per ~128 KiB of file
// list instead of one per entry.
constexpr size_t kWriteBatchBytes = 128 * 1024;
}  // namespace

FrameReader::FrameReader(Channel& channel) : channel_(channel) {}

bool FrameReader::read_more() {
  if (before_block_) before_block_();
  std::span<char> room = parser_.space();
  size_t n = channel_.read_some(room.data(), room.size());
  parser_.commit(n);
  return n > 0;
}

std::string FrameReader::read_magic() {
  while (true) {
    switch (parser_.scan_magic()) {
      case FrameParser::MagicScan::kFound:
        return parser_.noise();
      case FrameParser::MagicScan::kTooMuchNoise:
        throw ConnectionError(channel_.peer_name() + " sent " + std::to_string(parser_.noise().size()) +
                              " bytes that are not Ferry's protocol: is the agent command right? "
                              "It began with: " +
                              parser_.noise().substr(0, 200));
      case FrameParser::MagicScan::kNeedMore:
        break;
    }
    if (!read_more()) {
      // The kept tail was not the magic either.
      std::string noise = parser_.noise() + std::string(parser_.pending());
      std::string msg = channel_.peer_name() + " closed the connection before starting the protocol";
      if (!noise.empty()) msg += "; it printed: " + noise.substr(0, 2000);
      throw ConnectionError(msg);
    }
  }
}

Frame FrameReader::next() {
  while (true) {
    if (std::optional<Frame> f = parser_.next()) return *f;
    if (read_more()) continue;
    std::string_view cut = parser_.pending();
    if (cut.empty()) throw ConnectionError("connection to " + channel_.peer_name() + " closed unexpectedly");
    if (cut.size() < wire::kFrameHeaderBytes) {
      // A peer killed while writing, or a cut link, ends the stream anywhere: that is a lost
      // connection (exit code 4, worth retrying), not a peer that broke the protocol.
      throw ConnectionError("connection to " + channel_.peer_name() +
                            " lost in the middle of a frame header");
    }
    FrameHeader h = decode_frame_header(cut);  // parser_.next() already accepted it
    throw ConnectionError("connection to " + channel_.peer_name() + " lost in the middle of a frame (" +
                          wire::msg_type_name(h.type) + ", " + std::to_string(h.length) +
                          " bytes announced, " + std::to_string(cut.size() - wire::kFrameHeaderBytes) +
                          " received)");
  }
}

FrameWriter::FrameWriter(Channel& channel)
    : channel_(channel), last_write_(std::chrono::steady_clock::now()) {
  pending_.reserve(kWriteBatchBytes + 64 * 1024);
}

void FrameWriter::write_magic() {
  std::lock_guard lock(mutex_);
  pending_.append(wire::kMagic);
}

void FrameWriter::send(MsgType type, std::string_view payload) { send_split(type, payload, {}); }

void FrameWriter::send(MsgType type, const Encoder& payload) { send(type, payload.data()); }

void FrameWriter::send_split(MsgType type, std::string_view head, std::string_view body) {
  send_split_from_file(type, head, body, -1, 0);
}

void FrameWriter::send_split_from_file(MsgType type, std::string_view head, std::string_view body, int fd,
                                       uint64_t offset) {
  std::lock_guard lock(mutex_);
  append_frame_header(type, head.size() + body.size(), &pending_);
  pending_.append(head);
  if (body.size() < 16 * 1024) {
    pending_.append(body);
    if (pending_.size() >= kWriteBatchBytes) flush_locked();
    return;
  }
  if (fd < 0) {
    channel_.write_two(pending_.data(), pending_.size(), body.data(), body.size());
  } else {
    channel_.write_all(pending_.data(), pending_.size());  // the frame's start goes first
    channel_.write_file_range(fd, offset, body.data(), body.size());
  }
  pending_.clear();
  last_write_ = std::chrono::steady_clock::now();
}

void FrameWriter::flush() {
  std::lock_guard lock(mutex_);
  flush_locked();
}

void FrameWriter::flush_locked() {
  if (pending_.empty()) return;
  channel_.write_all(pending_.data(), pending_.size());
  pending_.clear();
  last_write_ = std::chrono::steady_clock::now();
}

void FrameWriter::keepalive_if_idle(std::chrono::steady_clock::duration idle) {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (std::chrono::steady_clock::now() - last_write_ < idle) return;
  append_frame_header(MsgType::kKeepalive, 0, &pending_);
  flush_locked();
}

}  // namespace ferry
