#include <doctest/doctest.h>

#include "base/error.h"
#include "client/remote_spec.h"

using namespace ferry;

TEST_CASE("scp-style remotes") {
  Location l = parse_location("ann@backup.lan:/srv/backups/mac");
  CHECK(l.remote);
  CHECK(l.user == "ann");
  CHECK(l.host == "backup.lan");
  CHECK(l.port == 0);
  CHECK(l.path == "/srv/backups/mac");

  Location v6 = parse_location("root@[::1]:/b");
  CHECK(v6.remote);
  CHECK(v6.host == "::1");
  CHECK(v6.path == "/b");
  CHECK(v6.display() == "root@[::1]:/b");

  Location nouser = parse_location("host:/x");
  CHECK(nouser.user.empty());
}

TEST_CASE("URL-style remotes with ports and IPv6") {
  Location l = parse_location("ssh://root@127.0.0.1:2222/backups/mac/Users/ann");
  CHECK(l.remote);
  CHECK(l.user == "root");
  CHECK(l.host == "127.0.0.1");
  CHECK(l.port == 2222);
  CHECK(l.path == "/backups/mac/Users/ann");

  Location v6 = parse_location("ssh://[fe80::1]:22/p");
  CHECK(v6.host == "fe80::1");
  CHECK(v6.port == 22);
  Location noport = parse_location("ssh://h/p");
  CHECK(noport.port == 0);
}

TEST_CASE("local paths, including ones with colons after a slash") {
  for (const char* p : {"/Volumes/Backup", "./a:b", "/x/a:b", "relative", "dir/sub"}) {
    CAPTURE(p);
    Location l = parse_location(p);
    CHECK_FALSE(l.remote);
    CHECK(l.path == p);
  }
}

TEST_CASE("malformed remotes are usage errors that say why") {
  auto why = [](const char* spec) {
    try {
      parse_location(spec);
    } catch (const FatalError& e) {
      CHECK(e.code() == ExitCode::kUsage);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(parse_location("host:relative/dir").path == "relative/dir");  // under the remote home
  CHECK(parse_location("ann@host:").path == ".");
  CHECK(why("ssh://h:99999/p") == "invalid location \"ssh://h:99999/p\": port must be a number from 1 to 65535");
  CHECK(why("ssh://h:x/p") == "invalid location \"ssh://h:x/p\": port must be a number from 1 to 65535");
  CHECK(why("ssh://[::1/p") == "invalid location \"ssh://[::1/p\": '[' without ']' around the IPv6 address");
  CHECK(why(":/p") == "invalid location \":/p\": empty host name");
  CHECK(why("@h:/p") == "invalid location \"@h:/p\": empty user name before '@'");
  CHECK(why("ssh://h") == "invalid location \"ssh://h\": the remote path must be absolute (ssh://host/abs/path)");
}
