#include "seal/seal_record.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "base/bytes.h"
#include "base/error.h"
#include "protocol/messages.h"
#include "seal/seal_error.h"

namespace ferry {

namespace {

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

std::string time_text(int64_t sec, uint32_t nsec) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%" PRId64 ".%09u", sec, nsec);
  return buf;
}

}  // namespace

FileEntry canonical_entry(FileEntry entry) {
  entry.hardlink_of = 0;
  entry.content_hash.clear();
  return entry;
}

std::string encode_seal_record(const SealRecord& record) {
  std::string out;
  out.push_back(static_cast<char>(record.flags));
  out.append(as_chars(record.content));
  append_le(out, static_cast<uint64_t>(record.entry.mtime_sec), 8);
  append_le(out, record.entry.mtime_nsec, 4);
  FileEntry entry = canonical_entry(record.entry);
  entry.mtime_sec = 0;  // in the fixed fields above, where a receiver can still change it
  entry.mtime_nsec = 0;
  Encoder e;
  encode_entry(entry, e);
  out.append(e.data());
  return out;
}

SealRecord decode_seal_record(std::string_view body) {
  if (body.size() < kSealFixedBytes + 1) throw SealFormatError("a record is too short");
  SealRecord record;
  record.flags = static_cast<uint8_t>(body[0]);
  if ((record.flags & ~SealRecord::kKnownFlags) != 0) throw SealFormatError("a record has unknown flags");
  std::memcpy(record.content.data(), body.data() + kSealContentOffset, record.content.size());
  try {
    record.entry = decode_entry(body.substr(kSealFixedBytes));
  } catch (const ProtocolError& e) {
    throw SealFormatError(std::string("a record's entry is malformed: ") + e.what());
  }
  if (record.entry.hardlink_of != 0 || !record.entry.content_hash.empty() || record.entry.mtime_sec != 0 ||
      record.entry.mtime_nsec != 0) {
    throw SealFormatError("a record's entry is not in the seal's form");
  }
  record.entry.mtime_sec = static_cast<int64_t>(read_le(body.substr(kSealMtimeOffset), 8));
  record.entry.mtime_nsec = static_cast<uint32_t>(read_le(body.substr(kSealMtimeOffset + 8), 4));
  if (record.entry.mtime_nsec >= 1000000000u) throw SealFormatError("a record's mtime is out of range");
  return record;
}

Sha256Digest seal_leaf(std::string_view body) {
  thread_local Sha256 h;  // one context per thread: a leaf is hashed per entry
  const char tag = 0;
  h.update(&tag, 1);
  h.update(body);
  return h.finish();
}

std::vector<std::string> seal_differences(const SealRecord& sealed, const SealRecord& now) {
  const FileEntry& a = sealed.entry;
  const FileEntry& b = now.entry;
  std::vector<std::string> out;
  if (a.type != b.type) {
    out.push_back(std::string("type ") + file_type_name(a.type) + " -> " + file_type_name(b.type));
    return out;
  }
  if (a.type == FileType::kRegular && (now.flags & SealRecord::kContentUnread) == 0 && sealed.content != now.content) {
    out.push_back("content");
  }
  if (a.size != b.size) out.push_back("size " + std::to_string(a.size) + " -> " + std::to_string(b.size));
  if (a.mode != b.mode) out.push_back("mode " + octal(a.mode) + " -> " + octal(b.mode));
  if (a.uid != b.uid) out.push_back("owner " + std::to_string(a.uid) + " -> " + std::to_string(b.uid));
  if (a.gid != b.gid) out.push_back("group " + std::to_string(a.gid) + " -> " + std::to_string(b.gid));
  // A directory's mtime changes whenever its entries do, so the tree's shape speaks for it.
  if (a.type != FileType::kDirectory && (a.mtime_sec != b.mtime_sec || a.mtime_nsec != b.mtime_nsec)) {
    out.push_back("mtime " + time_text(a.mtime_sec, a.mtime_nsec) + " -> " + time_text(b.mtime_sec, b.mtime_nsec));
  }
  if (a.link_target != b.link_target) out.push_back("link target");
  if (a.dev_major != b.dev_major || a.dev_minor != b.dev_minor) out.push_back("device numbers");
  if (a.xattrs != b.xattrs) out.push_back("extended attributes");
  if (a.acl != b.acl || a.default_acl != b.default_acl) out.push_back("ACL");
  if (a.flags != b.flags) out.push_back("file flags");
  return out;
}

}  // namespace ferry
