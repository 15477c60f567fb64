#include "fs/stored_metadata.h"

#include <charconv>
#include <vector>

namespace ferry {
namespace {

constexpr std::string_view kTypeLetters = "fdlpcb";  // FileType 1..6

bool parse_number(std::string_view text, int base, uint32_t* out) {
  if (text.empty() || text.size() > 11) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, base);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string encode_stored_metadata(const StoredMetadata& s) {
  char mode[16];
  auto end = std::to_chars(mode, mode + sizeof mode, s.mode, 8).ptr;
  return "1 " + std::string(1, kTypeLetters[static_cast<size_t>(s.type) - 1]) + " " + std::string(mode, end) + " " +
         std::to_string(s.uid) + " " + std::to_string(s.gid) + " " + std::to_string(s.dev_major) + " " +
         std::to_string(s.dev_minor) + (s.acl.empty() ? "" : " a=" + s.acl) +
         (s.default_acl.empty() ? "" : " d=" + s.default_acl) + (s.flags == 0 ? "" : " f=" + std::to_string(s.flags));
}

std::optional<StoredMetadata> decode_stored_metadata(std::string_view text) {
  if (text.size() > kMaxStoredMetadataBytes) return std::nullopt;
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (start <= text.size() && fields.size() < 11) {
    size_t space = text.find(' ', start);
    if (space == std::string_view::npos) space = text.size();
    fields.push_back(text.substr(start, space - start));
    start = space + 1;
  }
  if (fields.size() < 7 || fields.size() > 10 || fields[0] != "1" || fields[1].size() != 1) return std::nullopt;
  size_t type = kTypeLetters.find(fields[1][0]);
  if (type == std::string_view::npos) return std::nullopt;
  StoredMetadata s;
  s.type = static_cast<FileType>(type + 1);
  if (!parse_number(fields[2], 8, &s.mode) || s.mode > 07777) return std::nullopt;
  if (!parse_number(fields[3], 10, &s.uid) || !parse_number(fields[4], 10, &s.gid)) return std::nullopt;
  if (!parse_number(fields[5], 10, &s.dev_major) || !parse_number(fields[6], 10, &s.dev_minor)) return std::nullopt;
  bool device = s.type == FileType::kCharDevice || s.type == FileType::kBlockDevice;
  if (!device && (s.dev_major != 0 || s.dev_minor != 0)) return std::nullopt;
  // Then, each at most once and in this order: the access ACL, the default ACL (directories),
  // the file flags.
  size_t next = 7;
  if (next < fields.size() && fields[next].starts_with("a=")) {
    s.acl = std::string(fields[next++].substr(2));
    if (!valid_acl_text(s.acl) || s.type == FileType::kSymlink) return std::nullopt;
  }
  if (next < fields.size() && fields[next].starts_with("d=")) {
    s.default_acl = std::string(fields[next++].substr(2));
    if (!valid_acl_text(s.default_acl) || s.type != FileType::kDirectory) return std::nullopt;
  }
  if (next < fields.size() && fields[next].starts_with("f=")) {
    if (!parse_number(fields[next++].substr(2), 10, &s.flags) || s.flags == 0 || s.flags > file_flags::kKnown ||
        (s.type != FileType::kRegular && s.type != FileType::kDirectory)) {
      return std::nullopt;
    }
  }
  if (next != fields.size()) return std::nullopt;
  return s;
}

StoredMetadata stored_metadata_of(const FileEntry& e) {
  return StoredMetadata{e.type, e.mode, e.uid, e.gid, e.dev_major, e.dev_minor, e.acl, e.default_acl, e.flags};
}

void overlay_stored_metadata(const StoredMetadata& s, FileEntry* entry) {
  if (stored_as_regular_file(s.type) && entry->type == FileType::kRegular) {
    entry->type = s.type;
    entry->size = 0;
    entry->hardlink_of = 0;
  }
  if (entry->type != s.type) return;  // the attribute belongs to another kind of object: ignore it
  entry->mode = s.mode;
  entry->uid = s.uid;
  entry->gid = s.gid;
  entry->dev_major = s.dev_major;
  entry->dev_minor = s.dev_minor;
  // ACLs are stored only where the destination could not set them; otherwise they were read
  // from the file itself and stay.
  if (!s.acl.empty()) entry->acl = s.acl;
  if (!s.default_acl.empty()) entry->default_acl = s.default_acl;
  entry->flags = s.flags;  // a storing agent sets none on the file itself
}

bool stored_as_regular_file(FileType type) {
  return type == FileType::kFifo || type == FileType::kCharDevice || type == FileType::kBlockDevice;
}

}  // namespace ferry
