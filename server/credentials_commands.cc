#include "server/credentials_commands.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <fstream>


#include <fmt/core.h>

#include "platform/platform.h"

namespace ferry {

namespace {

struct Account {
  std::string name;
  std::string home;
  uid_t uid = 0;
  gid_t gid = 0;
};

Account account(const std::string& user) {
  const passwd* pw = user.empty() ? ::getpwuid(::geteuid()) : ::getpwnam(user.c_str());
  if (pw == nullptr) {
    throw FatalError(user.empty() ? std::string("cannot find the current user in the password database")
                                  : "no user named \"" + user + "\" on this machine");
  }
  return {pw->pw_name, pw->pw_dir, pw->pw_uid, pw->pw_gid};
}

// The authorized_keys file to edit; creates ~/.ssh (0700, owned by the user) when needed.
std::string authorized_keys_path(const CredentialsTarget& target, const Account& who, bool create_dir) {
  if (!target.authorized_keys.empty()) return target.authorized_keys;
  std::string dir = who.home + "/.ssh";
  if (create_dir && ::mkdir(dir.c_str(), 0700) == 0) {
    if (::chown(dir.c_str(), who.uid, who.gid) != 0 && ::geteuid() == 0) {
      throw FatalError(errno_message("cannot give " + dir + " to " + who.name, errno));
    }
  } else if (create_dir && errno != EEXIST) {
    throw FatalError(errno_message("cannot create " + dir, errno));
  }
  // Run as root for another user, a symlinked ~/.ssh would let that user point our write
  // anywhere (the file itself is written with O_NOFOLLOW).
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0 && (!S_ISDIR(st.st_mode) || (st.st_uid != who.uid && st.st_uid != 0))) {
    throw FatalError(dir + " is not a directory owned by " + who.name + " (a symlink?); refusing to write there. "
                     "Fix it, or name the file with --authorized-keys");
  }
  return dir + "/authorized_keys";
}

std::string read_package(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FatalError(errno_message("cannot read the credentials package " + path, errno));
  std::string text(kMaxPackageBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

void ensure_root(const std::string& root, const Account& who) {
  std::error_code ec;
  if (std::filesystem::is_directory(root, ec)) return;
  if (std::filesystem::exists(root, ec)) throw FatalError(root + " exists and is not a folder; choose another --root");
  std::filesystem::create_directories(root, ec);
  if (ec == std::errc::permission_denied && ::geteuid() != 0) {
    // The usual case: a plain user asked for a folder under one only root may write (/backups).
    throw FatalError("cannot create the backup folder " + root + ": " + who.name +
                     " may not create it there. Have an administrator create it and give it to " + who.name +
                     " (sudo mkdir -p " + root + " && sudo chown " + who.name + " " + root +
                     "), then run this again; or choose a --root under " + who.home + " (the default is " + who.home +
                     "/FerryBackups)");
  }
  if (ec) throw FatalError("cannot create the backup folder " + root + ": " + ec.message());
  ::chmod(root.c_str(), 0700);
  if (::chown(root.c_str(), who.uid, who.gid) != 0 && ::geteuid() == 0) {
    throw FatalError(errno_message("cannot give " + root + " to " + who.name, errno));
  }
}

void print_host_fingerprints(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> lines;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.find("host") == std::string::npos || e.path().extension() != ".pub") continue;
    std::ifstream in(e.path());
    std::string type, blob;
    if (in >> type >> blob) lines.push_back(fmt::format("  {}  {}", key_fingerprint(blob), type));
  }
  if (lines.empty()) {
    fmt::print("No SSH host keys (*host*.pub) in {}: to print them, give the folder sshd's HostKey lines name "
               "with --host-key-dir; on the client, compare the fingerprint it shows on first contact with "
               "`ssh-keygen -lf` of those keys here.\n",
               dir);
    return;
  }
  std::sort(lines.begin(), lines.end());
  fmt::print("This machine's SSH host keys (read from {}; another folder: --host-key-dir). On the client, pin the\n"
             "right one on first contact with\n"
             "  ferry backup --host-fingerprint SHA256:… SRC user@this-host:PATH\n",
             dir);
  for (const std::string& l : lines) fmt::print("{}\n", l);
}

}  // namespace

ExitCode install_credentials(const std::string& package_path, const InstallOptions& options) {
  CredentialsPackage package = parse_package(read_package(package_path));
  Account who = account(options.target.user);
  InstallRules rules;
  rules.allow = options.allow;
  rules.log_file = options.log_file;
  rules.append_only = options.append_only;
  rules.root = options.root.empty() ? who.home + "/FerryBackups" : options.root;
  rules.root = std::filesystem::path(rules.root).lexically_normal().string();
  if (rules.root.size() > 1 && rules.root.back() == '/') rules.root.pop_back();
  rules.agent_path = options.agent_path.empty() ? platform::executable_path() : options.agent_path;
  std::string line = authorized_line(package, rules);  // validates the paths before anything changes
  ensure_root(rules.root, who);

  std::string path = authorized_keys_path(options.target, who, true);
  std::string before = read_authorized_keys(path);
  bool replaced = false;
  std::string after = with_line_installed(before, package.client_id(), line, &replaced);
  write_authorized_keys(path, after, who.uid, who.gid);

  fmt::print("{} the key of {} ({}, made {}) in {}\n", replaced ? "Replaced" : "Installed", package.client_id(),
             package.fingerprint, package.created, path);
  fmt::print("It may only run ferry-agent, for {} in {} (folders under it included).\n",
             rules.allow == Allow::kBoth ? "backups and restores" : rules.allow == Allow::kBackup ? "backups only" : "restores only",
             rules.root);
  // The forced command names the agent by its absolute path: say it, since moving or
  // reinstalling the agent elsewhere breaks this key until install-credentials runs again.
  fmt::print("The key runs {}; if that program moves, run install-credentials again (--agent-path PATH names\n"
             "another).\n",
             rules.agent_path);
  if (rules.append_only) {
    fmt::print("Append-only: what its backups delete or replace is kept in the safety net (.ferry-safetynet in\n"
               "each backup folder), and they cannot prune it; prune it here, by hand, when you choose.\n");
  }
  print_host_fingerprints(options.host_key_dir);
  return ExitCode::kOk;
}

ExitCode list_credentials(const CredentialsTarget& target) {
  Account who = account(target.user);
  std::string path = authorized_keys_path(target, who, false);
  auto keys = installed_keys(read_authorized_keys(path));
  if (keys.empty()) {
    fmt::print("No Ferry keys in {}\n", path);
    return ExitCode::kOk;
  }
  fmt::print("Ferry keys in {}:\n", path);
  for (const InstalledKey& k : keys) {
    fmt::print("  {}  {}  root {}  allow {}{}\n", k.client, k.fingerprint, k.root, k.allow,
               k.append_only ? "  append-only" : "");
  }
  return ExitCode::kOk;
}

ExitCode revoke_credentials(const std::string& who_text, const CredentialsTarget& target) {
  Account who = account(target.user);
  std::string path = authorized_keys_path(target, who, false);
  std::string before = read_authorized_keys(path);
  int removed = 0;
  std::string after = without_lines_of(before, who_text, &removed);
  if (removed == 0) {
    throw FatalError("no Ferry key named or with fingerprint \"" + who_text + "\" in " + path +
                     " (see ferry-agent list-credentials)");
  }
  struct stat st {};
  uid_t uid = who.uid;
  gid_t gid = who.gid;
  if (::stat(path.c_str(), &st) == 0) {
    uid = st.st_uid;
    gid = st.st_gid;
  }
  write_authorized_keys(path, after, uid, gid);
  fmt::print("Revoked {} key line(s) for {} in {}\n", removed, who_text, path);
  return ExitCode::kOk;
}

}  // namespace ferry
