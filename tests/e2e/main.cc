#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <regex>

#include "e2e/e2e.h"

namespace ferry::test {

Sshd& sshd() {
  static std::unique_ptr<Sshd> server = std::make_unique<Sshd>(kBin);
  return *server;
}

bool running_as_root() { return ::geteuid() == 0; }

std::string ferry_over_ssh(const std::string& verb, const std::string& home) {
  return "FERRY_HOME=" + quote(home) + " " + quote(kFerry) + " " + verb + " -i " + quote(sshd().client_key()) +
         " --port " + std::to_string(sshd().port()) + " --known-hosts " + quote(sshd().known_hosts());
}

std::string remote(const std::string& path) { return sshd().login() + ":" + path; }

SshOptions ssh_options_for_test_sshd() {
  sshd().trust_host_key();
  SshOptions o;
  o.host = "127.0.0.1";
  o.port = sshd().port();
  const passwd* pw = ::getpwuid(::geteuid());
  o.user = pw != nullptr ? pw->pw_name : "root";
  o.identities = {sshd().client_key()};
  o.known_hosts = sshd().known_hosts();
  return o;
}

AuthorizedKeysGuard::AuthorizedKeysGuard() : saved_(slurp(sshd().authorized_keys())) {}

AuthorizedKeysGuard::~AuthorizedKeysGuard() {
  std::ofstream(sshd().authorized_keys(), std::ios::binary | std::ios::trunc) << saved_;
  ::chmod(sshd().authorized_keys().c_str(), 0600);
}

pid_t dead_pid() {
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  return gone;
}

long long json_field(const std::string& out, const std::string& field) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("\"" + field + "\":([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

namespace {

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

void set_times(const std::string& path, long long sec, long nsec) {
  timespec t[2] = {{static_cast<time_t>(sec), nsec}, {static_cast<time_t>(sec), nsec}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), t, AT_SYMLINK_NOFOLLOW) == 0);
}

void own(const std::string& path, uid_t uid, gid_t gid) {
  if (running_as_root()) REQUIRE(::lchown(path.c_str(), uid, gid) == 0);
}

}  // namespace

void write_random(const std::string& path, size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary) << s;
}

void build_full_tree(const std::string& r) {
  namespace fs = std::filesystem;
  std::mt19937_64 rng(42);
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (char& c : big) c = static_cast<char>(rng());

  fs::create_directories(r + "/docs/deep/deeper");
  fs::create_directories(r + "/empty dir");
  fs::create_directories(r + "/shared");
  fs::create_directories(r + "/readonly");
  write_file(r + "/docs/report.txt", "quarterly numbers\n");
  write_file(r + "/docs/deep/deeper/big.bin", big);
  write_file(r + "/empty-file", "");
  write_file(r + "/name with spaces", "spaces");
  write_file(r + "/new\nline", "newline in name");
  write_file(r + "/bad-utf8-\xff\xfe", "invalid utf-8 name");
  write_file(r + "/-leading-dash", "dash");
  write_file(r + "/" + std::string(255, 'L'), "longest name");
  write_file(r + "/setuid-tool", "#!/bin/sh\n");
  write_file(r + "/readonly/inside", "in a read-only dir");
  write_file(r + "/secret", "0600");
  ::chmod((r + "/setuid-tool").c_str(), 04755);
  ::chmod((r + "/secret").c_str(), 0600);
  ::chmod((r + "/shared").c_str(), 02775);
  fs::create_directories(r + "/tmpdir");
  ::chmod((r + "/tmpdir").c_str(), 01777);

  // Hardlinks: three names for one inode, across directories.
  write_file(r + "/docs/linked", "one inode, three names");
  REQUIRE(::link((r + "/docs/linked").c_str(), (r + "/shared/linked-too").c_str()) == 0);
  REQUIRE(::link((r + "/docs/linked").c_str(), (r + "/linked-at-top").c_str()) == 0);

  // Symlinks: relative, absolute, dangling, to a directory; never followed.
  REQUIRE(::symlink("docs/report.txt", (r + "/link-relative").c_str()) == 0);
  REQUIRE(::symlink("/etc/hostname", (r + "/link-absolute").c_str()) == 0);
  REQUIRE(::symlink("does/not/exist", (r + "/link-dangling").c_str()) == 0);
  REQUIRE(::symlink("docs", (r + "/link-to-dir").c_str()) == 0);
  REQUIRE(::mkfifo((r + "/fifo").c_str(), 0640) == 0);

  REQUIRE(::setxattr((r + "/docs/report.txt").c_str(), "user.color", "blue", 4, 0) == 0);
  REQUIRE(::setxattr((r + "/docs").c_str(), "user.dir-tag", "\x00\x01\x02", 3, 0) == 0);
  REQUIRE(::setxattr((r + "/empty-file").c_str(), "user.empty", "", 0, 0) == 0);

  // Varied owners (as root): Mac-like 501:20, nobody, root, and a made-up pair.
  own(r + "/docs", 501, 20);
  own(r + "/docs/report.txt", 501, 20);
  own(r + "/docs/deep/deeper/big.bin", 65534, 65534);
  own(r + "/setuid-tool", 0, 0);
  own(r + "/link-relative", 1234, 5678);
  own(r + "/shared", 501, 80);
  own(r + "/docs/linked", 1000, 1000);
  ::chmod((r + "/setuid-tool").c_str(), 04755);  // chown cleared it

  // POSIX ACLs: named users and groups on a file, a default ACL on a folder (set by the acl
  // package's own tool, not by Ferry's code).
  REQUIRE(run("setfacl -m u:1001:rw-,g:50:r-- " + quote(r + "/docs/report.txt")).code == 0);
  REQUIRE(run("setfacl -d -m u:1001:rwx,g::r-x " + quote(r + "/shared")).code == 0);

  // Times with nanoseconds on files, directories and symlinks; the read-only dir last.
  long long t = 1600000000;
  for (const auto& e : fs::recursive_directory_iterator(r)) {
    set_times(e.path().string(), t, static_cast<long>((t * 7919) % 1000000000));
    t += 3607;
  }
  ::chmod((r + "/readonly").c_str(), 0555);
  set_times(r + "/readonly", 1500000000, 123456789);
  // The top folder's own metadata travels too.
  ::chmod(r.c_str(), 0750);
  own(r, 501, 20);
  set_times(r, 1400000000, 987654321);
}

}  // namespace ferry::test

// Runs that do not name a FERRY_HOME of their own (local destinations) remember volumes and
// host keys in one throwaway home, never in the real ~/.config/ferry of whoever runs the tests.
int main(int argc, char** argv) {
  std::unique_ptr<ferry::test::TempDir> home;
  if (::getenv("FERRY_HOME") == nullptr) {
    home = std::make_unique<ferry::test::TempDir>();
    ::chmod(home->path().c_str(), 0777);  // runs as nobody remember their volumes there too
    ::setenv("FERRY_HOME", home->path().c_str(), 1);
  }
  doctest::Context context(argc, argv);
  return context.run();
}
