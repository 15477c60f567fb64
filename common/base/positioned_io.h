// The loops that move a whole span at a file offset. pread(2) and pwrite(2) may move fewer
// bytes than asked (a signal, a full disk reached mid-span, the end of the file); every caller
// that wants the whole span goes through these, so the retry rules live in one place.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace ferry {

// Writes all `len` bytes at `offset`. Returns 0, or the errno of the failing write
// (EIO for a write that moved nothing without one).
int pwrite_full(int fd, const void* data, size_t len, uint64_t offset);

// Reads up to `len` bytes at `offset`, stopping early only at the end of the file.
// Returns the bytes read, or -1 with errno set.
ssize_t pread_full(int fd, void* data, size_t len, uint64_t offset);

}  // namespace ferry
