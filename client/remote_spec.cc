#include "client/remote_spec.h"

#include <charconv>

#include "base/error.h"

namespace ferry {
namespace {

[[noreturn]] void bad(const std::string& spec, const std::string& why) {
  throw FatalError("invalid location \"" + spec + "\": " + why, ExitCode::kUsage);
}

// Splits "[user@]host" or "[user@][v6]"; rest receives what follows the host.
void split_user_host(const std::string& spec, std::string_view s, Location* loc, std::string_view* rest) {
  size_t at = s.find('@');
  size_t bracket = s.find('[');
  if (at != std::string_view::npos && (bracket == std::string_view::npos || at < bracket)) {
    loc->user = std::string(s.substr(0, at));
    if (loc->user.empty()) bad(spec, "empty user name before '@'");
    s.remove_prefix(at + 1);
  }
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) bad(spec, "'[' without ']' around the IPv6 address");
    loc->host = std::string(s.substr(1, close - 1));
    *rest = s.substr(close + 1);
  } else {
    size_t end = s.find_first_of(":/");
    loc->host = std::string(s.substr(0, end));
    *rest = end == std::string_view::npos ? std::string_view() : s.substr(end);
  }
  if (loc->host.empty()) bad(spec, "empty host name");
}

}  // namespace

Location parse_location(const std::string& spec) {
  Location loc;
  if (spec.empty()) bad(spec, "empty");
  std::string_view s = spec;
  if (s.starts_with("ssh://")) {
    loc.remote = true;
    std::string_view rest;
    split_user_host(spec, s.substr(6), &loc, &rest);
    if (rest.starts_with(":")) {
      size_t slash = rest.find('/');
      std::string_view digits = rest.substr(1, slash == std::string_view::npos ? rest.npos : slash - 1);
      int port = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
      if (ec != std::errc() || p != digits.data() + digits.size() || port < 1 || port > 65535) {
        bad(spec, "port must be a number from 1 to 65535");
      }
      loc.port = port;
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    }
    if (!rest.starts_with("/")) bad(spec, "the remote path must be absolute (ssh://host/abs/path)");
    loc.path = std::string(rest);
    return loc;
  }
  size_t colon = s.find(':');
  size_t slash = s.find('/');
  bool bracketed = s.find('[') != std::string_view::npos && s.find('[') < slash;
  if (colon == std::string_view::npos || (slash < colon && !bracketed)) {
    loc.path = spec;
    return loc;
  }
  loc.remote = true;
  std::string_view rest;
  split_user_host(spec, s, &loc, &rest);
  if (!rest.starts_with(":")) bad(spec, "expected ':' after the host");
  rest.remove_prefix(1);
  // As with scp and rsync, host:path without a leading '/' is under the remote user's home (or
  // a confined key's root): the agent resolves it there. "host:" is that folder itself.
  loc.path = rest.empty() ? "." : std::string(rest);
  return loc;
}

std::string Location::display() const {
  if (!remote) return path;
  std::string out;
  if (!user.empty()) out += user + "@";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != 0) out += ":" + std::to_string(port);
  return out + ":" + path;
}

}  // namespace ferry
