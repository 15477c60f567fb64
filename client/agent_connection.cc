#include "client/agent_connection.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "base/bytes.h"
#include "base/log.h"
#include "engine/session.h"

namespace ferry {

namespace {

std::unique_ptr<AgentLink> connect(const Location& where, const TransferOptions& options) {
  if (!where.remote) {
    if (options.streams > 1) spdlog::warn("--streams spreads a connection over SSH channels: a local folder has none");
    return start_local_agent(options.agent);
  }
  return start_ssh_agent(ssh_options_for(where, options), options.agent, options.streams);
}

}  // namespace

AgentConnection::AgentConnection(const Location& where, const TransferOptions& options)
    : link_(connect(where, options)), in_(link_->channel()), out_(link_->channel()) {
  channel().set_idle_timeout(std::chrono::seconds(options.timeout_s));
  Hello mine;
  mine.software_version = FERRY_VERSION;
  mine.euid = ::geteuid();
  std::string noise;
  try {
    theirs_ = exchange_hello(in_, out_, mine, "ferry", link_->peer_name(), &noise);
  } catch (const ConnectionError&) {
    // Gone before it said hello: most often, there was no agent program to start.
    if (std::string missing = link_->missing_agent(); !missing.empty()) throw ConnectionError(missing);
    throw;
  }
  if (!noise.empty()) spdlog::warn("the remote login printed, before the agent started:\n{}", printable(noise));
}

Opened AgentConnection::open(const Open& open, Reporter& reporter) {
  Encoder e;
  open.encode(e);
  out_.send(wire::MsgType::kOpen, e);
  out_.flush();
  while (true) {
    Frame f = in_.next();
    if (handle_common_frame(f, reporter)) continue;
    if (f.type != wire::MsgType::kOpened) {
      throw ProtocolError(std::string("expected Opened, got ") + wire::msg_type_name(f.type));
    }
    return Opened::decode(f.payload);
  }
}

std::string agent_path(const Location& where) {
  if (where.remote) return where.path;
  std::error_code ec;
  std::string path = std::filesystem::absolute(where.path, ec).lexically_normal().string();
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace ferry
