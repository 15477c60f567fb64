// POSIX.1e ACLs through libacl (linux and posix backends on a Linux host; POSIX.1e was
// withdrawn, so no standard names these calls either).
//
// Ferry's text form (FileEntry::acl) leaves out the three entries the mode already carries
// (u::, m:: and o::): the mode travels and is applied on its own, and a non-root agent gives
// the owner read and write that the sender's file may not have had. The receiver rebuilds the
// whole ACL from the text and the mode it applies.
#include <acl/libacl.h>
#include <fcntl.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "platform/platform.h"
#include "platform/portable.h"

namespace ferry::platform {
namespace {

struct AclFree {
  void operator()(void* p) const { ::acl_free(p); }
};
using Acl = std::unique_ptr<std::remove_pointer_t<acl_t>, AclFree>;

constexpr const char* kAccessXattr = "system.posix_acl_access";
constexpr const char* kDefaultXattr = "system.posix_acl_default";

std::string text_of(acl_t acl) {
  std::unique_ptr<char, AclFree> text(::acl_to_any_text(acl, nullptr, ',', TEXT_ABBREVIATE | TEXT_NUMERIC_IDS));
  return text ? std::string(text.get()) : std::string();
}

// The entries of an access ACL's text that the mode does not carry.
std::string beyond_mode(std::string_view full) {
  std::string out;
  for (size_t start = 0; start < full.size();) {
    size_t comma = full.find(',', start);
    if (comma == std::string_view::npos) comma = full.size();
    std::string_view entry = full.substr(start, comma - start);
    start = comma + 1;
    if (entry.starts_with("u::") || entry.starts_with("m::") || entry.starts_with("o::")) continue;
    if (!out.empty()) out += ',';
    out += entry;
  }
  return out;
}

std::string permissions(uint32_t bits) {
  return {bits & 4 ? 'r' : '-', bits & 2 ? 'w' : '-', bits & 1 ? 'x' : '-'};
}

bool unsupported(int err) { return err == ENOTSUP || err == EOPNOTSUPP || err == ENOSYS; }

// The path of an open fd that libacl's path calls accept (the default ACL has no fd call).
std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

bool read_posix_acls(const std::string& path, int fd, bool has_access, bool has_default, FileEntry* entry) {
  entry->acl.clear();
  entry->default_acl.clear();
  if (has_access) {
    Acl acl(fd >= 0 ? ::acl_get_fd(fd) : ::acl_get_file(path.c_str(), ACL_TYPE_ACCESS));
    if (!acl) return errno == ENOENT || errno == ENODATA || unsupported(errno);
    if (::acl_equiv_mode(acl.get(), nullptr) != 0) entry->acl = beyond_mode(text_of(acl.get()));
  }
  if (has_default) {
    Acl acl(::acl_get_file(fd >= 0 ? fd_path(fd).c_str() : path.c_str(), ACL_TYPE_DEFAULT));
    if (!acl) return errno == ENOENT || errno == ENODATA || errno == EACCES || unsupported(errno);
    if (::acl_entries(acl.get()) > 0) entry->default_acl = text_of(acl.get());
  }
  return true;
}

int replace_acls_fd(int fd, const FileEntry& present, const FileEntry& wanted, uint32_t mode) {
  if (present.acl != wanted.acl) {
    if (wanted.acl.empty()) {
      if (::fremovexattr(fd, kAccessXattr) != 0 && errno != ENODATA) return errno;
    } else {
      std::string full = "u::" + permissions(mode >> 6) + "," + wanted.acl + ",m::" + permissions(mode >> 3) +
                         ",o::" + permissions(mode);
      Acl acl(::acl_from_text(full.c_str()));
      if (!acl || ::acl_valid(acl.get()) != 0) return EINVAL;
      if (::acl_set_fd(fd, acl.get()) != 0) return errno;
    }
  }
  if (present.default_acl != wanted.default_acl) {
    if (wanted.default_acl.empty()) {
      if (::fremovexattr(fd, kDefaultXattr) != 0 && errno != ENODATA) return errno;
    } else {
      Acl acl(::acl_from_text(wanted.default_acl.c_str()));
      if (!acl || ::acl_valid(acl.get()) != 0) return EINVAL;
      // Only a directory has one; the kernel refuses it on anything else (EACCES).
      if (::acl_set_file(fd_path(fd).c_str(), ACL_TYPE_DEFAULT, acl.get()) != 0) return errno;
    }
  }
  return 0;
}

bool lists_posix_acl(std::string_view names, bool default_acl) {
  std::string_view wanted = default_acl ? kDefaultXattr : kAccessXattr;
  for (size_t start = 0; start < names.size();) {
    size_t end = names.find('\0', start);
    if (end == std::string_view::npos) end = names.size();
    if (names.substr(start, end - start) == wanted) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace ferry::platform
