#include "protocol/messages.h"

#include <string>

#include "base/bytes.h"
#include "base/error.h"
#include "protocol/rel_path.h"

namespace ferry {

using namespace wire;

const char* wire::msg_type_name(MsgType type) {
  switch (type) {
    case MsgType::kHello: return "Hello";
    case MsgType::kOpen: return "Open";
    case MsgType::kOpened: return "Opened";
    case MsgType::kEntry: return "Entry";
    case MsgType::kEndOfList: return "EndOfList";
    case MsgType::kWant: return "Want";
    case MsgType::kFileData: return "FileData";
    case MsgType::kFileEnd: return "FileEnd";
    case MsgType::kFileFailed: return "FileFailed";
    case MsgType::kMessage: return "Message";
    case MsgType::kDone: return "Done";
    case MsgType::kBye: return "Bye";
    case MsgType::kKeepalive: return "Keepalive";
    case MsgType::kFatal: return "Fatal";
    case MsgType::kSigBlocks: return "SigBlocks";
    case MsgType::kFileDelta: return "FileDelta";
    case MsgType::kCompressed: return "Compressed";
    case MsgType::kProbeReport: return "ProbeReport";
    case MsgType::kSnapshotInfo: return "SnapshotInfo";
    case MsgType::kListingEnd: return "ListingEnd";
    case MsgType::kVerifyItems: return "VerifyItems";
    case MsgType::kVerifyEnd: return "VerifyEnd";
    case MsgType::kSettled: return "Settled";
    case MsgType::kFileHole: return "FileHole";
  }
  return nullptr;
}

namespace {
constexpr uint64_t kU32Max = 0xffffffffu;
constexpr uint64_t kMaxIndex = uint64_t{1} << 40;  // far beyond any real tree; catches garbage
constexpr int64_t kMaxSeconds = int64_t{1} << 40;  // ±35,000 years
}  // namespace

void Hello::encode(Encoder& e) const {
  e.varint(protocol_version);
  e.varint(min_protocol_version);
  e.bytes(software_version);
  e.varint(capabilities);
  e.varint(euid);
}

Hello Hello::decode(std::string_view payload) {
  Decoder d(payload);
  Hello h;
  h.protocol_version = static_cast<uint32_t>(d.varint_max("protocol_version", kU32Max));
  h.min_protocol_version = static_cast<uint32_t>(d.varint_max("min_protocol_version", kU32Max));
  h.software_version = std::string(d.bytes("software_version", 64));
  h.capabilities = d.varint("capabilities");
  h.euid = static_cast<uint32_t>(d.varint_max("euid", kU32Max));
  d.expect_end("Hello");
  return h;
}

void Open::encode(Encoder& e) const {
  e.u8(static_cast<uint8_t>(operation));
  e.bytes(path);
  e.varint(flags);
  e.varint(timeout_s);
  e.svarint(compress_level);
  e.bytes(skip_compress);
  e.varint(rate_limit);
  e.bytes(filters);
  e.varint(safety_net_keep_s);
  e.varint(safety_net_keep_bytes);
  e.bytes(volume_mount);
  e.bytes(volume_id);
  e.bytes(at);
  e.bytes(keep);
  e.varint(sample_percent);
}

Open Open::decode(std::string_view payload) {
  Decoder d(payload);
  Open o;
  uint8_t op = d.u8("operation");
  if (op < static_cast<uint8_t>(Operation::kBackup) || op > static_cast<uint8_t>(Operation::kVerify)) {
    throw ProtocolError("unknown operation " + std::to_string(op));
  }
  o.operation = static_cast<Operation>(op);
  o.path = std::string(d.bytes("path", kMaxPathBytes));
  // Relative paths are the agent's to resolve (under a confined key's root, or the home folder):
  // see resolve_relative_path. A NUL would cut the path short in every system call.
  if (o.path.empty() || o.path.find('\0') != std::string::npos) {
    throw ProtocolError("the agent's path is empty or holds a NUL byte");
  }
  o.flags = d.varint("flags");
  if (o.flags & ~kOpenKnownFlags) throw ProtocolError("unknown Open flags " + std::to_string(o.flags));
  o.timeout_s = static_cast<uint32_t>(d.varint_max("timeout_s", 86400));
  if (o.timeout_s == 0) throw ProtocolError("timeout_s must be at least 1");
  int64_t level = d.svarint("compress_level");
  if (level < -131072 || level > 22) throw ProtocolError("compress_level " + std::to_string(level) + " is out of range");
  o.compress_level = static_cast<int32_t>(level);
  o.skip_compress = std::string(d.bytes("skip_compress", kMaxTextBytes));
  o.rate_limit = d.varint("rate_limit");
  o.filters = std::string(d.bytes("filters", kMaxFilterBytes));
  o.safety_net_keep_s = d.varint("safety_net_keep_s");
  o.safety_net_keep_bytes = d.varint("safety_net_keep_bytes");
  o.volume_mount = std::string(d.bytes("volume_mount", kMaxPathBytes));
  o.volume_id = std::string(d.bytes("volume_id", kMaxVolumeIdBytes));
  o.at = std::string(d.bytes("at", kMaxSnapshotAtBytes));
  o.keep = std::string(d.bytes("keep", kMaxKeepRulesBytes));
  o.sample_percent = static_cast<uint32_t>(d.varint_max("sample_percent", 100));
  d.expect_end("Open");
  if (o.sample_percent == 0) throw ProtocolError("sample_percent must be at least 1");
  if (o.sample_percent != 100 && o.operation != Operation::kVerify) {
    throw ProtocolError("Open samples files in an operation that is not a verify");
  }
  if ((o.flags & kOpenEverySnapshot) && (o.operation != Operation::kVerify || !o.at.empty())) {
    throw ProtocolError("Open asks for every snapshot in an operation that is not a verify of them all");
  }
  if ((o.flags & kOpenSeal) && o.operation != Operation::kBackup) {
    throw ProtocolError("Open asks for a seal in an operation that is not a backup");
  }
  if (o.volume_mount.empty() != o.volume_id.empty()) throw ProtocolError("Open names half a volume");
  if (!o.volume_id.empty() && o.operation != Operation::kBackup) {
    throw ProtocolError("Open names a volume for an operation that is not a backup");
  }
  // A field that belongs to a feature the flags did not ask for is refused, not ignored: the
  // two ends must never disagree about what was negotiated.
  if (!(o.flags & kOpenCompress)) {
    if (o.flags & kOpenCompressAuto) throw ProtocolError("Open asks for compress=auto without compression");
    if (o.compress_level != 0 || !o.skip_compress.empty()) {
      throw ProtocolError("Open carries compression settings but does not ask for compression");
    }
  }
  if ((o.flags & kOpenDeleteExcluded) && !(o.flags & kOpenDelete)) {
    throw ProtocolError("Open asks for delete-excluded without delete");
  }
  if ((o.flags & kOpenForce) && !(o.flags & kOpenDelete)) {
    throw ProtocolError("Open asks for --force without --delete");
  }
  if (!(o.flags & kOpenSafetyNet) && (o.safety_net_keep_s != 0 || o.safety_net_keep_bytes != 0)) {
    throw ProtocolError("Open carries safety-net limits but no safety net");
  }
  if ((o.flags & kOpenSingleFile) &&
      (o.operation != Operation::kBackup || (o.flags & (kOpenSnapshot | kOpenDelete)))) {
    throw ProtocolError("Open asks for a single file in an operation that is not a plain backup");
  }
  if ((o.flags & kOpenSnapshot) && o.operation != Operation::kBackup) {
    throw ProtocolError("Open asks for a snapshot in an operation that is not a backup");
  }
  if (!o.at.empty() && o.operation != Operation::kRestore && o.operation != Operation::kList) {
    throw ProtocolError("Open names a snapshot to restore in an operation that is not a restore");
  }
  if (!o.keep.empty() && o.operation != Operation::kForget) {
    throw ProtocolError("Open carries keep rules in an operation that is not a forget");
  }
  return o;
}

void Opened::encode(Encoder& e) const {
  e.varint((receiver_is_root ? 1 : 0) | (single_file ? 2 : 0) | (sealed_hashes ? 4 : 0));
  e.bytes(volume_mount);
  e.bytes(volume_id);
}

Opened Opened::decode(std::string_view payload) {
  Decoder d(payload);
  Opened o;
  uint64_t flags = d.varint_max("flags", 7);
  o.receiver_is_root = flags & 1;
  o.single_file = flags & 2;
  o.sealed_hashes = flags & 4;
  o.volume_mount = std::string(d.bytes("volume_mount", kMaxPathBytes));
  o.volume_id = std::string(d.bytes("volume_id", kMaxVolumeIdBytes));
  d.expect_end("Opened");
  if (o.volume_mount.empty() != o.volume_id.empty()) throw ProtocolError("Opened names half a volume");
  return o;
}

namespace {
// Entry flag bits: which fields repeat the previous entry's and are therefore left out.
constexpr uint8_t kSameType = 1u << 0;
constexpr uint8_t kSameMode = 1u << 1;
constexpr uint8_t kSameUid = 1u << 2;
constexpr uint8_t kSameGid = 1u << 3;
constexpr uint8_t kSameMtimeSec = 1u << 4;
constexpr uint8_t kHasXattrs = 1u << 5;
constexpr uint8_t kHasHash = 1u << 6;  // a regular file's whole-file hash follows (--checksum)
constexpr uint8_t kHasExtras = 1u << 7;  // a varint of the kExtra* bits below follows, then their fields
constexpr uint8_t kKnownEntryFlags = 0xff;
// The entry's less common fields; the last flag bit keeps the format open to more.
constexpr uint64_t kExtraAcls = 1u << 0;   // the access ACL, then the default ACL (each may be "")
constexpr uint64_t kExtraFlags = 1u << 1;  // the file flags
constexpr uint64_t kExtraSealed = 1u << 2;  // a restore: the seal's SHA-256 of the file's content
constexpr uint64_t kKnownExtras = kExtraAcls | kExtraFlags | kExtraSealed;

// Keeps what the next entry is coded against.
void remember(const FileEntry& entry, FileEntry* prev) {
  prev->path = entry.path;
  prev->type = entry.type;
  prev->mode = entry.mode;
  prev->uid = entry.uid;
  prev->gid = entry.gid;
  prev->mtime_sec = entry.mtime_sec;
}

size_t shared_prefix(std::string_view a, std::string_view b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}
}  // namespace

void EntryEncoder::encode(const FileEntry& entry, Encoder& e) {
  uint8_t flags = 0;
  if (entry.type == prev_.type) flags |= kSameType;
  if (entry.mode == prev_.mode) flags |= kSameMode;
  if (entry.uid == prev_.uid) flags |= kSameUid;
  if (entry.gid == prev_.gid) flags |= kSameGid;
  if (entry.mtime_sec == prev_.mtime_sec) flags |= kSameMtimeSec;
  if (!entry.xattrs.empty()) flags |= kHasXattrs;
  if (entry.type == FileType::kRegular && !entry.content_hash.empty()) flags |= kHasHash;
  uint64_t extras = 0;
  if (!entry.acl.empty() || !entry.default_acl.empty()) extras |= kExtraAcls;
  if (entry.flags != 0) extras |= kExtraFlags;
  if (entry.type == FileType::kRegular && !entry.sealed_content.empty()) extras |= kExtraSealed;
  if (extras != 0) flags |= kHasExtras;
  e.u8(flags);
  size_t prefix = shared_prefix(prev_.path, entry.path);
  e.varint(prefix);
  e.bytes(std::string_view(entry.path).substr(prefix));
  if (!(flags & kSameType)) e.u8(static_cast<uint8_t>(entry.type));
  if (!(flags & kSameMode)) e.varint(entry.mode);
  if (!(flags & kSameUid)) e.varint(entry.uid);
  if (!(flags & kSameGid)) e.varint(entry.gid);
  if (!(flags & kSameMtimeSec)) e.svarint(entry.mtime_sec);
  e.varint(entry.mtime_nsec);
  switch (entry.type) {
    case FileType::kRegular: e.varint(entry.size); e.varint(entry.hardlink_of); break;
    case FileType::kSymlink: e.bytes(entry.link_target); break;
    case FileType::kCharDevice:
    case FileType::kBlockDevice:
      e.varint(entry.dev_major);
      e.varint(entry.dev_minor);
      break;
    case FileType::kDirectory:
    case FileType::kFifo: break;
  }
  if (flags & kHasHash) e.raw(entry.content_hash);
  if (flags & kHasXattrs) {
    e.varint(entry.xattrs.size());
    for (const Xattr& x : entry.xattrs) {
      e.bytes(x.name);
      e.bytes(x.value);
    }
  }
  if (flags & kHasExtras) e.varint(extras);
  if (extras & kExtraAcls) {
    e.bytes(entry.acl);
    e.bytes(entry.default_acl);
  }
  if (extras & kExtraFlags) e.varint(entry.flags);
  if (extras & kExtraSealed) e.raw(entry.sealed_content);
  remember(entry, &prev_);
}

FileEntry EntryDecoder::decode(Decoder& d) {
  FileEntry entry;
  uint8_t flags = d.u8("entry flags");
  if (flags & ~kKnownEntryFlags) throw ProtocolError("unknown entry flags " + std::to_string(flags));
  size_t prefix = d.varint_max("path_prefix", prev_.path.size());
  entry.path = prev_.path.substr(0, prefix);
  entry.path += d.bytes("path", kMaxPathBytes - prefix);
  check_rel_path(entry.path);
  uint8_t type = (flags & kSameType) ? static_cast<uint8_t>(prev_.type) : d.u8("type");
  if (type < static_cast<uint8_t>(FileType::kRegular) || type > static_cast<uint8_t>(FileType::kBlockDevice)) {
    throw ProtocolError("unknown file type " + std::to_string(type));
  }
  entry.type = static_cast<FileType>(type);
  entry.mode = (flags & kSameMode) ? prev_.mode : static_cast<uint32_t>(d.varint_max("mode", 07777));
  entry.uid = (flags & kSameUid) ? prev_.uid : static_cast<uint32_t>(d.varint_max("uid", kU32Max));
  entry.gid = (flags & kSameGid) ? prev_.gid : static_cast<uint32_t>(d.varint_max("gid", kU32Max));
  entry.mtime_sec = (flags & kSameMtimeSec) ? prev_.mtime_sec : d.svarint("mtime_sec");
  if (entry.mtime_sec > kMaxSeconds || entry.mtime_sec < -kMaxSeconds) {
    throw ProtocolError("mtime_sec out of range");
  }
  entry.mtime_nsec = static_cast<uint32_t>(d.varint_max("mtime_nsec", 999'999'999));
  switch (entry.type) {
    case FileType::kRegular:
      entry.size = d.varint_max("size", uint64_t{1} << 62);
      entry.hardlink_of = d.varint_max("hardlink_of", kMaxIndex);
      break;
    case FileType::kSymlink:
      entry.link_target = std::string(d.bytes("link_target", kMaxPathBytes));
      if (entry.link_target.empty() || entry.link_target.find('\0') != std::string::npos) {
        throw ProtocolError("invalid symlink target for " + entry.path);
      }
      break;
    case FileType::kCharDevice:
    case FileType::kBlockDevice:
      entry.dev_major = static_cast<uint32_t>(d.varint_max("device major", kU32Max));
      entry.dev_minor = static_cast<uint32_t>(d.varint_max("device minor", kU32Max));
      break;
    case FileType::kDirectory:
    case FileType::kFifo: break;
  }
  if (entry.path.empty() && entry.type != FileType::kDirectory) {
    throw ProtocolError("the root entry must be a directory");
  }
  if (flags & kHasHash) {
    if (entry.type != FileType::kRegular) throw ProtocolError("a content hash on a non-regular entry");
    entry.content_hash = std::string(d.raw("content_hash", wire::kHashBytes));
  }
  size_t count = (flags & kHasXattrs) ? d.varint_max("xattr_count", kMaxXattrsPerEntry) : 0;
  size_t total = 0;
  entry.xattrs.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    Xattr x;
    x.name = std::string(d.bytes("xattr_name", kMaxXattrNameBytes));
    if (x.name.empty() || x.name.find('\0') != std::string::npos) throw ProtocolError("invalid xattr name");
    x.value = std::string(d.bytes("xattr_value", kMaxXattrValueBytes));
    total += x.name.size() + x.value.size();
    if (total > kMaxXattrBytesPerEntry) throw ProtocolError("xattrs of one entry exceed 512 KiB");
    if (!entry.xattrs.empty() && entry.xattrs.back().name >= x.name) {
      throw ProtocolError("xattr names not sorted or duplicated");
    }
    entry.xattrs.push_back(std::move(x));
  }
  uint64_t extras = (flags & kHasExtras) ? d.varint("entry extras") : 0;
  if (extras & ~kKnownExtras) throw ProtocolError("unknown entry extras " + std::to_string(extras));
  if (extras & kExtraAcls) {
    if (entry.type == FileType::kSymlink) throw ProtocolError("an ACL on a symlink");
    entry.acl = std::string(d.bytes("acl", kMaxAclTextBytes));
    entry.default_acl = std::string(d.bytes("default_acl", kMaxAclTextBytes));
    if (!entry.acl.empty() && !valid_acl_text(entry.acl)) throw ProtocolError("malformed ACL of " + entry.path);
    if (!entry.default_acl.empty() && (entry.type != FileType::kDirectory || !valid_acl_text(entry.default_acl))) {
      throw ProtocolError("malformed default ACL of " + entry.path);
    }
  }
  if (extras & kExtraFlags) {
    entry.flags = static_cast<uint32_t>(d.varint_max("flags", file_flags::kKnown));
    if (entry.flags == 0) throw ProtocolError("file flags announced but none set");
    if (entry.type != FileType::kRegular && entry.type != FileType::kDirectory) {
      throw ProtocolError("file flags on " + entry.path + ", which cannot have them");
    }
  }
  if (extras & kExtraSealed) {
    if (entry.type != FileType::kRegular) throw ProtocolError("a sealed hash on a non-regular entry");
    entry.sealed_content = std::string(d.raw("sealed_content", kSealHashBytes));
  }
  remember(entry, &prev_);
  return entry;
}

void encode_entry(const FileEntry& entry, Encoder& e) { EntryEncoder().encode(entry, e); }

FileEntry decode_entry(std::string_view payload) {
  Decoder d(payload);
  FileEntry entry = EntryDecoder().decode(d);
  d.expect_end("Entry");
  return entry;
}

void EndOfList::encode(Encoder& e) const {
  e.varint(entries);
  e.varint(list_errors);
}
EndOfList EndOfList::decode(std::string_view payload) {
  Decoder d(payload);
  EndOfList m;
  m.entries = d.varint_max("entries", kMaxIndex);
  m.list_errors = d.varint("list_errors");
  d.expect_end("EndOfList");
  return m;
}

void Settled::encode(Encoder& e) const { e.varint(below); }
Settled Settled::decode(std::string_view payload) {
  Decoder d(payload);
  Settled m;
  m.below = d.varint_max("below", kMaxIndex);
  d.expect_end("Settled");
  return m;
}

void Want::encode(Encoder& e) const {
  e.varint(index);
  e.varint(flags);
  if (flags & kWantHasSignature) {
    e.varint(basis_size);
    e.varint(block_size);
    e.varint(strong_len);
    e.varint(block_count);
  }
}
Want Want::decode(std::string_view payload) {
  Decoder d(payload);
  Want m;
  m.index = d.varint_max("index", kMaxIndex);
  m.flags = d.varint("flags");
  if (m.flags & ~kWantKnownFlags) throw ProtocolError("unknown Want flags " + std::to_string(m.flags));
  if (m.flags & kWantHasSignature) {
    m.basis_size = d.varint("basis_size");
    m.block_size = static_cast<uint32_t>(d.varint_max("block_size", kU32Max));
    m.strong_len = static_cast<uint32_t>(d.varint_max("strong_len", kU32Max));
    m.block_count = d.varint("block_count");
  }
  d.expect_end("Want");
  return m;
}

void encode_file_data_head(uint64_t index, Encoder& e) { e.varint(index); }
FileDataView FileDataView::decode(std::string_view payload) {
  Decoder d(payload);
  FileDataView v;
  v.index = d.varint_max("index", kMaxIndex);
  v.bytes = d.rest();
  return v;
}

void FileEnd::encode(Encoder& e) const {
  e.varint(index);
  e.varint(size);
  e.svarint(mtime_sec);
  e.varint(mtime_nsec);
  e.raw(as_chars(hash));
  if (has_sha256) e.raw(as_chars(sha256));
}
FileEnd FileEnd::decode(std::string_view payload) {
  Decoder d(payload);
  FileEnd m;
  m.index = d.varint_max("index", kMaxIndex);
  m.size = d.varint_max("size", uint64_t{1} << 62);
  m.mtime_sec = d.svarint("mtime_sec");
  if (m.mtime_sec > kMaxSeconds || m.mtime_sec < -kMaxSeconds) throw ProtocolError("mtime_sec out of range");
  m.mtime_nsec = static_cast<uint32_t>(d.varint_max("mtime_nsec", 999'999'999));
  std::string_view h = d.raw("hash", kHashBytes);
  std::copy(h.begin(), h.end(), m.hash.begin());
  if (!d.at_end()) {
    std::string_view s = d.raw("sha256", kSealHashBytes);
    std::copy(s.begin(), s.end(), m.sha256.begin());
    m.has_sha256 = true;
  }
  d.expect_end("FileEnd");
  return m;
}

void FileFailed::encode(Encoder& e) const {
  e.varint(index);
  e.bytes(reason);
  e.varint(flags);
}
FileFailed FileFailed::decode(std::string_view payload) {
  Decoder d(payload);
  FileFailed m;
  m.index = d.varint_max("index", kMaxIndex);
  m.reason = std::string(d.bytes("reason", kMaxTextBytes));
  m.flags = d.varint("flags");
  if (m.flags & ~kFailedKnownFlags) throw ProtocolError("unknown FileFailed flags " + std::to_string(m.flags));
  if ((m.flags & kFailedWillRetry) && (m.flags & kFailedVanished)) {
    throw ProtocolError("FileFailed both retries and gives up");
  }
  d.expect_end("FileFailed");
  return m;
}

void Message::encode(Encoder& e) const {
  e.u8(static_cast<uint8_t>(level));
  e.bytes(text);
}
Message Message::decode(std::string_view payload) {
  Decoder d(payload);
  Message m;
  uint8_t level = d.u8("level");
  if (level < 1 || level > 3) throw ProtocolError("unknown message level " + std::to_string(level));
  m.level = static_cast<MessageLevel>(level);
  m.text = std::string(d.bytes("text", kMaxTextBytes));
  d.expect_end("Message");
  return m;
}

void VerifyItem::encode(Encoder& e) const {
  e.u8(kind);
  e.bytes(data);
}
VerifyItem VerifyItem::decode(Decoder& d) {
  VerifyItem m;
  uint8_t kind = d.u8("verify item kind");
  if (kind < kSealed || kind > kUnreadable) throw ProtocolError("unknown verify item kind " + std::to_string(kind));
  m.kind = static_cast<Kind>(kind);
  m.data = std::string(d.bytes("verify item", kind == kUnreadable ? kMaxTextBytes : kMaxSealRecordBytes));
  if (m.kind == kMissing && !m.data.empty()) throw ProtocolError("a missing entry with data");
  return m;
}

void VerifyEnd::encode(Encoder& e) const {
  e.bytes(seal_id);
  e.varint(seal_flags);
  e.raw(as_chars(stored_root));
  e.varint(stored_entries);
  e.varint(files_read);
  e.varint(bytes_read);
}
VerifyEnd VerifyEnd::decode(std::string_view payload) {
  Decoder d(payload);
  VerifyEnd m;
  m.seal_id = std::string(d.bytes("seal_id", kMaxSealIdBytes));
  m.seal_flags = static_cast<uint8_t>(d.varint_max("seal_flags", 255));
  std::string_view r = d.raw("stored_root", kSealHashBytes);
  std::copy(r.begin(), r.end(), m.stored_root.begin());
  m.stored_entries = d.varint("stored_entries");
  m.files_read = d.varint("files_read");
  m.bytes_read = d.varint("bytes_read");
  d.expect_end("VerifyEnd");
  return m;
}

void Done::encode(Encoder& e) const {
  e.varint(files_total);
  e.varint(files_transferred);
  e.varint(bytes_total);
  e.varint(bytes_literal);
  e.varint(bytes_matched);
  e.varint(bytes_compressed_raw);
  e.varint(bytes_compressed_wire);
  e.varint(errors);
  e.varint(deleted);
  e.varint(kept_in_safety_net);
  e.bytes(seal_id);
  if (!seal_id.empty()) {
    e.varint(seal_flags);
    e.varint(seal_entries);
    e.raw(as_chars(seal_root));
    e.bytes(previous_seal_id);
    if (!previous_seal_id.empty()) {
      e.raw(as_chars(previous_seal_root));
    }
  }
}
Done Done::decode(std::string_view payload) {
  Decoder d(payload);
  Done m;
  m.files_total = d.varint("files_total");
  m.files_transferred = d.varint("files_transferred");
  m.bytes_total = d.varint("bytes_total");
  m.bytes_literal = d.varint("bytes_literal");
  m.bytes_matched = d.varint("bytes_matched");
  m.bytes_compressed_raw = d.varint("bytes_compressed_raw");
  m.bytes_compressed_wire = d.varint("bytes_compressed_wire");
  m.errors = d.varint("errors");
  m.deleted = d.varint("deleted");
  m.kept_in_safety_net = d.varint("kept_in_safety_net");
  m.seal_id = std::string(d.bytes("seal_id", kMaxSealIdBytes));
  if (!m.seal_id.empty()) {
    m.seal_flags = static_cast<uint8_t>(d.varint_max("seal_flags", 255));
    m.seal_entries = d.varint("seal_entries");
    std::string_view r = d.raw("seal_root", kSealHashBytes);
    std::copy(r.begin(), r.end(), m.seal_root.begin());
    m.previous_seal_id = std::string(d.bytes("previous_seal_id", kMaxSealIdBytes));
    if (!m.previous_seal_id.empty()) {
      std::string_view p = d.raw("previous_seal_root", kSealHashBytes);
      std::copy(p.begin(), p.end(), m.previous_seal_root.begin());
    }
  }
  d.expect_end("Done");
  return m;
}

CompressedView CompressedView::decode(std::string_view payload) {
  Decoder d(payload);
  CompressedView c;
  uint8_t inner = d.u8("inner_type");
  if (inner != static_cast<uint8_t>(MsgType::kFileData) && inner != static_cast<uint8_t>(MsgType::kFileDelta)) {
    throw ProtocolError("Compressed frame carries type " + std::to_string(inner) +
                        "; only FileData and FileDelta may be compressed");
  }
  c.inner_type = static_cast<MsgType>(inner);
  c.stream = d.rest();
  return c;
}

void FileHole::encode(Encoder& e) const {
  e.varint(index);
  e.varint(length);
}

FileHole FileHole::decode(std::string_view payload) {
  Decoder d(payload);
  FileHole h;
  h.index = d.varint("index");
  h.length = d.varint_max("length", kMaxFileBytes);
  if (h.length == 0) throw ProtocolError("FileHole of no bytes");
  d.expect_end("FileHole");
  return h;
}

void ProbeReport::encode(Encoder& e) const {
  e.varint(euid);
  e.svarint(time_ns);
  e.varint((exists ? 1u : 0u) | (parent_exists ? 2u : 0u) | (writable ? 4u : 0u) | (read_only_fs ? 8u : 0u) |
           (keeps_xattrs ? 16u : 0u));
  e.varint(free_bytes);
  e.varint(total_bytes);
  e.bytes(last_run);
  e.bytes(holder);
  e.bytes(fs_kind);
  e.bytes(volume_mount);
  e.bytes(volume_id);
}

ProbeReport ProbeReport::decode(std::string_view payload) {
  Decoder d(payload);
  ProbeReport r;
  r.euid = static_cast<uint32_t>(d.varint_max("euid", kU32Max));
  r.time_ns = d.svarint("time_ns");
  uint64_t flags = d.varint_max("flags", 31);
  r.exists = flags & 1;
  r.parent_exists = flags & 2;
  r.writable = flags & 4;
  r.read_only_fs = flags & 8;
  r.keeps_xattrs = flags & 16;
  r.free_bytes = d.varint("free_bytes");
  r.total_bytes = d.varint("total_bytes");
  r.last_run = std::string(d.bytes("last_run", kMaxTextBytes));
  r.holder = std::string(d.bytes("holder", kMaxTextBytes));
  r.fs_kind = std::string(d.bytes("fs_kind", 64));
  r.volume_mount = std::string(d.bytes("volume_mount", kMaxPathBytes));
  r.volume_id = std::string(d.bytes("volume_id", kMaxVolumeIdBytes));
  d.expect_end("ProbeReport");
  return r;
}

void Fatal::encode(Encoder& e) const {
  e.u8(exit_code);
  e.bytes(text);
}
Fatal Fatal::decode(std::string_view payload) {
  Decoder d(payload);
  Fatal m;
  m.exit_code = d.u8("exit_code");
  m.text = std::string(d.bytes("text", kMaxTextBytes));
  d.expect_end("Fatal");
  return m;
}

void SnapshotInfo::encode(Encoder& e) const {
  e.bytes(id);
  e.varint(flags);
  e.bytes(reasons);
  e.varint(entries);
  e.varint(bytes);
  e.varint(own_bytes);
}

SnapshotInfo SnapshotInfo::decode(std::string_view payload) {
  Decoder d(payload);
  SnapshotInfo m;
  m.id = std::string(d.bytes("id", kMaxSnapshotAtBytes));
  m.flags = d.varint_max("flags", kLatest | kRemoved);
  m.reasons = std::string(d.bytes("reasons", kMaxTextBytes));
  m.entries = d.varint("entries");
  m.bytes = d.varint("bytes");
  m.own_bytes = d.varint("own_bytes");
  d.expect_end("SnapshotInfo");
  return m;
}

void ListingEnd::encode(Encoder& e) const {
  e.varint(count);
  e.varint(freed_bytes);
  e.varint(errors);
}

ListingEnd ListingEnd::decode(std::string_view payload) {
  Decoder d(payload);
  ListingEnd m;
  m.count = d.varint("count");
  m.freed_bytes = d.varint("freed_bytes");
  m.errors = d.varint("errors");
  d.expect_end("ListingEnd");
  return m;
}

}  // namespace ferry
