#include "engine/session.h"

#include <unistd.h>

#include "base/bytes.h"
#include "base/error.h"
#include "base/log.h"

namespace ferry {

using wire::MsgType;

FatalError peer_fatal(const Fatal& fatal, const std::string& prefix) {
  // The peer's number only picks among three of our own codes: "it lost the connection to us"
  // stays a connection failure, "the request cannot be done as asked" (a snapshot run into a
  // mirror, an unknown snapshot) a usage error, anything else is a run that stopped. Never 0,
  // never "partial": a peer that ends the session cannot make the run look finished.
  ExitCode code = ExitCode::kFatal;
  if (fatal.exit_code == static_cast<uint8_t>(ExitCode::kConnection)) code = ExitCode::kConnection;
  if (fatal.exit_code == static_cast<uint8_t>(ExitCode::kUsage)) code = ExitCode::kUsage;
  return FatalError(prefix + printable(fatal.text), code);
}

Hello exchange_hello(FrameReader& in, FrameWriter& out, const Hello& mine,
                     const std::string& my_name, const std::string& peer_name, std::string* noise) {
  Encoder e;
  mine.encode(e);
  out.write_magic();
  out.send(MsgType::kHello, e);
  out.flush();
  *noise = in.read_magic();
  Frame f = in.next();
  if (f.type == MsgType::kFatal) throw peer_fatal(Fatal::decode(f.payload), peer_name + ": ");
  if (f.type != MsgType::kHello) {
    throw ProtocolError(std::string("expected Hello, got ") + wire::msg_type_name(f.type));
  }
  Hello peer = Hello::decode(f.payload);
  if (peer.protocol_version < mine.min_protocol_version || mine.protocol_version < peer.min_protocol_version) {
    auto range = [](const Hello& h) {
      return h.min_protocol_version == h.protocol_version
                 ? std::to_string(h.protocol_version)
                 : std::to_string(h.min_protocol_version) + "-" + std::to_string(h.protocol_version);
    };
    throw FatalError(my_name + " " + mine.software_version + " speaks protocol " + range(mine) + ", but " +
                     peer_name + " " + printable(peer.software_version) + " speaks protocol " +
                     range(peer) + ": install the same Ferry version on both machines");
  }
  return peer;
}

bool handle_common_frame(const Frame& frame, Reporter& reporter) {
  switch (frame.type) {
    case MsgType::kKeepalive:
      if (!frame.payload.empty()) throw ProtocolError("Keepalive with a payload");
      return true;
    case MsgType::kMessage: {
      Message m = Message::decode(frame.payload);
      reporter.from_peer(m.level, printable(m.text));
      return true;
    }
    case MsgType::kFatal: throw peer_fatal(Fatal::decode(frame.payload));
    default: return false;
  }
}

KeepaliveTimer::KeepaliveTimer(FrameWriter& out, std::chrono::seconds interval)
    : out_(out), interval_(interval) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
      lock.unlock();
      try {
        out_.keepalive_if_idle(interval_);
      } catch (const std::exception&) {
        // The connection is gone; the threads doing real work report it.
      }
      lock.lock();
    }
  });
}

KeepaliveTimer::~KeepaliveTimer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

namespace {

FilterRules filters_of(const Open& open) {
  FilterRules rules;
  std::string problem = FilterRules::parse(open.filters, &rules);
  if (!problem.empty()) throw ProtocolError("Open: " + problem);
  return rules;
}

}  // namespace

SenderOptions sender_options(const Open& open) {
  SenderOptions options;
  options.checksum = open.flags & wire::kOpenChecksum;
  options.seal = open.flags & wire::kOpenSeal;
  options.filters = filters_of(open);
  CompressionSettings& c = options.compression;
  if (open.flags & wire::kOpenCompress) {
    c.mode = (open.flags & wire::kOpenCompressAuto) ? CompressionSettings::Mode::kAuto : CompressionSettings::Mode::kOn;
  }
  c.level = open.compress_level;
  c.skip = SkipCompressList::parse(open.skip_compress);
  return options;
}

ReceiverOptions receiver_options(const Open& open, std::string program_name) {
  ReceiverOptions options;
  options.dry_run = open.flags & wire::kOpenDryRun;
  options.compressed = open.flags & wire::kOpenCompress;
  options.flush_to_disk = !(open.flags & wire::kOpenNoSync);
  options.keep_owner = ::geteuid() == 0;
  options.program_name = std::move(program_name);
  options.restoring = open.operation == wire::Operation::kRestore;
  options.delete_extraneous = open.flags & wire::kOpenDelete;
  options.delete_excluded = open.flags & wire::kOpenDeleteExcluded;
  options.safety_net = open.flags & wire::kOpenSafetyNet;
  options.safety_net_keep_s = open.safety_net_keep_s;
  options.safety_net_keep_bytes = open.safety_net_keep_bytes;
  options.filters = filters_of(open);
  if (open.flags & wire::kOpenSingleFile) {
    // One file added to DEST: the list's root stands for the folder the file was in, whose
    // metadata is not DEST's, and nothing else in DEST is this run's business.
    options.leave_root_alone = true;
    options.delete_extraneous = false;
  }
  if (open.flags & wire::kOpenSnapshot) {
    // Each snapshot is the source exactly; the older snapshots keep what it leaves out.
    options.delete_extraneous = true;
    options.delete_excluded = true;
    options.safety_net = false;
    options.safety_net_keep_s = options.safety_net_keep_bytes = 0;
  }
  return options;
}

}  // namespace ferry
