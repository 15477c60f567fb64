// The receiver fed by a scripted, hostile sender over a socketpair: every refusal must end the
// session with a ProtocolError and leave nothing outside the root and nothing half-written.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "compress/zstd_stream.h"
#include "delta/file_hash.h"
#include "engine/receiver.h"
#include "support/temp_dir.h"
#include "transport/fd_channel.h"

using namespace ferry;
using wire::MsgType;

namespace {

class NullReporter : public Reporter {
 public:
  void report(wire::MessageLevel, const std::string& text) override { messages += text + "\n"; }
  void from_peer(wire::MessageLevel, const std::string& text) override { messages += text + "\n"; }
  std::string messages;
};

FileEntry dir_entry(const std::string& path) {
  FileEntry e;
  e.path = path;
  e.type = FileType::kDirectory;
  e.mode = 0755;
  e.uid = ::geteuid();
  e.gid = ::getegid();
  e.mtime_sec = 1600000000;
  return e;
}

FileEntry file_entry(const std::string& path, uint64_t size) {
  FileEntry e = dir_entry(path);
  e.type = FileType::kRegular;
  e.mode = 0644;
  e.size = size;
  return e;
}

// Scripts what a sender says; run() plays it to a Receiver writing into `dest`.
class Script {
 public:
  Script() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    ours_.reset(sv[0]);
    theirs_.reset(sv[1]);
  }
  void entry(const FileEntry& e) { frame(MsgType::kEntry, [&](Encoder& enc) { codec_.encode(e, enc); }); }
  void end_of_list(uint64_t n) { frame(MsgType::kEndOfList, [&](Encoder& enc) { EndOfList{n}.encode(enc); }); }
  void data(uint64_t index, const std::string& bytes) {
    frame(MsgType::kFileData, [&](Encoder& enc) {
      encode_file_data_head(index, enc);
      enc.raw(bytes);
    });
  }
  void end(uint64_t index, const std::string& content) {
    FileHasher h;
    h.update(content.data(), content.size());
    frame(MsgType::kFileEnd, [&](Encoder& enc) { FileEnd{index, content.size(), 1600000000, 0, h.digest()}.encode(enc); });
  }
  void raw(MsgType type, const std::string& payload) { frame(type, [&](Encoder& enc) { enc.raw(payload); }); }

  // Plays the script, then hangs up. Returns the receiver's exception message ("" if none).
  // What the receiver sent back is in answers() afterwards.
  std::string run(const std::string& dest, ReceiverOptions options = {}) {
    // Threads of their own, so that neither a long script nor many answers fill a socket
    // buffer nobody empties.
    std::thread play([this] {
      for (size_t at = 0; at < script_.size();) {
        ssize_t n = ::write(ours_.get(), script_.data() + at, script_.size() - at);
        if (n <= 0) break;  // the receiver stopped reading: it refused something
        at += static_cast<size_t>(n);
      }
      ::shutdown(ours_.get(), SHUT_WR);
    });
    std::thread listen([this] {
      char buf[65536];
      for (ssize_t n; (n = ::read(ours_.get(), buf, sizeof buf)) > 0;) answers_.append(buf, static_cast<size_t>(n));
    });
    std::string error = receive(dest, std::move(options));
    ::shutdown(theirs_.get(), SHUT_RDWR);
    play.join();
    listen.join();
    return error;
  }

  // The frames the receiver sent, in order.
  struct Answer {
    MsgType type;
    std::string payload;
  };
  std::vector<Answer> answers() const {
    std::vector<Answer> frames;
    for (size_t at = 0; at + 5 <= answers_.size();) {
      uint32_t n = 0;
      for (int i = 0; i < 4; ++i) n |= uint32_t{static_cast<uint8_t>(answers_[at + 1 + i])} << (8 * i);
      frames.push_back({static_cast<MsgType>(answers_[at]), answers_.substr(at + 5, n)});
      at += 5 + n;
    }
    return frames;
  }
  NullReporter reporter;

 private:
  std::string receive(const std::string& dest, ReceiverOptions options) {
    FdChannel channel(theirs_.get(), theirs_.get(), "scripted sender");
    channel.set_idle_timeout(std::chrono::seconds(5));
    FrameReader in(channel);
    FrameWriter out(channel);
    TransferStats stats;
    ConfinedRoot root(UniqueFd(::open(dest.c_str(), O_RDONLY | O_DIRECTORY)), dest);
    try {
      Receiver(in, out, reporter, stats, std::move(options)).run(root);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }

  template <typename F>
  void frame(MsgType type, F fill) {
    Encoder enc;
    fill(enc);
    std::string f(5, '\0');
    f[0] = static_cast<char>(type);
    uint32_t n = static_cast<uint32_t>(enc.data().size());
    for (int i = 0; i < 4; ++i) f[1 + i] = static_cast<char>((n >> (8 * i)) & 0xff);
    f += enc.data();
    script_ += f;
  }
  UniqueFd ours_, theirs_;
  std::string script_;   // frames to play, as bytes
  std::string answers_;  // what the receiver sent
  EntryEncoder codec_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool has_temp_files(const std::string& dir) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().filename().string().starts_with(".ferry-")) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a well-formed session lands files atomically with their content") {
  test::TempDir dest;
  Script s;
  s.entry(dir_entry(""));
  s.entry(file_entry("f", 5));
  s.end_of_list(2);
  s.data(1, "hello");
  s.end(1, "hello");
  s.raw(MsgType::kBye, "");
  CHECK(s.run(dest.path()) == "");
  CHECK(read_file(dest / "f") == "hello");
  CHECK_FALSE(has_temp_files(dest.path()));
}

TEST_CASE("hostile file lists end the session and write nothing outside the root") {
  test::TempDir outside, parent;
  std::string dest = parent / "dest";
  std::filesystem::create_directory(dest);
  Script s;
  s.entry(dir_entry(""));
  std::string expected;
  SUBCASE("dot-dot") {
    FileEntry e = file_entry("x", 1);
    e.path = "../escape";
    s.entry(e);
    expected = "protocol error: refused path \"../escape\": '..' component";
  }
  SUBCASE("absolute") {
    FileEntry e = file_entry("x", 1);
    e.path = outside / "abs";
    s.entry(e);
    expected = "protocol error: refused path \"" + (outside / "abs") + "\": absolute path";
  }
  SUBCASE("duplicate entry") {
    s.entry(dir_entry("d"));
    s.entry(dir_entry("d"));
    expected = "protocol error: entry \"d\" is out of order or a duplicate";
  }
  SUBCASE("out of order") {
    s.entry(dir_entry("b"));
    s.entry(dir_entry("a"));
    expected = "protocol error: entry \"a\" is out of order or a duplicate";
  }
  SUBCASE("parent never listed") {
    s.entry(file_entry("nodir/f", 1));
    expected = "protocol error: entry \"nodir/f\" arrived without its directory";
  }
  SUBCASE("parent listed as a symlink, then used as a directory") {
    FileEntry link = file_entry("l", 0);
    link.type = FileType::kSymlink;
    link.link_target = outside.path();
    s.entry(link);
    s.entry(file_entry("l/f", 1));
    expected = "protocol error: entry \"l/f\" arrived without its directory";
  }
  SUBCASE("data that was never wanted") {
    s.entry(file_entry("f", 1));
    s.end_of_list(2);
    s.data(7, "x");
    expected = "protocol error: data for entry 7, which was not wanted";
  }
  SUBCASE("a hardlink to something that is not a listed file") {
    FileEntry e = file_entry("h", 0);
    e.hardlink_of = 1;  // entry 0 is the root directory
    s.entry(e);
    expected = "protocol error: entry \"h\" links to an entry that is not a file";
  }
  SUBCASE("a root entry that is not first") {
    s.entry(dir_entry(""));
    expected = "protocol error: entry \"\" is out of order or a duplicate";
  }
  CHECK(s.run(dest) == expected);
  CHECK(std::filesystem::is_empty(outside.path()));
  CHECK_FALSE(std::filesystem::exists(parent / "escape"));
}

TEST_CASE("a symlink planted in the destination is replaced, never written through") {
  test::TempDir outside, dest;
  REQUIRE(::symlink(outside.path().c_str(), (dest / "docs").c_str()) == 0);
  Script s;
  s.entry(dir_entry(""));
  s.entry(dir_entry("docs"));
  s.entry(file_entry("docs/f", 3));
  s.end_of_list(3);
  s.data(2, "abc");
  s.end(2, "abc");
  s.raw(MsgType::kBye, "");
  CHECK(s.run(dest.path()) == "");
  CHECK(std::filesystem::is_empty(outside.path()));
  CHECK(std::filesystem::is_directory(std::filesystem::symlink_status(dest / "docs")));
  CHECK(read_file(dest / "docs/f") == "abc");
}

TEST_CASE("a connection cut mid-file keeps the old version and leaves no temporary file") {
  test::TempDir dest;
  {
    std::ofstream old(dest / "f");
    old << "old version";
  }
  Script s;
  s.entry(dir_entry(""));
  s.entry(file_entry("f", 1000));
  s.end_of_list(2);
  s.data(1, std::string(500, 'n'));
  // ...and the sender vanishes.
  CHECK(s.run(dest.path()) == "connection to scripted sender closed unexpectedly");
  CHECK(read_file(dest / "f") == "old version");
  CHECK_FALSE(has_temp_files(dest.path()));
}

TEST_CASE("data that does not match the sender's hash is not installed") {
  test::TempDir dest;
  {
    std::ofstream old(dest / "f");
    old << "old version";
  }
  Script s;
  s.entry(dir_entry(""));
  s.entry(file_entry("f", 5));
  s.end_of_list(2);
  s.data(1, "hellO");
  s.end(1, "hello");
  // The receiver had a basis, so it asks once more for the whole file; it comes bad again.
  s.data(1, "hellO");
  s.end(1, "hello");
  s.raw(MsgType::kBye, "");
  CHECK(s.run(dest.path()) == "");
  CHECK(s.reporter.messages.find("verification failed for " + (dest / "f")) != std::string::npos);
  CHECK(read_file(dest / "f") == "old version");
  CHECK_FALSE(has_temp_files(dest.path()));
}

TEST_CASE("a FileEnd that disagrees with the data received is a protocol error") {
  test::TempDir dest;
  Script s;
  s.entry(dir_entry(""));
  s.entry(file_entry("f", 5));
  s.end_of_list(2);
  s.data(1, "hel");
  s.end(1, "hello");
  CHECK(s.run(dest.path()) == "protocol error: FileEnd for " + (dest / "f") + " says 5 bytes, 3 arrived");
  CHECK_FALSE(std::filesystem::exists(dest / "f"));
  CHECK_FALSE(has_temp_files(dest.path()));
}

namespace {
std::string delta_ops(uint64_t index, std::initializer_list<std::pair<uint64_t, uint64_t>> copies, const std::string& tail) {
  Encoder e;
  e.varint(index);
  for (auto [first, count] : copies) {
    e.u8(wire::kOpCopy);
    e.varint(first);
    e.varint(count);
  }
  if (!tail.empty()) {
    e.u8(wire::kOpLiteral);
    e.bytes(tail);
  }
  return e.take();
}
}  // namespace

TEST_CASE("a delta rebuilds the file from the basis blocks and the literals") {
  test::TempDir dest;
  std::string basis(1400, 'a');
  basis.replace(700, 700, std::string(700, 'b'));
  std::ofstream(dest / "f") << basis;
  std::string target = basis.substr(700) + "tail";  // block 1, then a literal
  Script s;
  s.entry(dir_entry(""));
  s.entry(file_entry("f", target.size()));
  s.end_of_list(2);
  s.raw(MsgType::kFileDelta, delta_ops(1, {{1, 1}}, "tail"));
  s.end(1, target);
  s.raw(MsgType::kBye, "");
  CHECK(s.run(dest.path()) == "");
  CHECK(read_file(dest / "f") == target);
  CHECK_FALSE(has_temp_files(dest.path()));
}

TEST_CASE("a delta that copies outside the basis is refused and the old file kept") {
  test::TempDir dest;
  std::ofstream(dest / "f") << std::string(1400, 'a');
  Script s;
  s.entry(dir_entry(""));
  s.entry(file_entry("f", 2100));
  s.end_of_list(2);
  s.raw(MsgType::kFileDelta, delta_ops(1, {{1, 2}}, ""));
  CHECK(s.run(dest.path()) == "protocol error: copy of blocks 1+2 outside the basis of entry 1");
  CHECK(read_file(dest / "f") == std::string(1400, 'a'));
  CHECK_FALSE(has_temp_files(dest.path()));
}

TEST_CASE("corrupt or misused Compressed frames end the session and keep the old file") {
  test::TempDir dest;
  std::ofstream(dest / "f") << "old";
  ReceiverOptions compressed;  // Open asked for compression
  compressed.compressed = true;
  SUBCASE("compressed data where compression was not negotiated") {
    StreamCompressor c(1);
    std::string wire(1, static_cast<char>(MsgType::kFileData));
    Encoder head;
    encode_file_data_head(1, head);
    c.compress(head.data(), "new", &wire);
    Script s;
    s.entry(dir_entry(""));
    s.entry(file_entry("f", 3));
    s.end_of_list(2);
    s.raw(MsgType::kCompressed, wire);
    CHECK(s.run(dest.path()) == "protocol error: Compressed frame, but compression was not negotiated");
  }
  SUBCASE("garbage where the zstd stream should be") {
    Script s;
    s.entry(dir_entry(""));
    s.entry(file_entry("f", 5));
    s.end_of_list(2);
    s.raw(MsgType::kCompressed, std::string(1, static_cast<char>(MsgType::kFileData)) + "not zstd at all");
    std::string error = s.run(dest.path(), compressed);
    CHECK(error.starts_with("protocol error: corrupt compressed data"));
  }
  SUBCASE("a compressed Entry") {
    Script s;
    s.entry(dir_entry(""));
    s.raw(MsgType::kCompressed, std::string(1, static_cast<char>(MsgType::kEntry)) + "x");
    CHECK(s.run(dest.path(), compressed) ==
          "protocol error: Compressed frame carries type 4; only FileData and FileDelta may be compressed");
  }
  SUBCASE("a valid stream that expands beyond the frame limit") {
    StreamCompressor c(1);
    std::string wire(1, static_cast<char>(MsgType::kFileData));
    Encoder head;
    encode_file_data_head(1, head);
    c.compress(head.data(), std::string(2 << 20, 'z'), &wire);
    Script s;
    s.entry(dir_entry(""));
    s.entry(file_entry("f", 2 << 20));
    s.end_of_list(2);
    s.raw(MsgType::kCompressed, wire);
    CHECK(s.run(dest.path(), compressed) == "protocol error: compressed frame expands beyond the frame size limit");
  }
  CHECK(read_file(dest / "f") == "old");
  CHECK_FALSE(has_temp_files(dest.path()));
}

TEST_CASE("compressed data lands the same as plain data") {
  test::TempDir dest;
  StreamCompressor c(3);
  std::string content(100000, 'q');
  std::string wire(1, static_cast<char>(MsgType::kFileData));
  Encoder head;
  encode_file_data_head(1, head);
  c.compress(head.data(), content, &wire);
  Script s;
  s.entry(dir_entry(""));
  s.entry(file_entry("f", content.size()));
  s.end_of_list(2);
  s.raw(MsgType::kCompressed, wire);
  s.end(1, content);
  s.raw(MsgType::kBye, "");
  ReceiverOptions compressed;
  compressed.compressed = true;
  CHECK(s.run(dest.path(), compressed) == "");
  CHECK(read_file(dest / "f") == content);
}

TEST_CASE("the receiver settles an entry only once it is placed and its data has ended") {
  test::TempDir dest;
  Script s;
  const uint64_t files = 3000;
  s.entry(dir_entry(""));
  for (uint64_t i = 1; i <= files; ++i) s.entry(file_entry("f" + std::to_string(10000 + i), 1));
  s.end_of_list(files + 1);
  for (uint64_t i = 1; i <= files; ++i) {
    s.data(i, "x");
    s.end(i, "x");
  }
  s.raw(MsgType::kBye, "");
  REQUIRE(s.run(dest.path()) == "");
  CHECK(read_file(dest / "f13000") == "x");

  // Every file was wanted while the list was placed, before any data came; so nothing could
  // be settled until data ended: every Settled comes after the last Want, each kSettleStep on.
  std::vector<uint64_t> settled;
  uint64_t wants = 0;
  uint64_t wants_after_a_settled = 0;
  for (const Script::Answer& a : s.answers()) {
    if (a.type == MsgType::kWant) {
      ++wants;
      if (!settled.empty()) ++wants_after_a_settled;
    } else if (a.type == MsgType::kSettled) {
      settled.push_back(Settled::decode(a.payload).below);
    }
  }
  CHECK(wants == files);
  CHECK(wants_after_a_settled == 0);
  CHECK(settled == std::vector<uint64_t>{wire::kSettleStep, 2 * wire::kSettleStep});
}

TEST_CASE("a sender that lists past the window is refused before the receiver holds more") {
  test::TempDir dest;
  Script s;
  s.entry(dir_entry(""));
  // Every file wanted and none ended: nothing is settled, so entry kListWindow is one too many.
  for (uint64_t i = 1; i <= wire::kListWindow; ++i) s.entry(file_entry("f" + std::to_string(100000 + i), 1));
  std::string error = s.run(dest.path());
  CHECK(error.find("entry " + std::to_string(wire::kListWindow) + " is past the list window") != std::string::npos);
}

TEST_CASE("Settled round-trips and refuses a hostile index") {
  Encoder e;
  Settled{12345}.encode(e);
  CHECK(Settled::decode(e.data()).below == 12345);
  Encoder huge;
  huge.varint(uint64_t{1} << 50);
  CHECK_THROWS_AS(Settled::decode(huge.data()), ProtocolError);
  Encoder trailing;
  trailing.varint(1);
  trailing.u8(0);
  CHECK_THROWS_AS(Settled::decode(trailing.data()), ProtocolError);
}
