#include "protocol/file_entry.h"

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

}  // namespace ferry
