#include "protocol/file_entry.h"

#include <algorithm>

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

uint32_t acl_owning_group_bits(std::string_view acl) {
  for (size_t at = 0; at < acl.size();) {
    size_t comma = std::min(acl.find(',', at), acl.size());
    std::string_view item = acl.substr(at, comma - at);
    at = comma + 1;
    if (item.size() != 6 || !item.starts_with("g::")) continue;
    return ((item[3] == 'r' ? 4u : 0u) | (item[4] == 'w' ? 2u : 0u) | (item[5] == 'x' ? 1u : 0u)) << 3;
  }
  return 0;
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
