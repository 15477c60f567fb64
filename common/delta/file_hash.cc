#include "delta/file_hash.h"

#include <algorithm>

#include <unistd.h>

#include <cerrno>

#include "base/bytes.h"
#include "base/page_buffer.h"
#include "base/read_to_end.h"

namespace ferry {

void FileHasher::update_zeros(uint64_t len) {
  static const char kZeros[64 * 1024] = {};
  while (len > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, sizeof kZeros));
    update(kZeros, n);
    len -= n;
  }
}

std::string hash_whole_file(int fd) {
  FileHasher hasher;
  PageBuffer buf(wire::kDataChunkBytes);
  if (!read_to_end(fd, buf, [&](const char* data, size_t len) { hasher.update(data, len); })) return "";
  Hash128 digest = hasher.digest();
  return std::string(as_chars(digest));
}

}  // namespace ferry
