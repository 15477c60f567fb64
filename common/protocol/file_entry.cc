#include "protocol/file_entry.h"

#include "protocol/wire.h"

namespace ferry {

const char* file_type_name(FileType type) {
  switch (type) {
    case FileType::kRegular: return "file";
    case FileType::kDirectory: return "directory";
    case FileType::kSymlink: return "symlink";
    case FileType::kFifo: return "fifo";
    case FileType::kCharDevice: return "character device";
    case FileType::kBlockDevice: return "block device";
  }
  return "unknown";
}

bool valid_acl_text(std::string_view text) {
  if (text.empty() || text.size() > wire::kMaxAclTextBytes) return false;
  for (char c : text) {
    if (std::string_view("ugmorwx-:,0123456789").find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace ferry
