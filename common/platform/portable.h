// Helpers the backends share; not part of the seam the rest of Ferry calls.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "platform/platform.h"
#include "protocol/file_entry.h"

namespace ferry::platform {

// Whether an attribute of this name travels with a file (each backend's rule; never Ferry's own).
bool carries_xattr(std::string_view name);
// Listing helpers: Ferry's own attribute (`ours`) goes to *stored, the rest to *out.
void keep_listed(std::string name, std::string value, bool ours, std::vector<Xattr>* out, std::string* stored);
void sort_by_name(std::vector<Xattr>* xattrs);

// Reads a value whose size may have to be asked first (the xattr calls): get(buf, size) gives
// the bytes, or ERANGE when they do not fit, and get(nullptr, 0) their size. Most values fit
// 256 bytes, so that is tried first: one call instead of two (each one a path lookup when the
// object is named by a path). False with errno set.
template <typename Get>
bool read_sized(Get get, std::string* value) {
  value->resize(256);
  ssize_t first = get(value->data(), value->size());
  if (first >= 0) {
    value->resize(static_cast<size_t>(first));
    return true;
  }
  if (errno != ERANGE) return false;
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t n = get(nullptr, 0);
    if (n < 0) return false;
    value->resize(static_cast<size_t>(n));
    n = get(value->data(), value->size());
    if (n >= 0) {
      value->resize(static_cast<size_t>(n));
      return true;
    }
    if (errno != ERANGE) return false;
  }
  return false;
}

// The attributes named in a NUL-separated list (what listxattr gives) that Ferry carries, read
// with get(name, &value), into *out sorted by name; Ferry's own into *stored when asked for.
// A value that vanished meanwhile (get fails with ENOENT or ENODATA) is skipped.
template <typename Get>
bool collect_xattrs(const std::string& names, Get get, std::vector<Xattr>* out, std::string* stored) {
  for (size_t start = 0; start < names.size();) {
    size_t end = names.find('\0', start);
    if (end == std::string::npos) end = names.size();
    std::string name = names.substr(start, end - start);
    start = end + 1;
    bool ours = stored != nullptr && name == metadata_xattr_name();
    if (!carries_xattr(name) && !ours) continue;
    std::string value;
    if (!get(name, &value)) {
      if (errno == ENOENT || errno == ENODATA) continue;
      return false;
    }
    keep_listed(std::move(name), std::move(value), ours, out, stored);
  }
  sort_by_name(out);
  return true;
}

// ACLs, each backend its own (acl_linux.cc on a Linux host): makes fd's ACLs `wanted`'s, where
// `present` holds those it has now (read_attributes_fd). Returns 0 or errno.
int replace_acls_fd(int fd, const FileEntry& present, const FileEntry& wanted, uint32_t mode);
// Linux: the ACLs of `path` (never following its last component), or of `fd` when it is not
// -1, for those the listing of attribute names showed (lists_posix_acl).
bool read_posix_acls(const std::string& path, int fd, bool has_access, bool has_default, FileEntry* entry);
bool lists_posix_acl(std::string_view names, bool default_acl);

// copy_file_data by read() and write(), from offset 0 of each: the fallback of every backend.
int copy_by_reading(int from, int to);

// What remember_program_path() found, or "".
std::string remembered_program_path();
// fcntl() setters for systems without the atomic SOCK_CLOEXEC/O_CLOEXEC forms. Return 0 or -1.
int set_close_on_exec(int fd);
int set_nonblocking(int fd);

}  // namespace ferry::platform
