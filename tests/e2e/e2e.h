// Shared pieces of the end-to-end tests: the real binaries, one real sshd for the whole run,
// and a tree that holds every case Ferry must preserve.
#pragma once

#include <sys/types.h>

#include <string>

#include "client/ssh_session.h"
#include "support/dirty_pages.h"
#include "support/run.h"
#include "support/sshd_fixture.h"
#include "support/temp_dir.h"
#include "support/tree_snapshot.h"

namespace ferry::test {

inline const std::string kBin = FERRY_BIN_DIR;
inline const std::string kFerry = kBin + "/ferry";
inline const std::string kAgent = kBin + "/ferry-agent";
inline const std::string kHostile = kBin + "/hostile_peer";

// The sshd every e2e test shares, started on first use.
Sshd& sshd();

// "ferry VERB" with the key, port and known_hosts of sshd(); FERRY_HOME points into dir.
std::string ferry_over_ssh(const std::string& verb, const std::string& home);
// "user@127.0.0.1:" + path
std::string remote(const std::string& path);

// What SshSession needs to log in to sshd() as the current user, its host key trusted.
SshOptions ssh_options_for_test_sshd();

bool running_as_root();

// Fills root with every kind of entry, name and metadata Ferry must carry.
void build_full_tree(const std::string& root);

// Writes `size` pseudo-random bytes (the same for the same seed) to path.
void write_random(const std::string& path, size_t size, unsigned seed);

// A pid that certainly belongs to no process: a child we started and reaped.
pid_t dead_pid();

// Reads one integer field from the --json line in out; -1 if missing.
long long json_field(const std::string& out, const std::string& field);

// Puts sshd's authorized_keys back as it was (content and mode) when the test ends.
class AuthorizedKeysGuard {
 public:
  AuthorizedKeysGuard();
  ~AuthorizedKeysGuard();
  const std::string& saved() const { return saved_; }

 private:
  std::string saved_;
};

}  // namespace ferry::test
