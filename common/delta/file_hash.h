// The whole-file hash that proves a reconstructed file equals the sender's: XXH3-128.
//
// Why XXH3-128: it runs at memory bandwidth (tens of GB/s with SSE2/AVX2), far faster than the
// SSH channel, so verification never limits a transfer; 128 bits make an accidental collision
// negligible (rsync 3.2+ negotiates the same). It is not a MAC and need not be: the SSH channel
// already authenticates every byte; this hash catches our own bugs, a basis that changed
// underneath us, and weak+strong block-hash collisions.
#pragma once

#include <xxhash.h>

#include <cstddef>
#include <string>

#include "protocol/messages.h"

namespace ferry {

class FileHasher {
 public:
  FileHasher() : state_(XXH3_createState()) { reset(); }
  ~FileHasher() { XXH3_freeState(state_); }
  FileHasher(const FileHasher&) = delete;
  FileHasher& operator=(const FileHasher&) = delete;

  void reset() { XXH3_128bits_reset(state_); }
  void update(const void* data, size_t len) { XXH3_128bits_update(state_, data, len); }
  // `len` zero bytes: a hole, hashed as the zeros it reads as.
  void update_zeros(uint64_t len);
  Hash128 digest() const {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(state_));
    Hash128 out;
    for (size_t i = 0; i < out.size(); ++i) out[i] = c.digest[i];
    return out;
  }

 private:
  XXH3_state_t* state_;
};

// The XXH3-128 of everything read from fd to its end, as 16 raw bytes (--checksum compares
// these); "" on a read error.
std::string hash_whole_file(int fd);

}  // namespace ferry
