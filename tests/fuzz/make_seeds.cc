// Writes the hand-made seed inputs of every fuzz target into <corpus>/<target>/seed-*: valid
// frames and messages made with Ferry's own encoders (so they follow the code, not a copy of
// the format), the worked example of docs/PROTOCOL.md byte for byte, and a few near misses.
// Run by hand after a change to the wire format: build/bin/fuzz_make_seeds tests/fuzz/corpus
#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "compress/zstd_stream.h"
#include "delta/file_hash.h"
#include "keys/credentials_package.h"
#include "protocol/frame_parser.h"
#include "protocol/messages.h"

using namespace ferry;
using wire::MsgType;

namespace {

std::filesystem::path g_root;

void write_seed(const std::string& target, const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(g_root / target);
  std::ofstream(g_root / target / ("seed-" + name), std::ios::binary) << bytes;
}

std::string frame(MsgType type, std::string_view payload) {
  std::string out;
  append_frame_header(type, payload.size(), &out);
  out.append(payload);
  return out;
}

template <typename M>
std::string payload_of(const M& m) {
  Encoder e;
  m.encode(e);
  return e.take();
}

// docs/PROTOCOL.md, "Worked example": a Hello from agent 0.7.0 running as root.
const std::string kWorkedHello(
    "\x07\x07\x05"
    "0.7.0"
    "\x01\x00",
    10);

FileEntry entry(std::string path, FileType type, uint64_t size = 0) {
  FileEntry e;
  e.path = std::move(path);
  e.type = type;
  e.mode = type == FileType::kDirectory ? 0755 : 0644;
  e.uid = 1000;
  e.gid = 1000;
  e.mtime_sec = 1700000000;
  e.size = size;
  return e;
}

// A list with every kind of entry and field: what entry_sequence and Entry frames start from.
std::vector<FileEntry> sample_list() {
  std::vector<FileEntry> list;
  list.push_back(entry("", FileType::kDirectory));
  list.push_back(entry("a", FileType::kRegular, 5));
  FileEntry hashed = entry("b", FileType::kRegular, 3);
  hashed.content_hash = std::string(wire::kHashBytes, '\x42');
  hashed.xattrs = {{"user.a", "1"}, {"user.b", std::string(3, '\0')}};
  list.push_back(hashed);
  FileEntry link = entry("c", FileType::kSymlink);
  link.link_target = "a";
  list.push_back(link);
  FileEntry shared = entry("d", FileType::kDirectory);
  shared.acl = "u:1001:rwx,g::r-x";
  shared.default_acl = "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::r-x";
  list.push_back(shared);
  list.push_back(entry("d/e", FileType::kFifo));
  FileEntry dev = entry("d/f", FileType::kCharDevice);
  dev.dev_major = 1;
  dev.dev_minor = 3;
  list.push_back(dev);
  FileEntry hard = entry("d/g", FileType::kRegular, 5);
  hard.hardlink_of = 2;
  list.push_back(hard);
  return list;
}

std::string entries_payload(const std::vector<FileEntry>& list) {
  Encoder e;
  EntryEncoder codec;
  for (const FileEntry& x : list) codec.encode(x, e);
  return e.take();
}

std::string file_end(uint64_t index, std::string_view content, int64_t mtime = 1700000000) {
  FileHasher h;
  h.update(content.data(), content.size());
  return frame(MsgType::kFileEnd, payload_of(FileEnd{index, content.size(), mtime, 0, h.digest()}));
}

std::string file_data(uint64_t index, std::string_view bytes) {
  Encoder e;
  encode_file_data_head(index, e);
  e.raw(bytes);
  return frame(MsgType::kFileData, e.data());
}

void frame_parser_seeds() {
  std::string magic(wire::kMagic);
  write_seed("frame_parser", "worked-example", "\x01" + magic + frame(MsgType::kHello, kWorkedHello));
  write_seed("frame_parser", "noise-then-frames",
             "\x07Last login: today\n" + magic + frame(MsgType::kHello, kWorkedHello) +
                 frame(MsgType::kKeepalive, "") +
                 frame(MsgType::kMessage, payload_of(Message{wire::MessageLevel::kInfo, "hi"})));
  write_seed("frame_parser", "list-and-data",
             std::string("\x20", 1) + frame(MsgType::kEntry, entries_payload(sample_list())) +
                 frame(MsgType::kEndOfList, payload_of(EndOfList{8, 0})) + file_data(1, "hello") +
                 file_end(1, "hello") + frame(MsgType::kBye, ""));
  std::string oversized;
  append_frame_header(MsgType::kFileData, 0, &oversized);
  oversized[4] = 0x01;  // 16 MiB announced
  write_seed("frame_parser", "oversized", std::string("\x00", 1) + oversized);
  write_seed("frame_parser", "truncated",
             std::string("\x00", 1) + frame(MsgType::kMessage, "abcdef").substr(0, 8));
}

void messages_seeds() {
  auto seed = [](int which, const std::string& name, const std::string& payload) {
    write_seed("messages", name, std::string(1, static_cast<char>(which)) + payload);
  };
  seed(0, "hello-worked-example", kWorkedHello);
  Open open;
  open.path = "/backups/laptop";
  open.flags = wire::kOpenCompress | wire::kOpenDelete | wire::kOpenSafetyNet;
  open.compress_level = 3;
  open.skip_compress = "gz/jpg/zst";
  open.filters = "- *.o\n+ /src/\n";
  open.safety_net_keep_s = 86400;
  seed(1, "open", payload_of(open));
  Opened opened;
  opened.receiver_is_root = true;
  seed(2, "opened", payload_of(opened));
  seed(3, "end-of-list", payload_of(EndOfList{50000, 2}));
  seed(4, "want", payload_of(Want{7, wire::kWantHasSignature, 3000, 700, 4, 5}));
  Encoder data;
  encode_file_data_head(300, data);
  data.raw("some bytes");
  seed(5, "file-data", data.data());
  seed(6, "compressed", std::string("\x07", 1) + "zstd bytes");
  seed(7, "file-end", payload_of(FileEnd{3, 12345, -1, 999999999, {}}));
  seed(8, "file-failed", payload_of(FileFailed{4, "Permission denied"}));
  seed(9, "message", payload_of(Message{wire::MessageLevel::kWarning, "careful"}));
  Done done;
  done.files_total = 10;
  done.files_transferred = 5;
  done.bytes_total = 1000;
  done.bytes_literal = 600;
  done.bytes_matched = 400;
  done.errors = 1;
  done.deleted = 2;
  seed(10, "done", payload_of(done));
  ProbeReport probe;
  probe.exists = probe.writable = true;
  probe.free_bytes = 1 << 30;
  probe.last_run = "finished 2026-12-01";
  seed(11, "probe-report", payload_of(probe));
  seed(12, "fatal", payload_of(Fatal{4, "lost"}));
  seed(13, "snapshot-info", payload_of(SnapshotInfo{"2026-12-02T03-15-00Z", SnapshotInfo::kLatest, "last, daily", 5000,
                                                    1 << 30, 1 << 20}));
  seed(14, "listing-end", payload_of(ListingEnd{3, 4096, 0}));
  Open forget;
  forget.operation = wire::Operation::kForget;
  forget.path = "/backups/laptop";
  forget.keep = "last=2 daily=7 within=86400";
  seed(1, "open-forget", payload_of(forget));
  Open restore_at;
  restore_at.operation = wire::Operation::kRestore;
  restore_at.path = "/backups/laptop/Users";
  restore_at.at = "<=2026-12-02T03-15-00Z";
  seed(1, "open-restore-at", payload_of(restore_at));
}

void delta_seeds() {
  Encoder ops;
  ops.varint(3000);  // basis size
  ops.varint(700);   // block size
  ops.u8(wire::kOpCopy);
  ops.varint(0);
  ops.varint(2);
  ops.u8(wire::kOpLiteral);
  ops.bytes("new");
  ops.u8(wire::kOpCopy);
  ops.varint(3);
  ops.varint(2);  // blocks 3 and 4: the short last block
  write_seed("delta_patch", "copy-literal-copy", ops.data());
  ops.u8(wire::kOpCopy);
  ops.varint(4);
  ops.varint(2);  // one block past the end
  write_seed("delta_patch", "copy-past-end", ops.data());
}

void zstd_seeds() {
  StreamCompressor c(3);
  std::string decode = "\x00";
  for (std::string_view text : {"first frame's payload", "first frame's payload, again and again"}) {
    std::string wire_bytes;
    c.compress(text.substr(0, 1), text.substr(1), &wire_bytes);
    decode += static_cast<char>(wire_bytes.size() & 0xff);
    decode += static_cast<char>(wire_bytes.size() >> 8);
    decode += wire_bytes;
  }
  write_seed("zstd_stream", "two-segments", decode);
  write_seed("zstd_stream", "round-trip",
             std::string("\x03\x05\x00"
                         "hello\x03\x00"
                         "abc",
                         13));
}

void text_seeds() {
  write_seed("filter", "rules-and-paths",
             std::string("- *.o\n+ /src/\n- build/\n- **/tmp\n+ [a-c]?.txt\n- \\*\n", 48) + '\0' +
                 "a.o\nsrc\nbuild\nx/tmp/y\nb1.txt\n*\nsrc/deep/a.o\n");

  CredentialsPackage p;
  p.name = "laptop";
  p.host = "anns-macbook";
  p.created = "2026-11-29T23:20:00Z";
  p.key_type = "ssh-ed25519";
  // The ed25519 wire form of an all-0x11 public key: the format is checked, not the key.
  std::string blob = std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) + std::string(32, '\x11');
  unsigned char b64[128];
  int n = EVP_EncodeBlock(b64, reinterpret_cast<const unsigned char*>(blob.data()),
                          static_cast<int>(blob.size()));
  p.key_base64 = std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
  p.fingerprint = key_fingerprint(p.key_base64);
  std::string package = format_package(p);
  write_seed("credentials_package", "valid", package);
  std::string crlf;
  for (char ch : package) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
  write_seed("credentials_package", "crlf", crlf);

  std::string line =
      "restrict,command=\"'/usr/bin/ferry-agent' forced --root '/backups/laptop' --allow both "
      "--append-only\" ssh-ed25519 " +
      p.key_base64 + " ferry-credentials:laptop@anns-macbook\n";
  write_seed("authorized_keys", "revoke-by-name",
             "laptop\nssh-rsa AAAAB3NzaC1yc2E= someone@else\n" + line + "# a comment\n");
  write_seed("authorized_keys", "revoke-by-fingerprint", p.fingerprint + "\n" + line);
}

void entry_and_receiver_seeds() {
  write_seed("entry_sequence", "every-kind", entries_payload(sample_list()));

  // A small tree: the root, a file with data, a folder, a symlink, an empty file.
  std::vector<FileEntry> tree = {entry("", FileType::kDirectory), entry("b", FileType::kRegular, 5),
                                 entry("c", FileType::kDirectory), entry("c/e", FileType::kRegular, 0)};
  FileEntry link = entry("c/l", FileType::kSymlink);
  link.link_target = "../b";
  tree.push_back(link);
  write_seed("receiver", "small-tree",
             frame(MsgType::kEntry, entries_payload(tree)) +
                 frame(MsgType::kEndOfList, payload_of(EndOfList{5, 0})) + file_data(1, "hello") +
                 file_end(1, "hello") + file_end(3, "") + frame(MsgType::kBye, ""));

  // "a" exists in the fuzzer's folder (3000 bytes of 'x'): a new version is sent as a delta.
  std::vector<FileEntry> update = {entry("", FileType::kDirectory), entry("a", FileType::kRegular, 2103)};
  std::string content = std::string(2100, 'x') + "new";
  Encoder delta;
  delta.varint(1);  // index
  delta.u8(wire::kOpCopy);
  delta.varint(0);
  delta.varint(3);
  delta.u8(wire::kOpLiteral);
  delta.bytes("new");
  write_seed("receiver", "delta-update",
             frame(MsgType::kEntry, entries_payload(update)) +
                 frame(MsgType::kEndOfList, payload_of(EndOfList{2, 0})) +
                 frame(MsgType::kFileDelta, delta.data()) + file_end(1, content) + frame(MsgType::kBye, ""));

  // The same file's data whole, compressed.
  StreamCompressor c(3);
  Encoder head;
  encode_file_data_head(1, head);
  std::string compressed = "\x07";  // inner type: FileData
  c.compress(head.data(), content, &compressed);
  write_seed("receiver", "compressed-data",
             frame(MsgType::kEntry, entries_payload(update)) +
                 frame(MsgType::kEndOfList, payload_of(EndOfList{2, 0})) +
                 frame(MsgType::kCompressed, compressed) + file_end(1, content) + frame(MsgType::kBye, ""));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  frame_parser_seeds();
  messages_seeds();
  delta_seeds();
  zstd_seeds();
  text_seeds();
  entry_and_receiver_seeds();
  return 0;
}
