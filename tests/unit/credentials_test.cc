// Credentials packages, the authorized_keys edits, and the forced command's gate: pure text and
// path logic, tested without sshd (the e2e tests cover the same over a real one).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "keys/authorized_keys.h"
#include "keys/credentials_package.h"
#include "keys/openssh_key.h"
#include "server/confinement.h"
#include "support/temp_dir.h"

using namespace ferry;

namespace {

CredentialsPackage sample_package(const std::string& name = "laptop") {
  KeyPair pair = generate_key_pair("ed25519", 0, "test");
  CredentialsPackage p;
  p.name = name;
  p.host = "anns-mac";
  p.created = "2026-11-29T12:00:00Z";
  p.key_type = pair.type;
  p.key_base64 = pair.public_base64;
  p.fingerprint = key_fingerprint(p.key_base64);
  return p;
}

std::string error_of(std::string_view text) {
  try {
    parse_package(text);
  } catch (const FatalError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a package round-trips, also after a trip through a CRLF mailer") {
  CredentialsPackage p = sample_package();
  std::string text = format_package(p);
  CredentialsPackage back = parse_package(text);
  CHECK(back.client_id() == "laptop@anns-mac");
  CHECK(back.key_base64 == p.key_base64);
  CHECK(back.fingerprint == p.fingerprint);
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  CHECK(parse_package(crlf).fingerprint == p.fingerprint);
}

TEST_CASE("damaged, truncated and foreign packages are refused, each with its reason") {
  std::string text = format_package(sample_package());
  for (size_t n = 0; n < text.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(error_of(text.substr(0, n)).empty());
  }
  std::string flipped = text;
  flipped[text.find("host: ") + 6] ^= 0x01;
  CHECK(error_of(flipped).find("checksum does not match") != std::string::npos);
  CHECK(error_of("#!/bin/sh\nrm -rf /\n").find("does not start with") != std::string::npos);
  CHECK(error_of(text.substr(0, text.size() - 10)).find("truncated") != std::string::npos);
  std::string future = text;
  future.replace(future.find(" 1\n"), 3, " 9\n");
  CHECK(error_of(future).find("format version 9") != std::string::npos);
  CHECK(error_of(text).empty());
}

TEST_CASE("a package whose fingerprint does not match its key is refused") {
  CredentialsPackage p = sample_package();
  p.fingerprint = sample_package().fingerprint;  // another key's
  CHECK(error_of(format_package(p)).find("fingerprint does not match") != std::string::npos);
}

TEST_CASE("installing keeps every other line byte for byte and replaces the same client's line") {
  CredentialsPackage a = sample_package("laptop"), b = sample_package("desktop");
  InstallRules rules{"/usr/bin/ferry-agent", "/backups/ann", Allow::kBoth, ""};
  const std::string before = "# my keys\nssh-ed25519 AAAAother user@box\n\ncommand=\"x\" ssh-rsa AAAAyy  spaced  ";
  bool replaced = true;
  std::string once = with_line_installed(before, a.client_id(), authorized_line(a, rules), &replaced);
  CHECK_FALSE(replaced);
  CHECK(once.starts_with(before + "\n"));  // a missing final newline is added, nothing else touched
  std::string twice = with_line_installed(once, a.client_id(), authorized_line(a, rules), &replaced);
  CHECK(replaced);
  CHECK(twice == once);
  CredentialsPackage a2 = sample_package("laptop");  // regenerated on the same client
  std::string renewed = with_line_installed(twice, a2.client_id(), authorized_line(a2, rules), &replaced);
  CHECK(installed_keys(renewed).size() == 1);
  CHECK(installed_keys(renewed)[0].fingerprint == a2.fingerprint);
  std::string both = with_line_installed(renewed, b.client_id(), authorized_line(b, rules), &replaced);
  auto keys = installed_keys(both);
  REQUIRE(keys.size() == 2);
  CHECK(keys[1].client == "desktop@anns-mac");
  CHECK(keys[1].root == "/backups/ann");
  CHECK(keys[1].allow == "both");

  int removed = 0;
  std::string revoked = without_lines_of(both, a2.fingerprint, &removed);
  CHECK(removed == 1);
  CHECK(installed_keys(revoked).size() == 1);
  revoked = without_lines_of(revoked, "desktop", &removed);
  CHECK(removed == 1);
  CHECK(revoked == before + "\n");
  CHECK_THROWS_AS(authorized_line(a, InstallRules{"/usr/bin/ferry-agent", "/backups/it's", Allow::kBoth, ""}), FatalError);
  CHECK_THROWS_AS(authorized_line(a, InstallRules{"/usr/bin/ferry-agent", "relative", Allow::kBoth, ""}), FatalError);
  std::string logged = authorized_line(a, InstallRules{"/usr/bin/ferry-agent", "/b", Allow::kBackup, "/var/log/ferry.log"});
  CHECK(logged.starts_with("restrict,command=\"'/usr/bin/ferry-agent' forced --root '/b' --allow backup --log "
                           "'/var/log/ferry.log'\" ssh-ed25519 "));
  CHECK_THROWS_AS(authorized_line(a, InstallRules{"/usr/bin/ferry-agent", "/b", Allow::kBoth, "log.txt"}), FatalError);
}

TEST_CASE("the forced command lets only Ferry's agent through") {
  CHECK(check_forced_command("ferry-agent serve").verbosity == 0);
  CHECK(check_forced_command("/opt/ferry/bin/ferry-agent serve -v").verbosity == 1);
  CHECK(check_forced_command("ferry-agent serve --streams 4").streams == 4);
  CHECK(check_forced_command("ferry-agent serve").streams == 1);
  CHECK(check_forced_command("ferry-agent join").join);
  CHECK(!check_forced_command("ferry-agent serve").join);
  for (const char* bad : {"", "sh -c id", "scp -t /etc", "internal-sftp", "ferry-agent install-credentials x",
                          "ferry-agent serve; sh", "ferry-agent-evil serve", "ferry-agent serve --log /etc/passwd",
                          "ferry-agent serve --streams 9", "ferry-agent serve --streams 1", "ferry-agent serve --streams",
                          "ferry-agent serve --streams 2 --streams 3", "ferry-agent join x", "ferry-agent join --log /x"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(check_forced_command(bad), FatalError);
  }
}

TEST_CASE("a confined key stays under its root, through symlinks too") {
  test::TempDir dir;
  std::string root = dir / "root";
  std::filesystem::create_directories(root + "/laptop");
  std::filesystem::create_symlink("/etc", root + "/laptop/escape");
  Confinement rules{root, true, false};
  Open open;
  open.path = root + "/laptop";
  CHECK_NOTHROW(check_confinement(open, rules));
  open.path = root + "/new/deeper";  // not there yet: fine, it will be created under the root
  CHECK_NOTHROW(check_confinement(open, rules));
  for (std::string bad : {root + "/../elsewhere", root + "x", std::string("/etc"), root + "/laptop/escape",
                          root + "/laptop/escape/sub"}) {
    CAPTURE(bad);
    open.path = bad;
    CHECK_THROWS_AS(check_confinement(open, rules), FatalError);
  }
  open.path = root + "/laptop";
  open.operation = wire::Operation::kRestore;
  CHECK_THROWS_WITH(check_confinement(open, rules),
                    doctest::Contains("this key may only make backups"));
  // Listing a store reads it as a restore does; forgetting removes backed-up data.
  for (wire::Operation reads : {wire::Operation::kSnapshots, wire::Operation::kList}) {
    open.operation = reads;
    CHECK_THROWS_WITH(check_confinement(open, rules), doctest::Contains("listing refused"));
  }
  open.operation = wire::Operation::kForget;
  CHECK_NOTHROW(check_confinement(open, rules));
  Confinement restore_only{root, false, true};
  CHECK_THROWS_WITH(check_confinement(open, restore_only), doctest::Contains("forget refused"));
  Confinement append_only{root, true, true, true};
  CHECK_THROWS_WITH(check_confinement(open, append_only), doctest::Contains("this key is append-only"));
  open.operation = wire::Operation::kList;
  CHECK_NOTHROW(check_confinement(open, append_only));
}

TEST_CASE("a confined destination is opened by fd from the root: a folder swapped for a symlink after the check is refused") {
  test::TempDir dir;
  std::string root = dir / "root";
  std::string outside = dir / "outside";
  std::filesystem::create_directories(root + "/laptop/docs");
  std::filesystem::create_directories(outside);
  Confinement rules{root, true, true};
  Open open;
  open.path = root + "/laptop/docs";
  CHECK_NOTHROW(check_confinement(open, rules));
  {
    UniqueFd fd = open_confined(open, rules, /*create=*/true);
    REQUIRE(fd.valid());
    struct stat by_fd {}, by_path {};
    REQUIRE(::fstat(fd.get(), &by_fd) == 0);
    REQUIRE(::stat(open.path.c_str(), &by_path) == 0);
    CHECK(by_fd.st_ino == by_path.st_ino);
  }
  // Another session of the same key replaces a folder on the way with a link out, between
  // this session's check and its open: in the middle of the path, and as the last component.
  std::filesystem::rename(root + "/laptop", root + "/laptop.old");
  std::filesystem::create_symlink(outside, root + "/laptop");
  CHECK_THROWS_WITH(open_confined(open, rules, true), doctest::Contains("a symlink is in the way"));
  open.path = root + "/laptop";
  CHECK_THROWS_AS(open_confined(open, rules, false), FatalError);
  open.path = root + "/laptop/new";
  CHECK_THROWS_AS(open_confined(open, rules, true), FatalError);
  CHECK(std::filesystem::is_empty(outside));  // nothing was created through the link
  // A key that is not confined gets no fd: the agent opens its path as given.
  CHECK_FALSE(open_confined(open, Confinement{}, true).valid());
}

TEST_CASE("authorized_keys is never read or written through a symlink") {
  test::TempDir dir;
  std::string secret = dir / "secret";
  std::ofstream(secret) << "root:$6$hash:::\n";
  std::string keys = dir / "authorized_keys";
  std::filesystem::create_symlink(secret, keys);
  CHECK_THROWS_WITH(read_authorized_keys(keys), doctest::Contains("is a symlink"));
  std::ofstream(dir / "real") << "ssh-ed25519 AAAA x\n";
  CHECK(read_authorized_keys(dir / "real") == "ssh-ed25519 AAAA x\n");
  CHECK(read_authorized_keys(dir / "missing").empty());
}
