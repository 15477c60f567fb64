// Credentials packages end to end, over the real sshd: a key made by `ferry keys create`,
// installed by `ferry-agent install-credentials` into the sshd's authorized_keys, then used
// (and misused) for real.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "e2e/e2e.h"

namespace ferry::test {
namespace {

namespace fs = std::filesystem;

std::string env(const std::string& home) { return "FERRY_HOME=" + quote(home) + " "; }

RunResult create_key(const std::string& home, const std::string& name, const std::string& out,
                     const std::string& extra = "--type ed25519") {
  return run(env(home) + quote(kFerry) + " keys create --name " + name + " " + extra + " --out " + quote(out));
}

RunResult install(const std::string& package, const std::string& root, const std::string& extra = "") {
  return run(quote(kAgent) + " install-credentials " + quote(package) + " --root " + quote(root) +
             " --authorized-keys " + quote(sshd().authorized_keys()) + " --host-key-dir " + quote(sshd().dir()) +
             " " + extra);
}

// ferry with the key from FERRY_HOME: no -i.
std::string ferry_with_home_key(const std::string& verb, const std::string& home) {
  return env(home) + quote(kFerry) + " " + verb + " --port " + std::to_string(sshd().port()) + " --known-hosts " +
         quote(sshd().known_hosts());
}

// A client with one file to back up and a key "laptop" made in its FERRY_HOME (not installed),
// against the test sshd whose authorized_keys is put back afterwards.
struct KeyedClient {
  KeyedClient() {
    fs::create_directories(src);
    std::ofstream(src + "/f") << "x";
    sshd().trust_host_key();
    REQUIRE(create_key(home, "laptop", work / "laptop.ferrycreds").code == 0);
  }
  AuthorizedKeysGuard guard;
  TempDir work;
  std::string home = work / "home", root = work / "backups", src = work / "src";
};

int count_ferry_lines(const std::string& text) {
  int n = 0;
  for (size_t at = text.find("ferry-credentials:"); at != std::string::npos; at = text.find("ferry-credentials:", at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a credentials package installs a confined key: backup and restore work, nothing else does") {
  AuthorizedKeysGuard guard;
  TempDir work;
  std::string home = work / "home", root = work / "backups", src = work / "src";
  build_full_tree(src);
  sshd().trust_host_key();

  RunResult made = create_key(home, "laptop", work / "laptop.ferrycreds", "");  // RSA 4096, the default
  INFO(made.err);
  REQUIRE(made.code == 0);
  std::string package = slurp(work / "laptop.ferrycreds");
  CHECK(package.find("PRIVATE") == std::string::npos);
  CHECK(package.find("ssh-rsa ") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat((home + "/keys/laptop").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(slurp(home + "/keys/laptop").starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));

  RunResult inst = install(work / "laptop.ferrycreds", root, "--log " + quote(work / "agent.log"));
  INFO(inst.out, inst.err);
  REQUIRE(inst.code == 0);
  std::string keys = slurp(sshd().authorized_keys());
  CHECK(keys.starts_with(guard.saved()));  // the lines that were there, byte for byte
  CHECK(keys.find("restrict,command=") != std::string::npos);
  REQUIRE(::stat(sshd().authorized_keys().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // It prints the host key's fingerprint, for --host-fingerprint on the client.
  std::smatch m;
  REQUIRE(std::regex_search(inst.out, m, std::regex("SHA256:[A-Za-z0-9+/]{43}")));
  // It says where it read them, and which agent program the key will run.
  CHECK(inst.out.find("read from " + sshd().dir()) != std::string::npos);
  CHECK(inst.out.find("The key runs " + fs::canonical(kAgent).string()) != std::string::npos);

  RunResult b = run(ferry_with_home_key("backup", home) + " " + quote(src) + " " + quote(remote(root + "/laptop")));
  INFO(b.err);
  REQUIRE(b.code == 0);
  CHECK(compare(snapshot(src), snapshot(root + "/laptop")) == "");
  CHECK(slurp(work / "agent.log").find("forced command: confined to " + root) != std::string::npos);
  RunResult r = run(ferry_with_home_key("restore", home) + " " + quote(remote(root + "/laptop")) + " " +
                    quote(work / "restored"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(compare(snapshot(src), snapshot(work / "restored")) == "");

  SUBCASE("a backup outside the root is refused, and nothing is created there") {
    RunResult out = run(ferry_with_home_key("backup", home) + " " + quote(src) + " " + quote(remote(work / "elsewhere")));
    CHECK(out.code == 1);
    CHECK(out.err.find("outside the folder this key is confined to") != std::string::npos);
    CHECK_FALSE(fs::exists(work / "elsewhere"));
    RunResult dots = run(ferry_with_home_key("restore", home) + " " + quote(remote(root + "/../src")) + " " +
                         quote(work / "stolen"));
    CHECK(dots.code == 1);
    CHECK_FALSE(fs::exists(work / "stolen/docs"));
  }
  SUBCASE("the key does not give a shell, or run any other command") {
    std::string ssh = "ssh -F /dev/null -i " + quote(home + "/keys/laptop") + " -p " + std::to_string(sshd().port()) +
                      " -o UserKnownHostsFile=" + quote(sshd().dir() + "/openssh_known_hosts") +
                      " -o StrictHostKeyChecking=no -o BatchMode=yes " + sshd().login() + " ";
    RunResult shell = run(ssh + quote("sh -c id"));
    CHECK(shell.code != 0);
    CHECK(shell.out.find("uid=") == std::string::npos);
    CHECK(shell.err.find("may only run Ferry's agent") != std::string::npos);
    RunResult scp_like = run(ssh + quote("cat /etc/passwd"));
    CHECK(scp_like.out.find("root:") == std::string::npos);
  }
  SUBCASE("list shows it; once revoked it can no longer log in") {
    RunResult list = run(quote(kAgent) + " list-credentials --authorized-keys " + quote(sshd().authorized_keys()));
    CHECK(list.out.find("laptop@") != std::string::npos);
    CHECK(list.out.find(root) != std::string::npos);
    RunResult revoke = run(quote(kAgent) + " revoke-credentials laptop --authorized-keys " + quote(sshd().authorized_keys()));
    CHECK(revoke.code == 0);
    CHECK(slurp(sshd().authorized_keys()) == guard.saved());
    RunResult denied = run(ferry_with_home_key("backup", home) + " " + quote(src) + " " + quote(remote(root + "/laptop")));
    CHECK(denied.code == 4);
    CHECK(denied.err.find("key") != std::string::npos);
  }
}

TEST_CASE("reinstalling replaces a client's line; several clients coexist; a bad package changes nothing") {
  AuthorizedKeysGuard guard;
  TempDir work;
  std::string root = work / "backups";
  REQUIRE(create_key(work / "home-a", "laptop", work / "a.ferrycreds").code == 0);
  REQUIRE(install(work / "a.ferrycreds", root).code == 0);
  REQUIRE(install(work / "a.ferrycreds", root).code == 0);
  CHECK(count_ferry_lines(slurp(sshd().authorized_keys())) == 1);

  RunResult again = create_key(work / "home-a", "laptop", work / "a2.ferrycreds", "--type ed25519 --replace");
  REQUIRE(again.code == 0);
  RunResult renewed = install(work / "a2.ferrycreds", root);
  CHECK(renewed.out.find("Replaced") != std::string::npos);
  std::string keys = slurp(sshd().authorized_keys());
  CHECK(count_ferry_lines(keys) == 1);
  std::string new_key = slurp(work / "home-a/keys/laptop.pub").substr(0, 60);
  CHECK(keys.find(new_key.substr(12)) != std::string::npos);

  REQUIRE(create_key(work / "home-b", "desktop", work / "b.ferrycreds").code == 0);
  REQUIRE(install(work / "b.ferrycreds", root).code == 0);
  keys = slurp(sshd().authorized_keys());
  CHECK(count_ferry_lines(keys) == 2);

  std::string damaged = slurp(work / "b.ferrycreds");
  damaged[damaged.find("host: ") + 7] ^= 0x04;
  std::ofstream(work / "damaged.ferrycreds", std::ios::binary) << damaged;
  RunResult bad = install(work / "damaged.ferrycreds", root);
  CHECK(bad.code == 1);
  CHECK(bad.err.find("checksum does not match") != std::string::npos);
  std::ofstream(work / "cut.ferrycreds", std::ios::binary) << damaged.substr(0, damaged.size() / 2);
  RunResult cut = install(work / "cut.ferrycreds", root);
  CHECK(cut.code == 1);
  CHECK(cut.err.find("truncated") != std::string::npos);
  CHECK(slurp(sshd().authorized_keys()) == keys);
}

TEST_CASE("a backup-only key writes backups but cannot read them back") {
  AuthorizedKeysGuard guard;
  TempDir work;
  std::string home = work / "home", root = work / "backups", src = work / "src";
  fs::create_directories(src);
  std::ofstream(src + "/secret.txt") << "bank details";
  sshd().trust_host_key();
  REQUIRE(create_key(home, "laptop", work / "p.ferrycreds").code == 0);
  REQUIRE(install(work / "p.ferrycreds", root, "--allow backup").code == 0);
  RunResult b = run(ferry_with_home_key("backup", home) + " " + quote(src) + " " + quote(remote(root + "/l")));
  INFO(b.err);
  CHECK(b.code == 0);
  RunResult r = run(ferry_with_home_key("restore", home) + " " + quote(remote(root + "/l")) + " " + quote(work / "out"));
  CHECK(r.code == 1);
  CHECK(r.err.find("may only make backups") != std::string::npos);
  CHECK_FALSE(fs::exists(work / "out/secret.txt"));
  // It may verify what it wrote: the answer is names, metadata and hashes, never the data.
  RunResult v = run(ferry_with_home_key("verify --json", home) + " " + quote(remote(root + "/l")));
  INFO(v.err);
  CHECK(v.code == 0);
  CHECK(v.out.find("\"status\":\"ok\"") != std::string::npos);
  CHECK(v.out.find("bank details") == std::string::npos);
}

TEST_CASE("an append-only key cannot destroy: its deletions and replacements always go to the safety net") {
  AuthorizedKeysGuard guard;
  TempDir work;
  std::string home = work / "home", root = work / "backups", src = work / "src", dest = root + "/l";
  fs::create_directories(src);
  std::ofstream(src + "/keep.txt") << "version 1";
  std::ofstream(src + "/doomed.txt") << "deleted by a stolen key";
  sshd().trust_host_key();
  REQUIRE(create_key(home, "laptop", work / "p.ferrycreds").code == 0);
  RunResult inst = install(work / "p.ferrycreds", root, "--allow backup --append-only");
  REQUIRE(inst.code == 0);
  CHECK(inst.out.find("Append-only") != std::string::npos);
  CHECK(run(quote(kAgent) + " list-credentials --authorized-keys " + quote(sshd().authorized_keys())).out.find(
            "append-only") != std::string::npos);
  REQUIRE(run(ferry_with_home_key("backup", home) + " " + quote(src) + " " + quote(remote(dest))).code == 0);
  fs::create_directories(dest + "/.ferry-safetynet/2020-01-01T00-00-00Z");  // an old folder to prune

  // What a client that wants to wipe the history would ask for.
  fs::remove(src + "/doomed.txt");
  std::ofstream(src + "/keep.txt") << "version 2, overwritten";
  RunResult b = run(ferry_with_home_key("backup --delete --no-safety-net --safety-net-keep 1h", home) + " " +
                    quote(src) + " " + quote(remote(dest)));
  INFO(b.err);
  CHECK(b.code == 0);
  CHECK(b.err.find("this key is append-only") != std::string::npos);
  CHECK_FALSE(fs::exists(dest + "/doomed.txt"));
  CHECK(fs::exists(dest + "/.ferry-safetynet/2020-01-01T00-00-00Z"));
  int kept = 0;
  for (const auto& e : fs::directory_iterator(dest + "/.ferry-safetynet")) {
    if (fs::exists(e.path() / "doomed.txt") && slurp(e.path() / "keep.txt") == "version 1") ++kept;
  }
  CHECK(kept == 1);
}

TEST_CASE("--host-fingerprint pins the host key on first contact") {
  TempDir work;
  std::string src = work / "src";
  fs::create_directories(src);
  std::ofstream(src + "/f") << "x";
  std::string pub = slurp(sshd().dir() + "/host_key.pub");
  std::string right = run("ssh-keygen -lf " + quote(sshd().dir() + "/host_key.pub") + " | cut -d' ' -f2").out;
  right.erase(right.find_last_not_of("\n") + 1);
  REQUIRE(right.starts_with("SHA256:"));
  std::string base = "FERRY_HOME=" + quote(work / "home") + " " + quote(kFerry) + " backup -i " +
                     quote(sshd().client_key()) + " --port " + std::to_string(sshd().port()) + " ";

  RunResult wrong = run(base + "--host-fingerprint SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA " + quote(src) +
                        " " + quote(remote(work / "dst")));
  CHECK(wrong.code == 4);
  CHECK(wrong.err.find("not the one you pinned") != std::string::npos);
  CHECK_FALSE(fs::exists(work / "home/known_hosts"));

  RunResult pinned = run(base + "--host-fingerprint " + right + " " + quote(src) + " " + quote(remote(work / "dst")));
  INFO(pinned.err);
  CHECK(pinned.code == 0);
  RunResult later = run(base + quote(src) + " " + quote(remote(work / "dst")));  // now known
  CHECK(later.code == 0);
}

TEST_CASE("a key whose agent program was moved away is named, with the fix, by backup and by doctor") {
  KeyedClient client;
  const TempDir& work = client.work;
  const std::string &home = client.home, &root = client.root, &src = client.src;
  // The agent the key runs is a copy that is then removed, as an upgrade to another prefix does.
  fs::create_directories(work / "old");
  std::string moved = work / "old/ferry-agent";
  fs::copy_file(kAgent, moved);
  RunResult inst = install(work / "laptop.ferrycreds", root, "--agent-path " + quote(moved));
  REQUIRE(inst.code == 0);
  CHECK(inst.out.find("The key runs " + moved) != std::string::npos);
  fs::remove(moved);

  RunResult b = run(ferry_with_home_key("backup", home) + " " + quote(src) + " " + quote(remote(root + "/laptop")));
  CHECK(b.code == 4);
  CHECK(b.err.find("runs " + moved) != std::string::npos);
  CHECK(b.err.find("which is not there") != std::string::npos);
  CHECK(b.err.find("install-credentials") != std::string::npos);

  RunResult d = run(ferry_with_home_key("doctor", home) + " " + quote(remote(root + "/laptop")));
  INFO(d.out << d.err);
  CHECK(d.code != 0);
  CHECK(d.out.find("[FAIL] agent: the key this ferry logged in with runs " + moved) != std::string::npos);
  CHECK(d.out.find("fix: on the backup machine, run `ferry-agent install-credentials") != std::string::npos);
}

TEST_CASE("a plain user's --root it may not create is refused naming who must create it, and how") {
  if (!running_as_root()) return;  // runs the agent as nobody
  TempDir work;
  ::chmod(work.path().c_str(), 0755);  // root's folder: nobody may read in it, not create
  REQUIRE(create_key(work / "home", "laptop", work / "laptop.ferrycreds").code == 0);
  ::chmod((work / "laptop.ferrycreds").c_str(), 0644);
  std::string root = work / "backups/laptop";
  RunResult inst = run("setpriv --reuid=nobody --regid=nogroup --clear-groups " + quote(kAgent) +
                       " install-credentials " + quote(work / "laptop.ferrycreds") + " --root " + quote(root) +
                       " --authorized-keys " + quote(work / "nobody_keys"));
  INFO(inst.out << inst.err);
  CHECK(inst.code == 1);
  CHECK(inst.err.find("nobody may not create it there") != std::string::npos);
  CHECK(inst.err.find("sudo mkdir -p " + root + " && sudo chown nobody " + root) != std::string::npos);
  CHECK_FALSE(fs::exists(work / "nobody_keys"));  // nothing installed
}

TEST_CASE("a second key in FERRY_HOME does not lock a client out: each key is tried, and the accepted one remembered") {
  KeyedClient client;
  const TempDir& work = client.work;
  const std::string &home = client.home, &root = client.root, &src = client.src;
  REQUIRE(install(work / "laptop.ferrycreds", root).code == 0);
  // A second key, made later, that sorts before the first and that no host knows yet.
  REQUIRE(create_key(home, "default", work / "default.ferrycreds").code == 0);
  RunResult listed = run(env(home) + quote(kFerry) + " keys list");
  CHECK(listed.out.starts_with("* default "));  // tried first
  CHECK(listed.out.find("  laptop ") != std::string::npos);

  RunResult b = run(ferry_with_home_key("backup", home) + " " + quote(src) + " " + quote(remote(root + "/laptop")));
  INFO(b.err);
  CHECK(b.code == 0);
  CHECK(fs::exists(root + "/laptop/f"));
  // The host accepted the second key tried: it is offered first next time.
  CHECK(slurp(home + "/identities") == "127.0.0.1:" + std::to_string(sshd().port()) + " " + home + "/keys/laptop\n");

  // A host that knows none of them names every key refused.
  fs::remove(home + "/identities");
  REQUIRE(run(quote(kAgent) + " revoke-credentials laptop --authorized-keys " + quote(sshd().authorized_keys())).code == 0);
  RunResult refused = run(ferry_with_home_key("backup", home) + " " + quote(src) + " " + quote(remote(root + "/laptop")));
  CHECK(refused.code == 4);
  CHECK(refused.err.find("refused every key (" + home + "/keys/default, " + home + "/keys/laptop") != std::string::npos);
}

TEST_CASE("host:path without a leading slash is under a confined key's root, or the remote home; '..' cannot leave") {
  KeyedClient client;
  const TempDir& work = client.work;
  const std::string &home = client.home, &root = client.root, &src = client.src;
  REQUIRE(install(work / "laptop.ferrycreds", root).code == 0);
  RunResult b = run(ferry_with_home_key("backup", home) + " " + quote(src) + " " + remote("Documents"));
  INFO(b.err);
  CHECK(b.code == 0);
  CHECK(fs::exists(root + "/Documents/f"));  // under the key's root
  RunResult out = run(ferry_with_home_key("backup", home) + " " + quote(src) + " " + remote("../escaped"));
  CHECK(out.code != 0);
  CHECK_FALSE(fs::exists(work / "escaped"));

  // A key that is not confined: under the home of the user the agent runs as.
  std::string remote_home = work / "remote-home";
  fs::create_directories(remote_home);
  RunResult unconfined = run(ferry_over_ssh("backup --agent " + quote("env HOME=" + remote_home + " " + kAgent), home) +
                             " " + quote(src) + " " + remote("laptop"));
  INFO(unconfined.err);
  CHECK(unconfined.code == 0);
  CHECK(fs::exists(remote_home + "/laptop/f"));
}

}  // namespace ferry::test
