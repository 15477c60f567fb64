#include "client/ssh_session.h"

#include <libssh/libssh.h>
#include <openssl/rand.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "base/log.h"
#include "client/channel_pump.h"
#include "client/ferry_home.h"
#include "transport/stripes.h"

namespace ferry {
namespace {

// AES-GCM first: on CPUs with AES instructions a libssh channel moves about twice as much with
// aes128-gcm as with chacha20-poly1305 (measured here: ~1.2 vs ~0.6 GB/s).
constexpr const char* kCiphers =
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr";
// What the engine's channel holds in each direction: a few SSH packets' worth, so the engine and
// the pump rarely wait for each other, and little enough that a slow disk stops the remote.
constexpr size_t kEngineQueueBytes = 512 * 1024;
// How long teardown waits for an abandoned pump before cutting the socket under it. The pump
// polls in steps of 100 ms and never blocks in libssh, so this is only a backstop.
constexpr auto kPumpJoinBound = std::chrono::seconds(2);
// Signature algorithms we sign with: never SHA-1 "ssh-rsa".
constexpr const char* kPublicKeyTypes =
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256";

// A key's passphrase, asked on the terminal when libssh finds the key encrypted; kept in this
// process's memory only, so one run asks once however many connections it makes (a backup,
// then its retention), and never written anywhere.
struct PassphrasePrompt {
  std::string path;
  bool asked = false;
  bool no_terminal = false;
};

std::map<std::string, std::string>& typed_passphrases() {
  static std::map<std::string, std::string> typed;
  return typed;
}

int ask_passphrase(const char* /*prompt*/, char* buf, size_t len, int /*echo*/, int /*verify*/, void* userdata) {
  auto* prompt = static_cast<PassphrasePrompt*>(userdata);
  auto known = typed_passphrases().find(prompt->path);
  if (known == typed_passphrases().end()) {
    if (::isatty(STDIN_FILENO) == 0) {
      prompt->no_terminal = true;
      return -1;
    }
    prompt->asked = true;
    std::string text = "Passphrase for " + prompt->path + ": ";
    if (ssh_getpass(text.c_str(), buf, len, /*echo=*/0, /*verify=*/0) != 0) return -1;
    typed_passphrases()[prompt->path] = buf;
    return 0;
  }
  prompt->asked = true;
  if (known->second.size() + 1 > len) return -1;
  std::memcpy(buf, known->second.c_str(), known->second.size() + 1);
  return 0;
}

std::string where(const SshOptions& o) {
  std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  return host + " port " + std::to_string(o.port);
}

std::string fingerprint(ssh_key key) {
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != SSH_OK) return "(unknown)";
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  std::string out = text != nullptr ? text : "(unknown)";
  ssh_string_free_char(text);
  ssh_clean_pubkey_hash(&hash);
  return out;
}

}  // namespace

SshSession::SshSession(const SshOptions& options) : options_(options) {
  session_ = ssh_new();
  if (session_ == nullptr) throw ConnectionError("cannot create an SSH session (out of memory?)");
  bool no = false;
  int timeout = options_.connect_timeout_s;
  int nodelay = 1;
  int log_level = options_.verbosity >= 3 ? SSH_LOG_PROTOCOL : SSH_LOG_NOLOG;
  unsigned port = static_cast<unsigned>(options_.port);
  // ~/.ssh/config must not be able to weaken host key checks, add a ProxyCommand or swap the
  // known_hosts file: config processing is off and every setting below is ours.
  ssh_options_set(session_, SSH_OPTIONS_PROCESS_CONFIG, &no);
  ssh_options_set(session_, SSH_OPTIONS_HOST, options_.host.c_str());
  ssh_options_set(session_, SSH_OPTIONS_PORT, &port);
  if (!options_.user.empty()) ssh_options_set(session_, SSH_OPTIONS_USER, options_.user.c_str());
  ssh_options_set(session_, SSH_OPTIONS_KNOWNHOSTS, options_.known_hosts.c_str());
  ssh_options_set(session_, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
  ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout);
  ssh_options_set(session_, SSH_OPTIONS_NODELAY, &nodelay);
  ssh_options_set(session_, SSH_OPTIONS_CIPHERS_C_S, kCiphers);
  ssh_options_set(session_, SSH_OPTIONS_CIPHERS_S_C, kCiphers);
  ssh_options_set(session_, SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, kPublicKeyTypes);
  ssh_options_set(session_, SSH_OPTIONS_LOG_VERBOSITY, &log_level);

  if (ssh_connect(session_) != SSH_OK) {
    std::string error = ssh_get_error(session_);
    std::string hint;
    if (error.find("refused") != std::string::npos) {
      hint = ": nothing accepts connections there. Is sshd running (Remote Login on, on a Mac), "
             "and is the port right (--port)?";
    } else if (error.find("resolve") != std::string::npos) {
      hint = ": the host name does not resolve. Check its spelling and your DNS.";
    } else if (error.find("imeout") != std::string::npos || error.find("timed out") != std::string::npos) {
      hint = ": no answer. Is the host up, and does a firewall let port " + std::to_string(options_.port) + " through?";
    } else if (error.find("banner") != std::string::npos || error.find("identification") != std::string::npos) {
      hint = ": what answers on that port does not speak SSH.";
    }
    throw ConnectionError("cannot connect to " + where(options_) + ": " + error + hint);
  }
  if (options_.on_stage) options_.on_stage("connected", "");
  verify_host_key();
  if (options_.on_stage) options_.on_stage("host key", "");
  authenticate();
  if (options_.on_stage) options_.on_stage("authenticated", accepted_identity_);
}

SshSession::~SshSession() {
  abandon_ = true;
  if (engine_channel_) engine_channel_->close_engine();
  join_pump_within_bound();
  // The pump left the session non-blocking: closing the channel and disconnecting queue their
  // messages and do not wait for a peer that may never read them.
  if (channel_ != nullptr) ssh_channel_free(channel_);
  for (ssh_channel stripe : stripe_channels_) ssh_channel_free(stripe);
  if (session_ != nullptr) {
    ssh_disconnect(session_);
    ssh_free(session_);
  }
}

void SshSession::join_pump_within_bound() {
  if (!pump_.joinable()) return;
  auto deadline = std::chrono::steady_clock::now() + kPumpJoinBound;
  while (!pump_ended_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Reading the fd races with nothing: the pump never changes it. shutdown(2), unlike close,
  // leaves the fd number valid for libssh, and makes its pending poll or write return.
  if (!pump_ended_) ::shutdown(ssh_get_fd(session_), SHUT_RDWR);
  pump_.join();
}

void SshSession::verify_host_key() {
  ssh_key key = nullptr;
  if (ssh_get_server_publickey(session_, &key) != SSH_OK) {
    throw ConnectionError("cannot read the host key of " + where(options_) + ": " + ssh_get_error(session_));
  }
  std::string fp = fingerprint(key);
  std::string type = ssh_key_type_to_char(ssh_key_type(key));
  ssh_key_free(key);

  // libssh only reports; refusing is our job, on anything but OK.
  ssh_known_hosts_e state = ssh_session_is_known_server(session_);
  switch (state) {
    case SSH_KNOWN_HOSTS_OK: return;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      throw ConnectionError(
          "@@@ WARNING: THE HOST KEY OF " + where(options_) + " HAS CHANGED @@@\n"
          "It now presents " + type + " key " + fp + ", which does not match " +
          options_.known_hosts + ".\nSomeone may be intercepting this connection, or the host was "
          "reinstalled. Refusing to connect. If you are sure the host was reinstalled, remove its "
          "line from " + options_.known_hosts + " and connect again.");
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      if (!options_.host_fingerprint.empty() && options_.host_fingerprint != fp) {
        throw ConnectionError(
            "the host key of " + where(options_) + " is not the one you pinned. It presents " + type + " key\n  " +
            fp + "\nbut --host-fingerprint says\n  " + options_.host_fingerprint +
            "\nSomeone may be intercepting this connection, or the fingerprint was copied from another "
            "host key (ferry-agent install-credentials prints them all). Refusing to connect.");
      }
      if (!options_.accept_new_host_key && options_.host_fingerprint.empty()) {
        throw ConnectionError(
            "the host key of " + where(options_) + " is not known. It presents " + type + " key\n  " +
            fp + "\nCompare it with the fingerprint `ferry-agent install-credentials` printed on that machine "
            "(or `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` there); if it matches, run again with\n  "
            "--host-fingerprint " + fp + "\n(or with --accept-new-host-key, which trusts whatever key the host "
            "presents on that run).");
      }
      {
        std::error_code ec;
        std::filesystem::path dir = std::filesystem::path(options_.known_hosts).parent_path();
        if (!dir.empty()) {
          std::filesystem::create_directories(dir, ec);
          ::chmod(dir.c_str(), 0700);
        }
      }
      if (ssh_session_update_known_hosts(session_) != SSH_OK) {
        throw ConnectionError("cannot record the host key in " + options_.known_hosts + ": " +
                              ssh_get_error(session_));
      }
      spdlog::warn("trusting new host key {} {} for {} (saved in {})", type, fp, where(options_),
                   options_.known_hosts);
      return;
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      throw ConnectionError("cannot check the host key of " + where(options_) + " against " +
                            options_.known_hosts + ": " + ssh_get_error(session_));
  }
}

void SshSession::authenticate() {
  std::string refused;
  int rc = SSH_AUTH_DENIED;
  // An ssh-agent first, as ssh does: it holds keys whose passphrase was typed once, at login.
  if (options_.use_ssh_agent) {
    const char* socket = std::getenv("SSH_AUTH_SOCK");
    if (socket != nullptr && *socket != '\0') {
      rc = ssh_userauth_agent(session_, nullptr);
      if (rc == SSH_AUTH_SUCCESS) {
        accepted_identity_ = std::string("a key of the ssh-agent at ") + socket;
        return;
      }
      spdlog::debug("the ssh-agent at {} offered no key {} accepts", socket, where(options_));
      if (rc != SSH_AUTH_ERROR) refused = std::string("the ssh-agent's keys");
    }
  }
  if (options_.identities.empty() && refused.empty()) {
    throw ConnectionError("no SSH key to log in with: create one with `ferry keys create`, or pass -i FILE");
  }
  // Each key in turn, as ssh does: a second `ferry keys create` must not lock a client out of
  // the hosts that know its first key. One that cannot be read is skipped (said, if it was the
  // only one).
  std::string unreadable;
  for (const std::string& identity : options_.identities) {
    ssh_key key = nullptr;
    PassphrasePrompt prompt{identity};
    if (ssh_pki_import_privkey_file(identity.c_str(), nullptr, ask_passphrase, &prompt, &key) != SSH_OK) {
      struct stat st {};
      unreadable = identity + ": " +
                   (::stat(identity.c_str(), &st) != 0 ? "it does not exist"
                    : prompt.no_terminal
                        ? "it is protected by a passphrase, and there is no terminal to ask for it on. Load it into "
                          "an ssh-agent (ssh-add) before the run, or, for scheduled runs, use a key without a "
                          "passphrase that the backup machine confines to Ferry (ferry keys create, then "
                          "install-credentials)"
                    : prompt.asked ? "the passphrase does not open it"
                                   : "it is not a private key Ferry can read");
      spdlog::debug("skipping key {}", unreadable);
      continue;
    }
    rc = ssh_userauth_publickey(session_, nullptr, key);
    ssh_key_free(key);
    if (rc == SSH_AUTH_SUCCESS) {
      accepted_identity_ = identity;
      if (options_.remember_identity) remember_identity(options_.host + ":" + std::to_string(options_.port), identity);
      return;
    }
    if (rc == SSH_AUTH_ERROR) break;
    refused += (refused.empty() ? "" : ", ") + identity;
  }
  if (refused.empty() && rc != SSH_AUTH_ERROR) {
    if (unreadable.empty()) {
      throw ConnectionError("no SSH key to log in with: create one with `ferry keys create`, or pass -i FILE");
    }
    throw ConnectionError("cannot use identity " + unreadable + ". Create one with `ferry keys create`, or pass -i FILE.");
  }
  std::string user = options_.user;
  if (user.empty()) {
    char* name = nullptr;
    ssh_options_get(session_, SSH_OPTIONS_USER, &name);
    user = name != nullptr ? name : "?";
    ssh_string_free_char(name);
  }
  if (rc == SSH_AUTH_ERROR) {
    throw ConnectionError("authentication with " + where(options_) + " failed: " + ssh_get_error(session_));
  }
  throw ConnectionError("the server " + where(options_) + " refused " +
                        (refused.find(", ") == std::string::npos ? "key " : "every key (") + refused +
                        (refused.find(", ") == std::string::npos ? "" : ")") + " for user " +
                        user + ". Install its public key for that user there (ferry-agent "
                        "install-credentials, or ~" + user + "/.ssh/authorized_keys); for root, sshd "
                        "also needs PermitRootLogin prohibit-password or forced-commands-only.");
}

Channel& SshSession::start(const std::string& command, const std::string& peer_name,
                           const std::vector<std::string>& stripe_commands) {
  auto open_exec = [&](const std::string& run) {
    ssh_channel channel = ssh_channel_new(session_);
    if (channel == nullptr || ssh_channel_open_session(channel) != SSH_OK) {
      std::string error = ssh_get_error(session_);
      if (channel != nullptr) ssh_channel_free(channel);
      if (channel_ != nullptr) {
        error += ". It refused channel " + std::to_string(stripe_channels_.size() + 2) + " of " +
                 std::to_string(stripe_commands.size() + 1) + ": its MaxSessions (10 by default) is lower; use fewer --streams";
      }
      throw ConnectionError("cannot open a channel on " + where(options_) + ": " + error);
    }
    if (ssh_channel_request_exec(channel, run.c_str()) != SSH_OK) {
      std::string error = ssh_get_error(session_);
      ssh_channel_free(channel);
      throw ConnectionError("the server refused to run `" + run + "`: " + error);
    }
    return channel;
  };
  channel_ = open_exec(command);
  for (const std::string& run : stripe_commands) stripe_channels_.push_back(open_exec(run));
  std::vector<std::string> preambles;
  if (!stripe_commands.empty()) {
    StripePreamble preamble;
    if (RAND_bytes(preamble.token.data(), static_cast<int>(preamble.token.size())) != 1) {
      throw FatalError("cannot draw a random token for the session's channels (OpenSSL's RAND_bytes failed)");
    }
    preamble.count = static_cast<int>(stripe_commands.size()) + 1;
    for (preamble.index = 0; preamble.index < preamble.count; ++preamble.index) preambles.push_back(preamble.encode());
  }
  engine_channel_ = std::make_unique<PumpedChannel>(peer_name, kEngineQueueBytes);
  pump_ = std::thread([this, preambles = std::move(preambles)] {
    pump_error_ = ChannelPump(session_, channel_, *engine_channel_, &remote_stderr_, stripe_channels_, preambles)
                      .run(abandon_);
    pump_failed_ = !pump_error_.empty();
    engine_channel_->fail();  // nothing more will come or go: the engine must not wait
    pump_ended_ = true;
  });
  return *engine_channel_;
}

int SshSession::finish() {
  if (engine_channel_) engine_channel_->close_engine();
  if (pump_.joinable()) pump_.join();
  if (pump_failed_) throw ConnectionError("connection to " + where(options_) + ": " + pump_error_);
  if (channel_ == nullptr) return -1;
  // Wait (bounded by the session timeout) for the exit status to arrive.
  // What the command said on stderr after the pump stopped (a shell's "not found") is kept and
  // shown like the rest.
  for (int i = 0; i < 100 && ssh_channel_is_open(channel_) && !ssh_channel_is_closed(channel_); ++i) {
    char said[256];
    int n = ssh_channel_read_timeout(channel_, said, sizeof(said), 1, 100);
    if (n == SSH_ERROR) break;
    if (n > 0) show_remote_stderr(said, static_cast<size_t>(n), &remote_stderr_);
  }
  return ssh_channel_get_exit_status(channel_);
}

}  // namespace ferry
