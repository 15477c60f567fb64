// Every way a run can fail gives one clear message, the documented exit code, and loses nothing.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "e2e/e2e.h"
#include "support/background.h"
#include "protocol/wire.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

constexpr int kFatal = 1, kPartial = 3, kConnection = 4;

std::string small_tree(const TempDir& work) {
  std::string src = work / "src";
  fs::create_directories(src + "/d");
  std::ofstream(src + "/d/f") << "data";
  std::ofstream(src + "/g") << "more";
  return src;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("host keys: unknown is refused with its fingerprint, accepted on request, a change is always refused") {
  TempDir work;
  std::string src = small_tree(work);
  std::string kh = work / "known_hosts";
  std::string base = "FERRY_HOME=" + quote(work / "home") + " " + quote(kFerry) + " backup -i " +
                     quote(sshd().client_key()) + " --port " + std::to_string(sshd().port()) + " --known-hosts " +
                     quote(kh) + " " + quote(src) + " " + quote(remote(work / "dest"));

  RunResult unknown = run(base);
  CHECK(unknown.code == kConnection);
  CHECK(contains(unknown.err, "is not known"));
  CHECK(contains(unknown.err, "SHA256:"));
  CHECK(contains(unknown.err, "--accept-new-host-key"));
  CHECK_FALSE(fs::exists(work / "dest"));
  // The pinned fingerprint is the first way out the message offers, ready to paste.
  size_t pin = unknown.err.find("--host-fingerprint SHA256:");
  REQUIRE(pin != std::string::npos);
  CHECK(pin < unknown.err.find("--accept-new-host-key"));
  std::string fingerprint = unknown.err.substr(pin + 19, 7 + 43);

  // A malformed fingerprint is a usage error, not a warning of an attack, and connects nowhere.
  for (const std::string& typo : {fingerprint.substr(0, 49), "MD5:" + fingerprint.substr(7), fingerprint + "="}) {
    CAPTURE(typo);
    RunResult bad = run(base + " --host-fingerprint " + quote(typo));
    CHECK(bad.code == 2);
    CHECK(contains(bad.err, "is not a host key fingerprint"));
    CHECK_FALSE(contains(bad.err, "intercepting"));
  }
  CHECK_FALSE(fs::exists(kh));
  // A well-formed fingerprint of another key is the warning of an attack.
  std::string other = fingerprint.substr(0, 49) + (fingerprint.back() == 'A' ? "B" : "A");
  RunResult wrong = run(base + " --host-fingerprint " + quote(other));
  CHECK(wrong.code == kConnection);
  CHECK(contains(wrong.err, "not the one you pinned"));

  RunResult accepted = run(base + " --accept-new-host-key");
  INFO(accepted.err);
  CHECK(accepted.code == 0);
  CHECK(fs::file_size(kh) > 0);
  CHECK(run(base).code == 0);  // known now

  sshd().change_host_key();
  RunResult changed = run(base + " --accept-new-host-key");
  CHECK(changed.code == kConnection);
  CHECK(contains(changed.err, "HAS CHANGED"));
  sshd().trust_host_key();  // leave the shared server usable for later tests
}

TEST_CASE("~/.ssh/config cannot weaken host key checking") {
  TempDir work;
  std::string src = small_tree(work);
  fs::create_directories(work / "fakehome/.ssh");
  std::ofstream(work / "fakehome/.ssh/config") << "Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n";
  RunResult r = run("HOME=" + quote(work / "fakehome") + " FERRY_HOME=" + quote(work / "home") + " " + quote(kFerry) +
                    " backup -i " + quote(sshd().client_key()) + " --port " + std::to_string(sshd().port()) + " " +
                    quote(src) + " " + quote(remote(work / "dest")));
  CHECK(r.code == kConnection);
  CHECK(contains(r.err, "is not known"));
}

TEST_CASE("connection and authentication failures name the cause") {
  TempDir work;
  std::string src = small_tree(work);
  sshd().trust_host_key();

  SUBCASE("nothing listening") {
    std::string cmd = quote(kFerry) + " backup -i " + quote(sshd().client_key()) + " --port " +
                      std::to_string(free_port()) + " " + quote(src) + " " + quote(remote(work / "dest"));
    RunResult r = run("FERRY_HOME=" + quote(work / "home") + " " + cmd);
    CHECK(r.code == kConnection);
    CHECK(contains(r.err, "nothing accepts connections there"));
  }
  SUBCASE("key not installed") {
    run("ssh-keygen -q -t ed25519 -N '' -f " + quote(work / "stranger"));
    RunResult r = run("FERRY_HOME=" + quote(work / "home") + " " + quote(kFerry) + " backup -i " + quote(work / "stranger") +
                      " --port " + std::to_string(sshd().port()) + " --known-hosts " + quote(sshd().known_hosts()) +
                      " " + quote(src) + " " + quote(remote(work / "dest")));
    CHECK(r.code == kConnection);
    CHECK(contains(r.err, "refused key " + work / "stranger"));
  }
  SUBCASE("identity file missing") {
    RunResult r = run("FERRY_HOME=" + quote(work / "home") + " " + quote(kFerry) + " backup -i " + quote(work / "nokey") +
                      " --port " + std::to_string(sshd().port()) + " --known-hosts " + quote(sshd().known_hosts()) +
                      " " + quote(src) + " " + quote(remote(work / "dest")));
    CHECK(r.code == kConnection);
    CHECK(contains(r.err, "cannot use identity " + work / "nokey" + ": it does not exist"));
  }
  SUBCASE("agent not installed on the remote") {
    RunResult r = run(ferry_over_ssh("backup --agent /nonexistent/ferry-agent", work / "home") + " " + quote(src) + " " +
                      quote(remote(work / "dest")));
    INFO(r.err);
    CHECK(r.code == kConnection);
    CHECK(contains(r.err, "found no program `/nonexistent/ferry-agent`"));
    CHECK(contains(r.err, "not installed there"));
    CHECK(contains(r.err, "install-credentials again"));
    CHECK(contains(r.err, "ferry doctor"));
  }
  SUBCASE("an agent speaking another protocol version") {
    RunResult r = run(ferry_over_ssh("backup --agent " + quote(kHostile + " version"), work / "home") + " " +
                      quote(src) + " " + quote(remote(work / "dest")));
    CHECK(r.code == kFatal);
    CHECK(contains(r.err, "speaks protocol " + std::to_string(ferry::wire::kProtocolVersion)));
    CHECK(contains(r.err, "speaks protocol 99"));
  }
  SUBCASE("what the remote writes to its stderr reaches ours escaped") {
    // The remote shell runs "<agent> serve": this agent prints terminal escapes and a forged line.
    std::string agent = "printf '\\033]0;pwned\\007\\033[2J\\rbackup finished OK\\n' >&2; exit 1;";
    RunResult r = run(ferry_over_ssh("backup --agent " + quote(agent), work / "home") + " " + quote(src) + " " +
                      quote(remote(work / "dest")));
    INFO(r.err);
    CHECK(r.code != 0);
    CHECK(r.err.find('\x1b') == std::string::npos);
    CHECK(r.err.find('\x07') == std::string::npos);
    CHECK(r.err.find('\r') == std::string::npos);
    CHECK(contains(r.err, "\\x1b]0;pwned"));
  }
}

TEST_CASE("a ferry without its local ferry-agent names the missing program and the fix") {
  TempDir work;
  std::string src = small_tree(work);
  fs::create_directories(work / "bin");
  fs::copy_file(kFerry, work / "bin/ferry");
  fs::permissions(work / "bin/ferry", fs::perms::owner_all);
  // No ferry-agent beside it, none on the PATH.
  RunResult r = run("PATH=/usr/bin:/bin " + quote(work / "bin/ferry") + " backup " + quote(src) + " " +
                    quote(work / "dest"));
  CHECK(r.code == kConnection);
  CHECK(contains(r.err, "cannot start ferry-agent: it is neither beside ferry (in " + work / "bin" + ") nor on the PATH"));
  CHECK(contains(r.err, "--agent"));
  CHECK_FALSE(contains(r.err, "closed"));

  RunResult named = run(quote(kFerry) + " backup --agent " + quote(work / "no-such-agent") + " " + quote(src) + " " +
                        quote(work / "dest"));
  CHECK(named.code == kConnection);
  CHECK(contains(named.err, "found no program `" + work / "no-such-agent" + "`"));
}

TEST_CASE("a folder backed up into itself, or over its own parent, is refused before anything is written") {
  TempDir work;
  std::string src = small_tree(work);
  auto refused = [&](const std::string& args, const std::string& why) {
    CAPTURE(args);
    RunResult r = run(quote(kFerry) + " " + args);
    CHECK(r.code == 2);
    CHECK(contains(r.err, why));
  };
  refused("backup " + quote(src) + " " + quote(src + "/backup"), "is inside the source");
  CHECK_FALSE(fs::exists(src + "/backup"));
  refused("backup " + quote(src) + " " + quote(src + "/"), "are the same folder");
  fs::create_directories(src + "/inner");
  refused("backup " + quote(src + "/inner") + " " + quote(src), "is inside the destination");
  CHECK_FALSE(fs::exists(src + "/.ferry-state"));
  // Left out by a filter, as rsync users do with a backup of /: allowed, and not copied into itself.
  RunResult excluded = run(quote(kFerry) + " backup --exclude /backup " + quote(src) + " " + quote(src + "/backup"));
  INFO(excluded.err);
  CHECK(excluded.code == 0);
  CHECK_FALSE(fs::exists(src + "/backup/backup"));
}

TEST_CASE("source and destination problems name the path and what to do") {
  TempDir work;
  std::string src = small_tree(work);
  sshd().trust_host_key();
  SUBCASE("missing source") {
    RunResult r = run(ferry_over_ssh("backup", work / "home") + " " + quote(work / "nope") + " " + quote(remote(work / "d")));
    CHECK(r.code == kFatal);
    CHECK(contains(r.err, "source " + work / "nope" + " does not exist"));
  }
  SUBCASE("missing remote parent") {
    RunResult r = run(ferry_over_ssh("backup", work / "home") + " " + quote(src) + " " + quote(remote(work / "no/such/dir")));
    CHECK(r.code == kFatal);
    CHECK(contains(r.err, "its parent directory does not exist"));
  }
  SUBCASE("restore from a path that does not exist") {
    RunResult r = run(ferry_over_ssh("restore", work / "home") + " " + quote(remote(work / "nothing")) + " " + quote(work / "out"));
    CHECK(r.code == kFatal);
    CHECK(contains(r.err, "cannot restore from " + work / "nothing"));
    CHECK_FALSE(fs::exists(work / "out/d"));
  }
  SUBCASE("remote destination not writable by the agent") {
    if (!running_as_root()) return;
    fs::create_directory(work / "locked");
    ::chmod((work / "locked").c_str(), 0755);
    ::chmod(work.path().c_str(), 0755);
    std::string agent = "setpriv --reuid=65534 --regid=65534 --clear-groups " + kAgent;
    RunResult r = run(ferry_over_ssh("backup --agent " + quote(agent), work / "home") + " " + quote(src) + " " +
                      quote(remote(work / "locked")));
    CHECK(r.code == kFatal);
    CHECK(contains(r.err, work / "locked" + " is not writable on the agent's machine (uid 65534)"));
  }
}

TEST_CASE("an unreadable source file is reported and skipped; the rest is copied (partial)") {
  if (!running_as_root()) return;  // root reads everything; drop to nobody to make EACCES happen
  TempDir work;
  std::string src = small_tree(work);
  std::ofstream(src + "/locked") << "private";
  ::chmod((src + "/locked").c_str(), 0000);
  ::chmod(work.path().c_str(), 0777);
  for (const auto& e : fs::recursive_directory_iterator(src)) ::chown(e.path().c_str(), 65534, 65534);
  ::chown(src.c_str(), 65534, 65534);
  ::chown((src + "/locked").c_str(), 0, 0);
  RunResult r = run("setpriv --reuid=65534 --regid=65534 --clear-groups " + quote(kFerry) + " backup --json " +
                    quote(src) + " " + quote(work / "dest"));
  CHECK(r.code == kPartial);
  CHECK(contains(r.err, "cannot open " + src + "/locked: Permission denied"));
  CHECK(json_field(r.out, "errors") == 1);
  CHECK(fs::exists(work / "dest/d/f"));
  CHECK(fs::exists(work / "dest/g"));
  CHECK_FALSE(fs::exists(work / "dest/locked"));
}

TEST_CASE("a connection cut mid-run fails clearly and leaves no half file under its real name") {
  TempDir work;
  std::string src = work / "src";
  fs::create_directories(src);
  {
    std::ofstream big(src + "/big", std::ios::binary);
    std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 1500; ++i) big << chunk;
  }
  std::string agent = "timeout -s KILL 0.4 " + kAgent;
  RunResult r = run(quote(kFerry) + " backup --timeout 10 --agent " + quote(agent) + " " + quote(src) + " " + quote(work / "dest"));
  CHECK(r.code == kConnection);
  CHECK(contains(r.err, "connection to the local ferry-agent"));
  CHECK_FALSE(fs::exists(work / "dest/big"));
}

TEST_CASE("keys the way ssh users keep them: an ssh-agent's key is used; a passphrase is asked on a terminal only") {
  TempDir work;
  std::string src = work / "src", home = work / "home", user_home = work / "user";
  fs::create_directories(src);
  fs::create_directories(user_home);  // no ~/.ssh keys, and FERRY_HOME has none either
  std::ofstream(src + "/f") << "x";
  sshd().trust_host_key();
  std::string options = " --port " + std::to_string(sshd().port()) + " --known-hosts " + quote(sshd().known_hosts());
  std::string ferry = "HOME=" + quote(user_home) + " FERRY_HOME=" + quote(home) + " " + quote(kFerry);

  // The sshd knows client_key; an ssh-agent holds it (as after `ssh-add` at login).
  std::string socket = work / "agent.sock";
  Background agent("ssh-agent -D -a " + quote(socket), work / "agent.log");
  for (int i = 0; i < 100 && !fs::exists(socket); ++i) ::usleep(20 * 1000);
  REQUIRE(fs::exists(socket));
  REQUIRE(run("SSH_AUTH_SOCK=" + quote(socket) + " ssh-add " + quote(sshd().client_key()) + " 2>&1").code == 0);
  RunResult with_agent = run("SSH_AUTH_SOCK=" + quote(socket) + " " + ferry + " backup" + options + " " + quote(src) +
                             " " + quote(remote(work / "dest")) + " </dev/null");
  INFO(with_agent.err);
  CHECK(with_agent.code == 0);
  CHECK(fs::exists(work / "dest/f"));
  RunResult without = run("env -u SSH_AUTH_SOCK " + ferry + " backup" + options + " " + quote(src) + " " +
                          quote(remote(work / "dest2")) + " </dev/null");
  CHECK(without.code == 4);
  CHECK(without.err.find("no SSH key to log in with") != std::string::npos);

  // The same key protected by a passphrase: asked on a terminal, never without one.
  std::string locked = work / "locked_key";
  fs::copy_file(sshd().client_key(), locked);
  REQUIRE(run("ssh-keygen -q -p -P '' -N 'open sesame' -f " + quote(locked)).code == 0);
  std::string with_locked = "env -u SSH_AUTH_SOCK " + ferry + " backup -i " + quote(locked) + options + " " +
                            quote(src) + " " + quote(remote(work / "dest3"));
  RunResult no_terminal = run(with_locked + " </dev/null");
  CHECK(no_terminal.code == 4);
  CHECK(no_terminal.err.find("protected by a passphrase, and there is no terminal to ask for it on") != std::string::npos);
  CHECK(no_terminal.err.find("ssh-add") != std::string::npos);
  RunResult typed = run("python3 " + quote(std::string(FERRY_SOURCE_DIR) + "/tests/support/type_at_prompt.py") +
                        " 'Passphrase for' 'open sesame' -- sh -c " + quote(with_locked));
  INFO(typed.out << typed.err);
  CHECK(typed.code == 0);
  CHECK(typed.out.find("Passphrase for " + locked) != std::string::npos);
  CHECK(fs::exists(work / "dest3/f"));

  // keys create --passphrase: asked twice on a terminal; the key opens with it, and only with it.
  std::string prompt_helper = "python3 " + quote(std::string(FERRY_SOURCE_DIR) + "/tests/support/type_at_prompt.py");
  RunResult made = run(prompt_helper + " 'New passphrase for' 'open sesame' -- sh -c " +
                       quote("FERRY_HOME=" + quote(home) + " " + quote(kFerry) + " keys create --name locked " +
                             "--passphrase --out " + quote(work / "locked.ferrycreds")));
  INFO(made.out);
  REQUIRE(made.code == 0);
  std::string made_key = home + "/keys/locked";
  CHECK(run("ssh-keygen -y -P '' -f " + quote(made_key)).code != 0);
  RunResult opened = run("ssh-keygen -y -P 'open sesame' -f " + quote(made_key));
  CHECK(opened.code == 0);
  CHECK(slurp(made_key + ".pub").starts_with(opened.out.substr(0, opened.out.size() - 1)));
  RunResult no_tty = run("FERRY_HOME=" + quote(home) + " " + quote(kFerry) + " keys create --name other --passphrase </dev/null");
  CHECK(no_tty.code == 2);
  CHECK_FALSE(fs::exists(home + "/keys/other"));
}
