// The one loop that reads a file to its end in pieces: for the hashes that read whole files
// (XXH3 for --checksum, the seal's content hash, both at once for a sealed --checksum run).
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "base/page_buffer.h"

namespace ferry {

// Reads fd from its current offset to its end through `buf`, handing each piece to
// `piece(const char* data, size_t len)`. False on a read error, errno as read() left it.
template <typename Piece>
bool read_to_end(int fd, PageBuffer& buf, Piece&& piece) {
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    piece(static_cast<const char*>(buf.data()), static_cast<size_t>(n));
  }
}

}  // namespace ferry
