// The frame parser on its own, fed bytes directly: no Channel, no socket (framing_test.cc
// covers the Channel adapter).
#include "protocol/frame_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "base/error.h"

using namespace ferry;
using wire::MsgType;

namespace {

std::string frame(MsgType type, std::string_view payload) {
  std::string out;
  append_frame_header(type, payload.size(), &out);
  out.append(payload);
  return out;
}

// Every frame in `bytes`, fed `piece` bytes at a time.
std::vector<std::string> frames_of(std::string_view bytes, size_t piece) {
  FrameParser parser;
  std::vector<std::string> out;
  while (true) {
    while (std::optional<Frame> f = parser.next())
      out.push_back(std::string(1, static_cast<char>(f->type)) + std::string(f->payload));
    if (bytes.empty()) break;
    bytes.remove_prefix(parser.feed(bytes.substr(0, piece)));
  }
  return out;
}

}  // namespace

TEST_CASE("the same frames come out however the bytes are cut") {
  std::string stream = frame(MsgType::kMessage, "hello") + frame(MsgType::kKeepalive, "") +
                       frame(MsgType::kFileData, std::string(300000, 'z'));
  std::vector<std::string> whole = frames_of(stream, stream.size());
  REQUIRE(whole.size() == 3);
  CHECK(whole[0] ==
        "\x0a"
        "hello");
  CHECK(whole[2].size() == 300001);
  for (size_t piece : {1, 2, 5, 6, 4096, 70000}) CHECK(frames_of(stream, piece) == whole);
}

TEST_CASE("a header is judged as soon as its five bytes are in, before any payload") {
  FrameParser parser;
  std::string header;
  append_frame_header(MsgType::kFileData, 0, &header);
  header[4] = 0x01;  // 16 MiB
  parser.feed(header.substr(0, 4));
  CHECK_FALSE(parser.next());
  parser.feed(header.substr(4));
  CHECK_THROWS_WITH(parser.next(),
                    "protocol error: FileData frame of 16777216 bytes exceeds the limit of 1048576");

  FrameParser unknown;
  unknown.feed(std::string("\x63\0\0\0\0", 5));
  CHECK_THROWS_WITH(unknown.next(), "protocol error: unknown message type 99");
}

TEST_CASE("the magic is found across feeds, with the noise before it kept apart") {
  FrameParser parser;
  std::string stream = "motd\n" + std::string(wire::kMagic) + frame(MsgType::kBye, "");
  for (char c : stream.substr(0, 8)) {
    parser.feed(std::string_view(&c, 1));
    CHECK(parser.scan_magic() == FrameParser::MagicScan::kNeedMore);
  }
  parser.feed(stream.substr(8));
  CHECK(parser.scan_magic() == FrameParser::MagicScan::kFound);
  CHECK(parser.noise() == "motd\n");
  std::optional<Frame> f = parser.next();
  REQUIRE(f);
  CHECK(f->type == MsgType::kBye);
  CHECK(parser.pending().empty());
}

TEST_CASE("noise without a magic is bounded") {
  FrameParser parser;
  std::string chatter(wire::kMaxNoiseBeforeMagic + 100, 'x');
  std::string_view left = chatter;
  FrameParser::MagicScan scan = FrameParser::MagicScan::kNeedMore;
  while (!left.empty() && scan == FrameParser::MagicScan::kNeedMore) {
    left.remove_prefix(parser.feed(left));
    scan = parser.scan_magic();
  }
  CHECK(scan == FrameParser::MagicScan::kTooMuchNoise);
  CHECK(parser.noise().size() > wire::kMaxNoiseBeforeMagic);
}

TEST_CASE("the buffer grows to hold the largest frame, and no further") {
  FrameParser parser;
  std::string stream = frame(MsgType::kFileData, std::string(wire::kMaxFramePayload, 'd'));
  std::string_view left = stream;
  std::optional<Frame> f;
  while (!f) {
    size_t n = parser.feed(left);
    REQUIRE(n > 0);
    left.remove_prefix(n);
    f = parser.next();
  }
  CHECK(left.empty());
  CHECK(f->payload.size() == wire::kMaxFramePayload);
  CHECK(parser.space().size() == wire::kFrameHeaderBytes + wire::kMaxFramePayload);
}
