#include "protocol/file_entry.h"

#include "protocol/wire.h"

namespace ferry {

std::vector<std::string> keep_xattrs_within_bounds(std::vector<Xattr>* xattrs) {
  std::vector<std::string> dropped;
  size_t kept = 0, total = 0;
  for (size_t i = 0; i < xattrs->size(); ++i) {
    Xattr& x = (*xattrs)[i];
    size_t bytes = x.name.size() + x.value.size();
    if (x.name.size() > wire::kMaxXattrNameBytes || x.value.size() > wire::kMaxXattrValueBytes ||
        kept == wire::kMaxXattrsPerEntry || bytes > wire::kMaxXattrBytesPerEntry - total) {
      dropped.push_back(std::move(x.name));
      continue;
    }
    total += bytes;
    if (kept != i) (*xattrs)[kept] = std::move(x);
    ++kept;
  }
  xattrs->resize(kept);
  return dropped;
}

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
