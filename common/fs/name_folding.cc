#include "fs/name_folding.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "fs/unique_fd.h"

namespace ferry {

namespace {

void fold_ascii(std::string& name) {
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

// Whether `looked_up` finds the file made as `made` in dir_fd.
bool folds(int dir_fd, const char* made, const char* looked_up) {
  ::unlinkat(dir_fd, made, 0);  // a probe an interrupted run left
  UniqueFd fd(::openat(dir_fd, made, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return false;
  struct stat a {}, b {};
  bool same = ::fstat(fd.get(), &a) == 0 && ::fstatat(dir_fd, looked_up, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
              a.st_ino == b.st_ino && a.st_dev == b.st_dev;
  ::unlinkat(dir_fd, made, 0);
  return same;
}

}  // namespace

std::string fold_name(std::string_view name, const NameFolding& how) {
  std::string folded(name);
  if (how.unicode_case || how.normalization) {
    int options = UTF8PROC_STABLE | (how.normalization ? UTF8PROC_DECOMPOSE : 0) |
                  (how.unicode_case ? UTF8PROC_CASEFOLD : 0);
    utf8proc_uint8_t* mapped = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(name.data()),
                                      static_cast<utf8proc_ssize_t>(name.size()), &mapped,
                                      static_cast<utf8proc_option_t>(options));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(mapped, &std::free);
    if (n >= 0) folded.assign(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  }
  if (how.ascii_case) fold_ascii(folded);
  return folded;
}

NameFolding probe_name_folding(int dir_fd) {
  NameFolding how;
  how.ascii_case = folds(dir_fd, "fold-probe-A", "fold-probe-a");
  how.unicode_case = folds(dir_fd, "fold-probe-\xC3\x89", "fold-probe-\xC3\xA9");        // É, é
  how.normalization = folds(dir_fd, "fold-probe-\xC3\xA9", "fold-probe-e\xCC\x81");     // é, e + U+0301
  return how;
}

}  // namespace ferry
