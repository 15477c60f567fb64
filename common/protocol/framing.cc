#include "protocol/framing.h"

#include <cstring>

#include "base/bytes.h"
#include "base/error.h"

namespace ferry {

using wire::MsgType;

namespace {
// Small frames are gathered up to this size before a write: one syscall per ~128 KiB of file
// list instead of one per entry.
constexpr size_t kWriteBatchBytes = 128 * 1024;
constexpr size_t kReadBufferBytes = wire::kFrameHeaderBytes + wire::kMaxFramePayload;
}  // namespace

FrameReader::FrameReader(Channel& channel) : channel_(channel), buf_(kReadBufferBytes) {}

bool FrameReader::fill(size_t need) {
  if (end_ - begin_ >= need) return true;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  FERRY_CHECK(need <= buf_.size());
  while (end_ < need) {
    if (before_block_) before_block_();
    size_t n = channel_.read_some(buf_.data() + end_, buf_.size() - end_);
    if (n == 0) return false;
    end_ += n;
  }
  return true;
}

std::string FrameReader::read_magic() {
  const std::string_view magic = wire::kMagic;
  std::string noise;
  while (true) {
    std::string_view have(buf_.data() + begin_, end_ - begin_);
    size_t at = have.find(magic);
    if (at != std::string_view::npos) {
      noise.append(have.substr(0, at));
      begin_ += at + magic.size();
      return noise;
    }
    // Keep a tail that could be the start of the magic; the rest is noise.
    size_t keep = std::min(have.size(), magic.size() - 1);
    noise.append(have.substr(0, have.size() - keep));
    begin_ = end_ - keep;
    if (noise.size() > wire::kMaxNoiseBeforeMagic) {
      throw ConnectionError(channel_.peer_name() + " sent " + std::to_string(noise.size()) +
                            " bytes that are not Ferry's protocol: is the agent command right? "
                            "It began with: " + noise.substr(0, 200));
    }
    if (!fill(end_ - begin_ + 1)) {
      noise.append(buf_.data() + begin_, end_ - begin_);  // the kept tail was not the magic
      std::string msg = channel_.peer_name() + " closed the connection before starting the protocol";
      if (!noise.empty()) msg += "; it printed: " + noise.substr(0, 2000);
      throw ConnectionError(msg);
    }
  }
}

Frame FrameReader::next() {
  if (!fill(wire::kFrameHeaderBytes)) {
    if (end_ == begin_) throw ConnectionError("connection to " + channel_.peer_name() + " closed unexpectedly");
    // A peer killed while writing, or a cut link, ends the stream anywhere: that is a lost
    // connection (exit code 4, worth retrying), not a peer that broke the protocol.
    throw ConnectionError("connection to " + channel_.peer_name() + " lost in the middle of a frame header");
  }
  const auto* h = reinterpret_cast<const unsigned char*>(buf_.data() + begin_);
  auto type = static_cast<MsgType>(h[0]);
  uint32_t length = uint32_t{h[1]} | uint32_t{h[2]} << 8 | uint32_t{h[3]} << 16 | uint32_t{h[4]} << 24;
  if (wire::msg_type_name(type) == nullptr) {
    throw ProtocolError("unknown message type " + std::to_string(h[0]));
  }
  if (length > wire::kMaxFramePayload) {
    throw ProtocolError(std::string(wire::msg_type_name(type)) + " frame of " + std::to_string(length) +
                        " bytes exceeds the limit of " + std::to_string(wire::kMaxFramePayload));
  }
  if (!fill(wire::kFrameHeaderBytes + length)) {
    throw ConnectionError("connection to " + channel_.peer_name() + " lost in the middle of a frame (" +
                          wire::msg_type_name(type) + ", " + std::to_string(length) + " bytes announced, " +
                          std::to_string(end_ - begin_ - wire::kFrameHeaderBytes) + " received)");
  }
  Frame f{type, std::string_view(buf_.data() + begin_ + wire::kFrameHeaderBytes, length)};
  begin_ += wire::kFrameHeaderBytes + length;
  return f;
}

FrameWriter::FrameWriter(Channel& channel)
    : channel_(channel), last_write_(std::chrono::steady_clock::now()) {
  pending_.reserve(kWriteBatchBytes + 64 * 1024);
}

void FrameWriter::write_magic() {
  std::lock_guard lock(mutex_);
  pending_.append(wire::kMagic);
}

void FrameWriter::append_header(MsgType type, size_t length) {
  FERRY_CHECK(length <= wire::kMaxFramePayload);
  char h[wire::kFrameHeaderBytes] = {static_cast<char>(type), static_cast<char>(length & 0xff),
                                     static_cast<char>((length >> 8) & 0xff),
                                     static_cast<char>((length >> 16) & 0xff),
                                     static_cast<char>((length >> 24) & 0xff)};
  pending_.append(h, sizeof(h));
}

void FrameWriter::send(MsgType type, std::string_view payload) { send_split(type, payload, {}); }

void FrameWriter::send(MsgType type, const Encoder& payload) { send(type, payload.data()); }

void FrameWriter::send_split(MsgType type, std::string_view head, std::string_view body) {
  send_split_from_file(type, head, body, -1, 0);
}

void FrameWriter::send_split_from_file(MsgType type, std::string_view head, std::string_view body, int fd,
                                       uint64_t offset) {
  std::lock_guard lock(mutex_);
  append_header(type, head.size() + body.size());
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
  append_header(MsgType::kKeepalive, 0);
  flush_locked();
}

}  // namespace ferry
