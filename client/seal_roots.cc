#include "client/seal_roots.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "client/ferry_home.h"

namespace ferry {

namespace {

// Destinations are paths: arbitrary bytes. Spaces, control bytes and '%' are escaped so a
// line always splits into its four fields.
std::string escape(const std::string& text) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (c <= 0x20 || c == '%' || c == 0x7f) {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Calls `each(root, entries, id, destination)` for each well-formed line.
template <typename Each>
void read_lines(const std::string& path, Each each) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string root_hex, entries, id, destination;
    if (!(fields >> root_hex >> entries >> id >> destination)) continue;  // a torn last line
    RememberedSeal seal;
    if (!digest_from_hex(root_hex, &seal.root)) continue;
    try {
      seal.entries = std::stoull(entries);
    } catch (const std::exception&) {
      continue;
    }
    if (each(seal, id, destination)) return;
  }
}

}  // namespace

SealRoots::SealRoots(std::string path) : path_(std::move(path)) {}

void SealRoots::remember(const std::string& destination, const std::string& id, const Sha256Digest& root,
                         uint64_t entries) const {
  std::string line = hex_of(root) + " " + std::to_string(entries) + " " + escape(id) + " " + escape(destination) + "\n";
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw FatalError(errno_message("cannot record the seal's root in " + path_, errno));
  // One write: O_APPEND keeps concurrent runs' lines whole, and a line starts after a torn one
  // only if it begins with a newline of its own, which read_lines tolerates either way.
  ssize_t n = ::write(fd, line.data(), line.size());
  int err = errno;
  if (n == static_cast<ssize_t>(line.size()) && ::fsync(fd) != 0) err = errno, n = -1;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    throw FatalError(errno_message("cannot record the seal's root in " + path_, n < 0 ? err : EIO));
  }
}

std::optional<RememberedSeal> SealRoots::find(const std::string& destination, const std::string& id) const {
  std::optional<RememberedSeal> found;
  std::string want_id = escape(id), want_destination = escape(destination);
  read_lines(path_, [&](const RememberedSeal& seal, const std::string& line_id, const std::string& line_destination) {
    if (line_id == want_id && line_destination == want_destination) found = seal;  // the last one counts
    return false;
  });
  return found;
}

bool SealRoots::knows(const std::string& destination) const {
  bool known = false;
  std::string want = escape(destination);
  read_lines(path_, [&](const RememberedSeal&, const std::string&, const std::string& line_destination) {
    known = line_destination == want;
    return known;
  });
  return known;
}

std::string default_seal_roots() { return ferry_home() + "/seals"; }

}  // namespace ferry
