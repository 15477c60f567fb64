#include "client/usage_hints.h"

#include <algorithm>
#include <string_view>

namespace ferry {

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

struct RsyncOption {
  const char* names;  // space-separated, each padded with spaces
  const char* answer;
};

constexpr RsyncOption kRsyncOptions[] = {
    {" -a --archive -r --recursive -l --links -p --perms -t --times -g --group -o --owner -D --devices --specials ",
     "Ferry always copies recursively and keeps what rsync's -a keeps (links, modes, times, owners, devices): "
     "leave it out"},
    {" -H --hard-links -A --acls -X --xattrs --numeric-ids ",
     "Ferry always keeps hard links, ACLs and extended attributes, and owners by number: leave it out"},
    {" -e --rsh ",
     "Ferry connects with its own SSH client: use --port, -i/--identity and --known-hosts, or ssh://user@host:port/path"},
    {" -P --partial --partial-dir --append --append-verify ",
     "Ferry always keeps a cut-off file and resumes it on the next run; for a progress line use --progress"},
    {" --delete-after --delete-during --delete-before --delete-delay ",
     "Ferry's --delete always removes after every new file is in place, into the safety net"},
    {" -c ", "Ferry's option for this is --checksum"},
    {" --fsync ", "Ferry puts every run on disk before it reports success; --no-sync leaves it to the kernel"},
    {" -S --sparse ", "Ferry always keeps holes in sparse files: leave it out"},
};

}  // namespace

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;
  size_t prefixed = 0;
  std::string prefix_match;
  for (const std::string& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
    if (word.size() >= 3 && c.starts_with(word)) {
      ++prefixed;
      prefix_match = c;
    }
  }
  if (best.empty() && prefixed == 1) return prefix_match;
  return best;
}

std::string rsync_option_hint(const std::string& arg) {
  std::string name = arg.substr(0, arg.find('='));
  std::string padded = " " + name + " ";
  for (const RsyncOption& option : kRsyncOptions) {
    if (std::string_view(option.names).find(padded) != std::string_view::npos) {
      return name + " is rsync's: " + option.answer;
    }
  }
  // Bundled short flags as rsync users type them: -av, -avz, -aHAX, -avP.
  if (name.size() > 2 && name[0] == '-' && name[1] != '-' && name.find_first_of("aPHAXe") != std::string::npos) {
    return name + " bundles rsync's flags: Ferry always keeps what -aHAX keeps and resumes cut-off files as -P "
                  "does; of the rest it has -v, -z and -n (bundled as -vz if you like)";
  }
  return "";
}

}  // namespace ferry
