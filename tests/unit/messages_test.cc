#include <doctest/doctest.h>

#include "base/bytes.h"
#include "base/error.h"
#include "protocol/messages.h"

using namespace ferry;

namespace {

FileEntry sample_entry() {
  FileEntry e;
  e.path = "dir/-odd name\n\xff";
  e.type = FileType::kRegular;
  e.mode = 06755;
  e.uid = 501;
  e.gid = 20;
  e.mtime_sec = -5;  // before 1970
  e.mtime_nsec = 999'999'999;
  e.size = 1u << 31;
  e.hardlink_of = 3;
  e.xattrs = {{"user.a", std::string("\0bin", 4)}, {"user.b", ""}};
  return e;
}

std::string encoded(const FileEntry& e) {
  Encoder enc;
  encode_entry(e, enc);
  return enc.take();
}

}  // namespace

TEST_CASE("entries round-trip, and re-encode to the same bytes") {
  FileEntry e = sample_entry();
  std::string bytes = encoded(e);
  FileEntry back = decode_entry(bytes);
  CHECK(back == e);
  CHECK(encoded(back) == bytes);

  FileEntry link;
  link.path = "l";
  link.type = FileType::kSymlink;
  link.link_target = "../../etc/passwd";  // stored verbatim; never followed
  CHECK(decode_entry(encoded(link)) == link);

  FileEntry dev;
  dev.path = "null";
  dev.type = FileType::kCharDevice;
  dev.dev_major = 1;
  dev.dev_minor = 3;
  CHECK(decode_entry(encoded(dev)) == dev);
}

TEST_CASE("ACLs travel as checked text: never on a symlink, a default one only on a directory") {
  FileEntry file = sample_entry();
  file.acl = "u:1001:rw-,g::r-x,g:50:r--";
  CHECK(decode_entry(encoded(file)) == file);
  FileEntry dir;
  dir.path = "d";
  dir.type = FileType::kDirectory;
  dir.default_acl = "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::r-x";
  CHECK(decode_entry(encoded(dir)) == dir);

  FileEntry bad = file;
  bad.acl = "u:1001:rw-\nforged";
  CHECK_THROWS_WITH(decode_entry(encoded(bad)), ("protocol error: malformed ACL of " + file.path).c_str());
  bad.acl = "u:1001:rw- o::rwx";  // a space would split the stored-metadata line
  CHECK_THROWS_AS(decode_entry(encoded(bad)), ProtocolError);
  bad.acl = std::string(wire::kMaxAclTextBytes + 1, 'u');
  CHECK_THROWS_AS(decode_entry(encoded(bad)), ProtocolError);
  bad = file;
  bad.acl.clear();
  bad.default_acl = "u::rwx,g::r-x,o::r-x";
  CHECK_THROWS_WITH(decode_entry(encoded(bad)), ("protocol error: malformed default ACL of " + file.path).c_str());
  FileEntry link;
  link.path = "l";
  link.type = FileType::kSymlink;
  link.link_target = "x";
  link.acl = "u:1:r--";
  CHECK_THROWS_WITH(decode_entry(encoded(link)), "protocol error: an ACL on a symlink");
}

TEST_CASE("file flags travel on files and folders only, within the bits Ferry knows") {
  FileEntry file = sample_entry();
  file.flags = file_flags::kImmutable | file_flags::kNoDump;
  CHECK(decode_entry(encoded(file)) == file);
  FileEntry bad = file;
  bad.flags = file_flags::kKnown + 1;
  CHECK_THROWS_WITH(decode_entry(encoded(bad)), "protocol error: field flags = 64 exceeds the limit 63");
  FileEntry link;
  link.path = "l";
  link.type = FileType::kSymlink;
  link.link_target = "x";
  link.flags = file_flags::kNoDump;
  CHECK_THROWS_WITH(decode_entry(encoded(link)), "protocol error: file flags on l, which cannot have them");
}

TEST_CASE("a list codes each entry against the previous one, and decodes back exactly") {
  std::vector<FileEntry> list;
  for (int i = 0; i < 50; ++i) {
    FileEntry e = sample_entry();
    e.path = "photos/2026/img_" + std::to_string(1000 + i) + ".jpg";
    e.xattrs.clear();
    e.mtime_nsec = static_cast<uint32_t>(i * 7919);
    if (i % 10 == 3) e.uid = 4242;  // an owner that differs now and then
    if (i % 17 == 5) e.xattrs = {{"user.tag", "red"}};
    if (i % 7 == 1) e.content_hash = std::string(16, static_cast<char>(i));  // --checksum
    list.push_back(e);
  }
  EntryEncoder enc;
  Encoder batch;
  for (const FileEntry& e : list) enc.encode(e, batch);
  size_t standalone = 0;
  for (const FileEntry& e : list) standalone += encoded(e).size();
  CHECK(batch.data().size() * 2 < standalone);  // shared prefixes and repeated fields left out

  EntryDecoder dec;
  Decoder d(batch.data());
  for (const FileEntry& e : list) CHECK(dec.decode(d) == e);
  CHECK(d.at_end());
}

TEST_CASE("hostile paths in an entry are refused with the path named") {
  for (const char* path : {"../x", "/etc/passwd", "a/../../b", "a//b", "a/./b", "a/"}) {
    FileEntry e = sample_entry();
    e.path = path;
    CAPTURE(path);
    CHECK_THROWS_AS(decode_entry(encoded(e)), ProtocolError);
  }
  FileEntry e = sample_entry();
  e.path = "../evil";
  CHECK_THROWS_WITH(decode_entry(encoded(e)), "protocol error: refused path \"../evil\": '..' component");
}

TEST_CASE("every field of an entry is range-checked") {
  // Corrupt one field of a valid frame at a time and expect the exact complaint.
  FileEntry e = sample_entry();
  e.mode = 07777;
  std::string bytes = encoded(e);
  // flags (nothing repeats the previous entry), path prefix 0, path, then what is under test
  Encoder head;
  head.u8(0);
  head.varint(0);
  head.bytes(e.path);
  SUBCASE("mode above 07777") {
    Encoder enc = head;
    enc.u8(1);
    enc.varint(010000);
    CHECK_THROWS_WITH(decode_entry(enc.data()), "protocol error: field mode = 4096 exceeds the limit 4095");
  }
  SUBCASE("unknown type") {
    Encoder enc = head;
    enc.u8(9);
    CHECK_THROWS_WITH(decode_entry(enc.data()), "protocol error: unknown file type 9");
  }
  SUBCASE("unknown extras") {
    Encoder enc;
    enc.u8(0x80);
    enc.varint(0);
    enc.bytes("f");
    enc.u8(1);        // regular
    enc.varint(0644);
    enc.varint(0);    // uid
    enc.varint(0);    // gid
    enc.svarint(0);   // mtime
    enc.varint(0);    // nsec
    enc.varint(0);    // size
    enc.varint(0);    // hardlink_of
    enc.varint(8);    // extras: a bit this version does not know
    CHECK_THROWS_WITH(decode_entry(enc.data()), "protocol error: unknown entry extras 8");
  }
  SUBCASE("a path prefix longer than the previous path") {
    Encoder enc;
    enc.u8(0);
    enc.varint(1);
    CHECK_THROWS_WITH(decode_entry(enc.data()), "protocol error: field path_prefix = 1 exceeds the limit 0");
  }
  SUBCASE("trailing garbage") {
    CHECK_THROWS_WITH(decode_entry(bytes + "x"), "protocol error: 1 unexpected trailing bytes in Entry");
  }
  SUBCASE("every truncation") {
    for (size_t n = 0; n < bytes.size(); ++n) {
      CAPTURE(n);
      CHECK_THROWS_AS(decode_entry(bytes.substr(0, n)), ProtocolError);
    }
  }
  SUBCASE("unsorted xattrs") {
    FileEntry u = sample_entry();
    std::swap(u.xattrs[0], u.xattrs[1]);
    CHECK_THROWS_WITH(decode_entry(encoded(u)), "protocol error: xattr names not sorted or duplicated");
  }
  SUBCASE("too many xattrs") {
    FileEntry u = sample_entry();
    u.xattrs.clear();
    for (int i = 0; i < 300; ++i) u.xattrs.push_back({"user." + std::to_string(1000 + i), ""});
    CHECK_THROWS_WITH(decode_entry(encoded(u)), "protocol error: field xattr_count = 300 exceeds the limit 256");
  }
  SUBCASE("nanoseconds out of range") {
    FileEntry u = sample_entry();
    u.mtime_nsec = 1'000'000'000;
    CHECK_THROWS_AS(decode_entry(encoded(u)), ProtocolError);
  }
}

TEST_CASE("the owning group's own permissions are read from an ACL's text, not its mask") {
  CHECK(acl_owning_group_bits("u:1001:rw-,g::r-x,g:50:rwx") == 050);
  CHECK(acl_owning_group_bits("g::---,u:7:rwx") == 0);
  CHECK(acl_owning_group_bits("g:50:rwx,g::-w-") == 020);
  CHECK(acl_owning_group_bits("u:1001:rwx") == 0);  // none: nothing for the group
  CHECK(acl_owning_group_bits("") == 0);
}

TEST_CASE("a sender keeps of a file's xattrs what an entry may carry, and names the rest") {
  FileEntry e = sample_entry();
  e.xattrs.clear();
  // Sorted names: one value over 64 KiB (a resource fork), then enough 60 KiB values to pass
  // 512 KiB together, then small ones past the count of 256.
  e.xattrs.push_back({"com.apple.ResourceFork", std::string(70'000, 'r')});
  for (int i = 0; i < 9; ++i) e.xattrs.push_back({"user.big" + std::to_string(i), std::string(60'000, 'b')});
  for (int i = 0; i < 300; ++i) e.xattrs.push_back({"user.small" + std::to_string(1000 + i), "s"});
  FileEntry whole = e;
  CHECK_THROWS(decode_entry(encoded(whole)));  // what a receiver does with it as it is
  std::vector<std::string> dropped = keep_xattrs_within_bounds(&e.xattrs);
  REQUIRE(dropped.size() == 1 + 1 + (300 - 248));
  CHECK(dropped[0] == "com.apple.ResourceFork");
  CHECK(dropped[1] == "user.big8");         // 8 of 60,000 fit in 512 KiB, the ninth does not
  CHECK(dropped[2] == "user.small1248");    // 8 + 248 = 256 carried
  CHECK(e.xattrs.size() == 256);
  CHECK(e.xattrs.front().name == "user.big0");
  CHECK(e.xattrs.back().name == "user.small1247");
  CHECK(decode_entry(encoded(e)).xattrs == e.xattrs);
  // Within the bounds, nothing changes.
  FileEntry fits = sample_entry();
  CHECK(keep_xattrs_within_bounds(&fits.xattrs).empty());
  CHECK(fits == sample_entry());
}

TEST_CASE("control messages round-trip and check their fields") {
  Encoder e;
  Open open;
  open.operation = wire::Operation::kRestore;
  open.path = "/backups/mac/Users/ann";
  open.flags = wire::kOpenDryRun | wire::kOpenCompress | wire::kOpenSafetyNet;
  open.timeout_s = 30;
  open.compress_level = -5;
  open.skip_compress = "gz/jpg";
  open.rate_limit = 10 << 20;
  open.filters = "- *.o\n+ /keep/**\n";
  open.safety_net_keep_s = 30 * 86400;
  open.safety_net_keep_bytes = 50ull << 30;
  open.encode(e);
  Open back = Open::decode(e.data());
  CHECK(back.operation == wire::Operation::kRestore);
  CHECK(back.path == "/backups/mac/Users/ann");
  CHECK(back.flags == (wire::kOpenDryRun | wire::kOpenCompress | wire::kOpenSafetyNet));
  CHECK(back.timeout_s == 30);
  CHECK(back.compress_level == -5);
  CHECK(back.skip_compress == "gz/jpg");
  CHECK(back.rate_limit == 10 << 20);
  CHECK(back.filters == open.filters);
  CHECK(back.safety_net_keep_s == 30 * 86400);
  CHECK(back.safety_net_keep_bytes == 50ull << 30);

  Encoder rel;
  Open relative = open;
  relative.path = "relative/path";  // the agent resolves it (resolve_relative_path)
  relative.encode(rel);
  CHECK(Open::decode(rel.data()).path == "relative/path");
  Encoder nul;
  Open with_nul = open;
  with_nul.path = std::string("/a\0b", 4);
  with_nul.encode(nul);
  CHECK_THROWS_WITH(Open::decode(nul.data()), "protocol error: the agent's path is empty or holds a NUL byte");

  Encoder level;
  Open too_high = open;
  too_high.compress_level = 23;
  too_high.encode(level);
  CHECK_THROWS_WITH(Open::decode(level.data()), "protocol error: compress_level 23 is out of range");

  Encoder flags;
  Open unknown = open;
  unknown.flags = wire::kOpenCompress | wire::kOpenSafetyNet | (1u << 13);
  unknown.encode(flags);
  CHECK_THROWS_WITH(Open::decode(flags.data()), "protocol error: unknown Open flags 8258");
  Encoder single_delete;
  Open single = open;
  single.flags = wire::kOpenCompress | wire::kOpenSafetyNet | wire::kOpenDelete | wire::kOpenSingleFile;
  single.encode(single_delete);
  CHECK_THROWS_WITH(Open::decode(single_delete.data()),
                    "protocol error: Open asks for a single file in an operation that is not a plain backup");
  Encoder lone_force;
  Open force = open;
  force.flags = wire::kOpenCompress | wire::kOpenSafetyNet | wire::kOpenForce;
  force.encode(lone_force);
  CHECK_THROWS_WITH(Open::decode(lone_force.data()), "protocol error: Open asks for --force without --delete");

  // A snapshot is made only by a backup, and read only by a restore.
  Encoder restore_snapshot;
  Open r = open;
  r.flags |= wire::kOpenSnapshot;
  r.encode(restore_snapshot);
  CHECK_THROWS_WITH(Open::decode(restore_snapshot.data()),
                    "protocol error: Open asks for a snapshot in an operation that is not a backup");
  Encoder backup_at;
  Open b = open;
  b.operation = wire::Operation::kBackup;
  b.at = "latest";
  b.encode(backup_at);
  CHECK_THROWS_WITH(Open::decode(backup_at.data()),
                    "protocol error: Open names a snapshot to restore in an operation that is not a restore");
  Encoder long_at;
  Open l = open;
  l.at = std::string(wire::kMaxSnapshotAtBytes + 1, '2');
  l.encode(long_at);
  CHECK_THROWS(Open::decode(long_at.data()));
  l.at = "<=2026-12-02T03-15-00Z";
  Encoder good_at;
  l.encode(good_at);
  CHECK(Open::decode(good_at.data()).at == "<=2026-12-02T03-15-00Z");

  // Fields of a feature the flags did not ask for are refused, not ignored.
  struct NotNegotiated {
    uint64_t flags_cleared;
    const char* error;
  };
  for (NotNegotiated c : {NotNegotiated{wire::kOpenCompress, "protocol error: Open carries compression settings but "
                                                              "does not ask for compression"},
                          NotNegotiated{wire::kOpenSafetyNet, "protocol error: Open carries safety-net limits but no "
                                                               "safety net"}}) {
    Encoder without;
    Open o = open;
    o.flags &= ~c.flags_cleared;
    o.encode(without);
    CHECK_THROWS_WITH(Open::decode(without.data()), c.error);
  }
  Encoder auto_alone;
  Open a = open;
  a.flags = wire::kOpenCompressAuto;
  a.compress_level = 0;
  a.skip_compress.clear();
  a.safety_net_keep_s = a.safety_net_keep_bytes = 0;
  a.encode(auto_alone);
  CHECK_THROWS_WITH(Open::decode(auto_alone.data()), "protocol error: Open asks for compress=auto without compression");
  Encoder excluded_alone;
  a.flags = wire::kOpenDeleteExcluded;
  a.encode(excluded_alone);
  CHECK_THROWS_WITH(Open::decode(excluded_alone.data()), "protocol error: Open asks for delete-excluded without delete");

  Encoder failed_e;
  FileFailed{7, "gone", wire::kFailedVanished}.encode(failed_e);
  FileFailed failed_back = FileFailed::decode(failed_e.data());
  CHECK(failed_back.index == 7);
  CHECK(failed_back.reason == "gone");
  CHECK(failed_back.flags == wire::kFailedVanished);
  Encoder both_e;
  FileFailed{7, "gone", wire::kFailedVanished | wire::kFailedWillRetry}.encode(both_e);
  CHECK_THROWS_WITH(FileFailed::decode(both_e.data()), "protocol error: FileFailed both retries and gives up");

  Encoder list_end;
  EndOfList{12, 3}.encode(list_end);
  EndOfList list_back = EndOfList::decode(list_end.data());
  CHECK(list_back.entries == 12);
  CHECK(list_back.list_errors == 3);

  Encoder done_e;
  Done done;
  done.deleted = 4;
  done.kept_in_safety_net = 5;
  done.encode(done_e);
  Done done_back = Done::decode(done_e.data());
  CHECK(done_back.deleted == 4);
  CHECK(done_back.kept_in_safety_net == 5);

  FileEnd end{7, 12345, 1700000000, 5, {}};
  end.hash[0] = 0xab;
  end.hash[15] = 0xcd;
  Encoder fe;
  end.encode(fe);
  FileEnd end_back = FileEnd::decode(fe.data());
  CHECK(end_back.index == 7);
  CHECK(end_back.size == 12345);
  CHECK(end_back.hash == end.hash);
  CHECK_THROWS_AS(FileEnd::decode(fe.data().substr(0, fe.data().size() - 1)), ProtocolError);

  Encoder pe;
  ProbeReport probe;
  probe.exists = true;
  probe.last_run = "state=finished files=3";
  probe.holder = "host=h pid=1";
  probe.encode(pe);
  ProbeReport probe_back = ProbeReport::decode(pe.data());
  CHECK(probe_back.exists);
  CHECK(probe_back.last_run == "state=finished files=3");
  CHECK(probe_back.holder == "host=h pid=1");

  Encoder m;
  Message{wire::MessageLevel::kWarning, "careful"}.encode(m);
  std::string bad_level = m.data();
  bad_level[0] = 7;
  CHECK_THROWS_WITH(Message::decode(bad_level), "protocol error: unknown message level 7");
}

TEST_CASE("a backup's Open and Opened carry the destination's volume, whole or not at all") {
  Open open;
  open.path = "/Volumes/Backup Disk/mac";
  open.volume_mount = "/Volumes/Backup Disk";
  open.volume_id = "apfs:1a2b3c";
  Encoder e;
  open.encode(e);
  Open back = Open::decode(e.data());
  CHECK(back.volume_mount == "/Volumes/Backup Disk");
  CHECK(back.volume_id == "apfs:1a2b3c");

  Open half = open;
  half.volume_id.clear();
  e.clear();
  half.encode(e);
  CHECK_THROWS_WITH(Open::decode(e.data()), "protocol error: Open names half a volume");
  Open restore = open;
  restore.operation = wire::Operation::kRestore;
  e.clear();
  restore.encode(e);
  CHECK_THROWS_AS(Open::decode(e.data()), ProtocolError);
  Open long_id = open;
  long_id.volume_id = std::string(wire::kMaxVolumeIdBytes + 1, 'x');
  e.clear();
  long_id.encode(e);
  CHECK_THROWS_AS(Open::decode(e.data()), ProtocolError);

  Opened opened{true, "/mnt/backup", "ext4:77"};
  e.clear();
  opened.encode(e);
  Opened got = Opened::decode(e.data());
  CHECK(got.receiver_is_root);
  CHECK(got.volume_mount == "/mnt/backup");
  CHECK(got.volume_id == "ext4:77");
  CHECK(!got.sealed_hashes);
}

TEST_CASE("version 9: Opened bit 2 says a restore's FileEnds carry the seal's hashes; bit 3 is refused") {
  Opened opened;
  opened.sealed_hashes = true;
  Encoder e;
  opened.encode(e);
  CHECK(e.data()[0] == 4);
  Opened got = Opened::decode(e.data());
  CHECK(got.sealed_hashes);
  CHECK(!got.single_file);
  CHECK(!got.receiver_is_root);
  std::string unknown = e.data();
  unknown[0] = 8;
  CHECK_THROWS_AS(Opened::decode(unknown), ProtocolError);
}

TEST_CASE("a FileHole is a count of zeros, never empty and never past the file bound") {
  Encoder e;
  FileHole{7, 1ull << 30}.encode(e);
  FileHole back = FileHole::decode(e.data());
  CHECK(back.index == 7);
  CHECK(back.length == 1ull << 30);
  e.clear();
  FileHole{7, 0}.encode(e);
  CHECK_THROWS_WITH(FileHole::decode(e.data()), "protocol error: FileHole of no bytes");
  e.clear();
  FileHole{7, wire::kMaxFileBytes + 1}.encode(e);
  CHECK_THROWS_AS(FileHole::decode(e.data()), ProtocolError);
}

TEST_CASE("the worked example in PROTOCOL.md") {
  Hello h;
  h.software_version = "0.9.0";
  h.euid = 0;
  Encoder e;
  h.encode(e);
  const std::string expected("\x0a\x0a\x05" "0.9.0" "\x01\x00", 10);
  CHECK(e.data() == expected);
  Hello back = Hello::decode(expected);
  CHECK(back.protocol_version == 10);
  CHECK(back.capabilities == wire::kCapZstd);
  CHECK(back.software_version == "0.9.0");
}

TEST_CASE("version 8: FileEnd's SHA-256, Done's seal, sealed entry hashes and verify's messages") {
  FileEnd end{3, 10, 1700000000, 5, {}};
  end.hash[0] = 1;
  Encoder plain;
  end.encode(plain);
  CHECK(!FileEnd::decode(plain.data()).has_sha256);
  end.has_sha256 = true;
  end.sha256[31] = 9;
  Encoder sealed;
  end.encode(sealed);
  FileEnd back = FileEnd::decode(sealed.data());
  CHECK(back.has_sha256);
  CHECK(back.sha256 == end.sha256);
  // Anything but 0 or 32 bytes after the XXH3 is refused.
  CHECK_THROWS_AS(FileEnd::decode(sealed.data().substr(0, sealed.data().size() - 1)), ProtocolError);
  CHECK_THROWS_AS(FileEnd::decode(sealed.data() + "x"), ProtocolError);

  Done done;
  done.seal_id = "2026-12-06T05-00-00Z";
  done.seal_flags = 1;
  done.seal_entries = 42;
  done.seal_root[0] = 0xab;
  Encoder d;
  done.encode(d);
  Done done_back = Done::decode(d.data());
  CHECK(done_back.seal_id == done.seal_id);
  CHECK(done_back.seal_entries == 42);
  CHECK(done_back.seal_root == done.seal_root);
  Done unsealed;
  Encoder u;
  unsealed.encode(u);
  CHECK(Done::decode(u.data()).seal_id.empty());

  FileEntry file;
  file.path = "f";
  file.sealed_content = std::string(32, 'h');
  Encoder fe;
  encode_entry(file, fe);
  CHECK(decode_entry(fe.data()).sealed_content == file.sealed_content);
  FileEntry dir;
  dir.path = "d";
  dir.type = FileType::kDirectory;
  dir.sealed_content = std::string(32, 'h');
  Encoder de;
  encode_entry(dir, de);  // not sent for a directory
  CHECK(decode_entry(de.data()).sealed_content.empty());

  Open open;
  open.path = "/dest";
  open.operation = wire::Operation::kBackup;
  open.sample_percent = 50;
  Encoder sample;
  open.encode(sample);
  CHECK_THROWS_WITH(Open::decode(sample.data()), "protocol error: Open samples files in an operation that is not a verify");
  open.operation = wire::Operation::kVerify;
  Encoder verify;
  open.encode(verify);
  CHECK(Open::decode(verify.data()).sample_percent == 50);
  open.flags = wire::kOpenSeal;
  Encoder seal_in_verify;
  open.encode(seal_in_verify);
  CHECK_THROWS_AS(Open::decode(seal_in_verify.data()), ProtocolError);
  open.flags = wire::kOpenEverySnapshot;
  open.at = "latest";
  Encoder every_at;
  open.encode(every_at);
  CHECK_THROWS_AS(Open::decode(every_at.data()), ProtocolError);

  Encoder items;
  VerifyItem{VerifyItem::kSealed, "record"}.encode(items);
  VerifyItem{VerifyItem::kMissing, ""}.encode(items);
  Decoder id(items.data());
  CHECK(VerifyItem::decode(id).kind == VerifyItem::kSealed);
  CHECK(VerifyItem::decode(id).kind == VerifyItem::kMissing);
  Encoder bad_kind;
  bad_kind.u8(9);
  bad_kind.bytes("");
  Decoder bk(bad_kind.data());
  CHECK_THROWS_AS(VerifyItem::decode(bk), ProtocolError);
  Encoder missing_with_data;
  VerifyItem{VerifyItem::kMissing, "x"}.encode(missing_with_data);
  Decoder md(missing_with_data.data());
  CHECK_THROWS_AS(VerifyItem::decode(md), ProtocolError);
  Encoder huge;
  huge.u8(VerifyItem::kExtra);
  huge.varint(wire::kMaxSealRecordBytes + 1);
  Decoder hd(huge.data());
  CHECK_THROWS_AS(VerifyItem::decode(hd), ProtocolError);

  VerifyEnd ve;
  ve.seal_id = "id";
  ve.stored_entries = 7;
  Encoder vee;
  ve.encode(vee);
  CHECK(VerifyEnd::decode(vee.data()).stored_entries == 7);
}
