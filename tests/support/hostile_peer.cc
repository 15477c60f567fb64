// A peer that breaks the protocol on purpose, to prove both ends refuse it.
//
//   hostile_peer MODE serve          pretends to be ferry-agent (use with ferry --agent); MODE is
//                                    dotdot, absolute, symlink-parent, oversized (bad entries),
//                                    fatal-ok, fatal-partial (a Fatal with its own exit status
//                                    instead of Hello), terminal (escape sequences in Message
//                                    and Fatal), uncompressed (a Compressed frame not negotiated),
//                                    full-disk (on backup: wants entry 1, stops reading after
//                                    its first data, then sends a Fatal and exits, as an agent
//                                    whose disk filled does, in the worst order),
//                                    unsettled (on backup: never sends Settled; reports in its
//                                    Fatal how many entries came before the sender waited),
//                                    settle-back (on backup: a Settled that goes back),
//                                    verify-out-of-order, verify-short, verify-orphan (answers
//                                    to `ferry verify`: seal records out of order, fewer than
//                                    VerifyEnd counts, a verdict with no record before it)
//   hostile_peer client-dotdot AGENT DEST
//                                    pretends to be the client, against a real agent
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/bytes.h"
#include "base/error.h"
#include "engine/session.h"
#include "engine/framing.h"
#include "protocol/messages.h"
#include "seal/seal_record.h"
#include "transport/fd_channel.h"

using namespace ferry;
using wire::MsgType;

namespace {

class Quiet : public Reporter {
 public:
  void report(wire::MessageLevel, const std::string&) override {}
  void from_peer(wire::MessageLevel, const std::string& text) override { std::fprintf(stderr, "%s\n", text.c_str()); }
};

void send_entry(FrameWriter& out, const FileEntry& e) {
  static EntryEncoder codec;  // one list per run of this program
  Encoder enc;
  codec.encode(e, enc);  // the encoder does not validate: that is the receiver's job
  out.send(MsgType::kEntry, enc);
}

FileEntry entry(const std::string& path, FileType type) {
  FileEntry e;
  e.path = path;
  e.type = type;
  e.mode = 0755;
  e.uid = ::geteuid();
  e.gid = ::getegid();
  return e;
}

// Text that would act on a terminal if printed raw: a window title, a screen clear, and a
// newline that forges a line of Ferry's own.
const char kTerminalAttack[] = "\x1b]0;pwned\x07\x1b[2J\nrestore finished OK";

void send_fatal(FrameWriter& out, uint8_t code, const std::string& text) {
  Encoder e;
  Fatal{code, text}.encode(e);
  out.send(MsgType::kFatal, e);
  out.flush();
}

// A verify's answer that a real agent never gives.
void send_verify_answer(FrameWriter& out, const std::string& mode) {
  auto record = [](const std::string& path, FileType type) {
    SealRecord r;
    r.entry = entry(path, type);
    return encode_seal_record(r);
  };
  Encoder items;
  VerifyEnd end;
  end.seal_id = "2026-12-06T00-00-00Z";
  VerifyItem{VerifyItem::kSealed, record("", FileType::kDirectory)}.encode(items);
  if (mode == "verify-out-of-order") {
    VerifyItem{VerifyItem::kSealed, record("b", FileType::kRegular)}.encode(items);
    VerifyItem{VerifyItem::kSealed, record("a", FileType::kRegular)}.encode(items);
    end.stored_entries = 3;
  } else if (mode == "verify-short") {
    end.stored_entries = 5;  // one record sent
  } else {
    VerifyItem{VerifyItem::kMissing, ""}.encode(items);  // a verdict on the root: allowed once
    VerifyItem{VerifyItem::kFound, record("", FileType::kDirectory)}.encode(items);  // a second
    end.stored_entries = 1;
  }
  out.send(MsgType::kVerifyItems, items);
  Encoder e;
  end.encode(e);
  out.send(MsgType::kVerifyEnd, e);
  Encoder done;
  ListingEnd{1, 0, 0}.encode(done);
  out.send(MsgType::kListingEnd, done);
}

int fake_agent(const std::string& mode) {
  FdChannel channel(0, 1, "client");
  FrameReader in(channel);
  FrameWriter out(channel);
  if (mode == "fatal-ok" || mode == "fatal-partial") {
    // A Fatal in place of Hello, with an exit status of the peer's choosing.
    out.write_magic();
    send_fatal(out, mode == "fatal-ok" ? 0 : 3, "all done");
    return 0;
  }
  Hello hello;
  hello.software_version = "hostile";
  if (mode == "version") {
    hello.protocol_version = 99;
    hello.min_protocol_version = 99;
  }
  std::string noise;
  exchange_hello(in, out, hello, "hostile", "client", &noise);
  if (in.next().type != MsgType::kOpen) return 1;
  Encoder e;
  Opened().encode(e);  // receiver_is_root false
  out.send(MsgType::kOpened, e);
  if (mode.rfind("verify-", 0) == 0) {
    send_verify_answer(out, mode);
  } else if (mode == "unsettled" || mode == "settle-back") {
    out.flush();
    channel.set_idle_timeout(std::chrono::seconds(2));
    uint64_t entries = 0;
    EntryDecoder codec;
    try {
      while (true) {
        Frame f = in.next();
        if (f.type == MsgType::kEndOfList) break;
        if (f.type != MsgType::kEntry) continue;
        Decoder d(f.payload);
        while (!d.at_end()) {
          codec.decode(d);
          ++entries;
        }
        if (mode == "settle-back" && entries >= 2000) {
          for (uint64_t below : {1500, 1000}) {
            Encoder s;
            Settled{below}.encode(s);
            out.send(MsgType::kSettled, s);
          }
          out.flush();
          while (true) in.next();  // until the client hangs up
        }
      }
    } catch (const ConnectionError&) {
      // The sender went quiet: it waits for a Settled (or hung up, for settle-back).
    }
    send_fatal(out, 1, "received " + std::to_string(entries) + " entries");
    return 1;
  } else if (mode == "full-disk") {
    out.flush();
    while (in.next().type != MsgType::kEndOfList) {
    }
    Encoder w;
    Want{1}.encode(w);
    out.send(MsgType::kWant, w);
    out.flush();
    while (in.next().type != MsgType::kFileData) {
    }
    // The order in which the race goes wrong, made certain: the client's writes fail (our end
    // no longer reads) before our Fatal reaches it.
    // Reading what is queued after the shutdown frees the client's send buffer, so its blocked
    // write wakes and fails at once, while our Fatal is still a second away.
    if (::shutdown(0, SHUT_RD) != 0) ::close(0);
    char sink[65536];
    for (int i = 0; i < 50; ++i) {
      while (::read(0, sink, sizeof sink) > 0) {
      }
      ::usleep(10 * 1000);
    }
    ::usleep(1000 * 1000);
    send_fatal(out, 1, "cannot write DEST/big: No space left on device: the destination is full; free space there "
                       "and run again");
    return 1;
  }
  if (mode.rfind("verify-", 0) != 0) send_entry(out, entry("", FileType::kDirectory));
  if (mode == "dotdot") {
    send_entry(out, entry("../escape", FileType::kRegular));
  } else if (mode == "absolute") {
    send_entry(out, entry("/tmp/ferry-hostile-absolute", FileType::kRegular));
  } else if (mode == "symlink-parent") {
    FileEntry link = entry("l", FileType::kSymlink);
    link.link_target = "/tmp";
    send_entry(out, link);
    send_entry(out, entry("l/ferry-hostile-through-link", FileType::kRegular));
  } else if (mode == "terminal") {
    Encoder m;
    Message{wire::MessageLevel::kWarning, kTerminalAttack}.encode(m);
    out.send(MsgType::kMessage, m);
    send_fatal(out, 1, kTerminalAttack);
  } else if (mode == "uncompressed") {
    // Compressed data the client never asked for (it did not pass --compress).
    Encoder c;
    c.u8(static_cast<uint8_t>(MsgType::kFileData));
    c.raw("not even zstd");
    out.send(MsgType::kCompressed, c);
  } else if (mode == "oversized") {
    out.flush();
    const char header[5] = {static_cast<char>(MsgType::kEntry), 0, 0, 0, 0x40};  // 1 GiB
    channel.write_all(header, sizeof(header));
  }
  out.flush();
  // Wait for the client to hang up.
  try {
    while (true) in.next();
  } catch (const std::exception&) {
  }
  return 0;
}

// Connects to a real agent as a client, opens a backup into dest and sends a "../" entry.
int hostile_client(const std::string& agent, const std::string& dest) {
  int sv[2];
  ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(sv[1], 0);
    ::dup2(sv[1], 1);
    ::close(sv[0]);
    ::execl(agent.c_str(), "ferry-agent", "serve", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(sv[1]);
  FdChannel channel(sv[0], sv[0], "agent");
  FrameReader in(channel);
  FrameWriter out(channel);
  Hello hello;
  hello.software_version = "hostile";
  std::string noise;
  exchange_hello(in, out, hello, "hostile", "agent", &noise);
  Encoder e;
  Open open;
  open.path = dest;
  open.timeout_s = 30;
  open.encode(e);
  out.send(MsgType::kOpen, e);
  send_entry(out, entry("", FileType::kDirectory));
  send_entry(out, entry("../escape", FileType::kRegular));
  out.flush();
  Quiet quiet;
  int rc = 1;
  try {
    while (true) {
      Frame f = in.next();
      if (f.type == MsgType::kOpened) continue;
      handle_common_frame(f, quiet);
    }
  } catch (const FatalError& error) {
    std::printf("agent said: %s\n", error.what());
    rc = 0;
  }
  ::close(sv[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::printf("agent exit status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::string mode = argv[1];
  if (mode == "client-dotdot" && argc == 4) return hostile_client(argv[2], argv[3]);
  return fake_agent(mode);
}
