#include "keys/authorized_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"

namespace ferry {

namespace {

constexpr std::string_view kLabel = " ferry-credentials:";

// Splits text into lines, each with its '\n' (the last may have none).
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    size_t len = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(0, len));
    text.remove_prefix(len);
  }
  return lines;
}

std::string_view trim_newline(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

// The client a line was installed for, or "" if Ferry did not write it.
std::string client_of(std::string_view line) {
  line = trim_newline(line);
  size_t at = line.rfind(kLabel);
  if (at == std::string_view::npos || line.substr(at + kLabel.size()).find(' ') != std::string_view::npos) return "";
  return std::string(line.substr(at + kLabel.size()));
}

std::string option_value(std::string_view line, std::string_view flag) {
  size_t at = line.find(flag);
  if (at == std::string_view::npos) return "";
  line.remove_prefix(at + flag.size());
  if (line.starts_with("'")) {
    size_t end = line.find('\'', 1);
    return end == std::string_view::npos ? "" : std::string(line.substr(1, end - 1));
  }
  return std::string(line.substr(0, line.find_first_of(" \"")));
}

std::string key_blob_of(std::string_view line) {
  line = trim_newline(line);
  size_t label = line.rfind(kLabel);
  if (label == std::string_view::npos) return "";
  line = line.substr(0, label);
  size_t sp = line.rfind(' ');
  return sp == std::string_view::npos ? "" : std::string(line.substr(sp + 1));
}

}  // namespace

const char* allow_name(Allow allow) {
  switch (allow) {
    case Allow::kBackup: return "backup";
    case Allow::kRestore: return "restore";
    case Allow::kBoth: return "both";
  }
  return "both";
}

bool parse_allow(std::string_view text, Allow* allow) {
  if (text == "backup") *allow = Allow::kBackup;
  else if (text == "restore") *allow = Allow::kRestore;
  else if (text == "both") *allow = Allow::kBoth;
  else return false;
  return true;
}

std::string authorized_line(const CredentialsPackage& package, const InstallRules& rules) {
  for (const std::string* path : {&rules.agent_path, &rules.root, &rules.log_file}) {
    if (path == &rules.log_file && path->empty()) continue;
    if (path->empty() || path->front() != '/' || path->find_first_of("'\"\\\n\r") != std::string::npos) {
      throw FatalError("cannot install with the path \"" + *path +
                       "\": it must be absolute and must not contain quotes, backslashes or newlines");
    }
  }
  std::string log = rules.log_file.empty() ? "" : " --log '" + rules.log_file + "'";
  std::string append_only = rules.append_only ? " --append-only" : "";
  return "restrict,command=\"'" + rules.agent_path + "' forced --root '" + rules.root + "' --allow " +
         allow_name(rules.allow) + append_only + log + "\" " + package.key_type + " " + package.key_base64 + std::string(kLabel) +
         package.client_id() + "\n";
}

std::string with_line_installed(std::string_view text, const std::string& client, const std::string& line,
                                bool* replaced) {
  std::string out;
  *replaced = false;
  for (std::string_view l : lines_of(text)) {
    if (client_of(l) == client) {
      if (!*replaced) out += line;  // in place of the first of its old lines
      *replaced = true;
      continue;
    }
    out += l;
  }
  if (!*replaced) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += line;
  }
  return out;
}

std::string without_lines_of(std::string_view text, std::string_view who, int* removed) {
  std::string out;
  *removed = 0;
  for (std::string_view l : lines_of(text)) {
    std::string client = client_of(l);
    bool match = !client.empty() &&
                 (client == who || client.substr(0, client.find('@')) == who ||
                  (who.starts_with("SHA256:") && key_fingerprint(key_blob_of(l)) == who));
    if (match) {
      ++*removed;
      continue;
    }
    out += l;
  }
  return out;
}

std::vector<InstalledKey> installed_keys(std::string_view text) {
  std::vector<InstalledKey> keys;
  for (std::string_view l : lines_of(text)) {
    std::string client = client_of(l);
    if (client.empty()) continue;
    bool append_only = l.find(" --append-only") != std::string_view::npos;
    keys.push_back({client, key_fingerprint(key_blob_of(l)), option_value(l, "--root "), option_value(l, "--allow "),
                    append_only});
  }
  return keys;
}

std::string read_authorized_keys(const std::string& path) {
  // Never through a symlink: run as root for another user, that user could otherwise have us
  // copy any file (/etc/shadow) into a file they own.
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return "";
    if (errno == ELOOP) throw FatalError(path + " is a symlink; refusing to read or replace it");
    throw FatalError(errno_message("cannot read " + path, errno));
  }
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20)) {
    ::close(fd);
    throw FatalError(path + " is not a regular file of sensible size; refusing to touch it");
  }
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  int err = errno;
  ::close(fd);
  if (n < 0) throw FatalError(errno_message("cannot read " + path, err));
  return text;
}

void write_authorized_keys(const std::string& path, const std::string& text, uid_t uid, gid_t gid) {
  std::string tmp = path + ".ferry-" + std::to_string(::getpid()) + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw FatalError(errno_message("cannot write beside " + path, errno));
  bool ok = ::fchown(fd, uid, gid) == 0 || ::geteuid() != 0;
  size_t off = 0;
  while (ok && off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n <= 0) ok = false;
    else off += static_cast<size_t>(n);
  }
  ok = ok && ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = ok ? errno : err;
    ::unlink(tmp.c_str());
    throw FatalError(errno_message("cannot update " + path + " (it is unchanged)", err));
  }
}

}  // namespace ferry
