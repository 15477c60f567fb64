// The authorized_keys edits over any file text: the input is who to revoke (up to the first
// newline), then the file. Revoking must take out exactly the Ferry lines it counts, and
// installing a line must leave exactly one line for its client.
#include "keys/authorized_keys.h"

#include <string>

#include "fuzz_input.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  std::string who(in.take_until('\n'));
  std::string_view text = in.rest();

  size_t before = installed_keys(text).size();
  int removed = 0;
  std::string revoked = without_lines_of(text, who, &removed);
  if (installed_keys(revoked).size() + static_cast<size_t>(removed) != before) fuzz::property_failed();

  // A line as authorized_line() writes it, for a client named after the revoked one.
  const std::string client = "fuzz@host";
  const std::string line =
      "restrict,command=\"'/usr/bin/ferry-agent' forced --root '/b' --allow both\" "
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFerryFuzz ferry-credentials:" +
      client + "\n";
  bool replaced = false;
  std::string installed = with_line_installed(text, client, line, &replaced);
  size_t mine = 0;
  for (const InstalledKey& k : installed_keys(installed)) mine += k.client == client;
  if (mine != 1) fuzz::property_failed();
  return 0;
}
