// Seals (seal/): records, the hash tree built as records stream past, and seal files that are
// patched while written and refused when truncated, altered or out of order.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <algorithm>
#include <string>
#include <vector>

#include "seal/content_hash.h"
#include "seal/seal_error.h"
#include "seal/seal_file.h"
#include "seal/seal_record.h"
#include "seal/seal_tree.h"
#include "seal/sealed_hashes.h"
#include "support/temp_dir.h"

using namespace ferry;
using ferry::test::TempDir;
namespace fs = std::filesystem;

namespace {

SealRecord record(const std::string& path, FileType type, const std::string& content = "") {
  SealRecord r;
  r.entry.path = path;
  r.entry.type = type;
  r.entry.mode = type == FileType::kDirectory ? 0755 : 0644;
  r.entry.uid = 1000;
  r.entry.gid = 100;
  r.entry.mtime_sec = 1700000000;
  r.entry.mtime_nsec = 5;
  if (type == FileType::kRegular) {
    r.entry.size = content.size();
    r.content = sha256_of(content);
  }
  if (type == FileType::kSymlink) r.entry.link_target = "target";
  return r;
}

struct SealDir {
  TempDir dir;
  int fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ~SealDir() { ::close(fd); }
  std::string path(const std::string& name) const { return dir.path() + "/" + name; }
  UniqueFd open(const std::string& name) const { return UniqueFd(::openat(fd, name.c_str(), O_RDONLY | O_CLOEXEC)); }
  std::string read(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary | std::ios::trunc) << bytes;
  }
};

SealSummary write_sample(const SealDir& d, const std::string& name, const std::string& b_content = "bee") {
  SealWriter w(d.fd, name + ".new", "2026-12-06T05-00-00Z", seal_flags::kComplete);
  w.append(record("", FileType::kDirectory));
  w.append(record("a", FileType::kDirectory));
  uint64_t pending = w.append(record("a/b", FileType::kRegular));  // its data arrives later
  w.append(record("a/c", FileType::kSymlink));
  w.append(record("z", FileType::kRegular, "zed"));
  SealRecord arrived = record("a/b", FileType::kRegular, b_content);
  w.patch(pending, arrived.content, 1700000100, 7);
  return w.finish(name, /*sync=*/false);
}

}  // namespace

TEST_CASE("a seal record keeps the entry, its content hash and its mtime, and only those") {
  SealRecord r = record("dir/file", FileType::kRegular, "hello");
  r.entry.xattrs = {{"user.a", "1"}};
  r.entry.hardlink_of = 7;          // depends on the run: not sealed
  r.entry.content_hash = "0123456789abcdef";
  SealRecord back = decode_seal_record(encode_seal_record(r));
  CHECK(back.entry == canonical_entry(r.entry));
  CHECK(back.content == r.content);
  CHECK(back.entry.mtime_sec == 1700000000);
  CHECK(seal_differences(r, back).empty());
}

TEST_CASE("seal_differences names what changed") {
  SealRecord sealed = record("f", FileType::kRegular, "one");
  SealRecord now = sealed;
  now.content = sha256_of("two");
  now.entry.mode = 0600;
  auto diff = seal_differences(sealed, now);
  REQUIRE(diff.size() == 2);
  CHECK(diff[0] == "content");
  CHECK(diff[1] == "mode 0644 -> 0600");
  now.flags = SealRecord::kContentUnread;  // --sample: metadata only
  CHECK(seal_differences(sealed, now).size() == 1);
}

TEST_CASE("a malformed record is refused, not trusted") {
  std::string body = encode_seal_record(record("f", FileType::kRegular, "x"));
  CHECK_THROWS_AS(decode_seal_record(body.substr(0, 20)), SealFormatError);
  std::string bad_flags = body;
  bad_flags[0] = char(0x80);
  CHECK_THROWS_AS(decode_seal_record(bad_flags), SealFormatError);
  std::string bad_nsec = body;
  bad_nsec[kSealMtimeOffset + 8] = char(0xff);
  bad_nsec[kSealMtimeOffset + 11] = char(0x7f);
  CHECK_THROWS_AS(decode_seal_record(bad_nsec), SealFormatError);
}

TEST_CASE("the tree's root changes with any leaf and with the shape, and refuses a bad order") {
  auto root_of = [](const std::vector<std::pair<std::string, bool>>& paths, const Sha256Digest& changed_leaf,
                    size_t changed_at) {
    SealTree t;
    for (size_t i = 0; i < paths.size(); ++i) {
      Sha256Digest leaf = i == changed_at ? changed_leaf : sha256_of(paths[i].first);
      t.add(paths[i].first, paths[i].second, leaf);
    }
    return t.finish("id", 0);
  };
  std::vector<std::pair<std::string, bool>> tree = {{"", true}, {"a", true}, {"a/b", false}, {"c", false}};
  Sha256Digest base = root_of(tree, {}, 99);
  CHECK(base == root_of(tree, {}, 99));
  CHECK(base != root_of(tree, sha256_of("other"), 2));
  // The same leaves with "a" a file and "a/b" moved up: another shape, another root.
  std::vector<std::pair<std::string, bool>> flat = {{"", true}, {"a", false}, {"a/b", false}, {"c", false}};
  CHECK_THROWS_AS(root_of(flat, {}, 99), SealFormatError);  // "a/b" under a file
  SealTree t;
  t.add("", true, {});
  t.add("b", false, {});
  CHECK_THROWS_AS(t.add("a", false, {}), SealFormatError);
  SealTree no_root;
  CHECK_THROWS_AS(no_root.add("a", false, {}), SealFormatError);
}

TEST_CASE("a seal file is patched while written, reads back, and checks against its root") {
  SealDir d;
  SealSummary written = write_sample(d, "one.seal");
  CHECK(written.entries == 5);
  CHECK(!fs::exists(d.path("one.seal.new")));
  SealSummary checked = check_seal_file(d.open("one.seal"), "one.seal");
  CHECK(checked.root == written.root);
  CHECK(checked.id == "2026-12-06T05-00-00Z");
  CHECK(checked.flags == seal_flags::kComplete);

  // The patched record reads back with its content and mtime.
  SealReader reader(d.open("one.seal"), "one.seal");
  std::string body;
  REQUIRE(reader.next(&body));
  REQUIRE(reader.next(&body));
  REQUIRE(reader.next(&body));
  SealRecord b = decode_seal_record(body);
  CHECK(b.entry.path == "a/b");
  CHECK(b.content == sha256_of("bee"));
  CHECK(b.entry.mtime_sec == 1700000100);
  CHECK(b.entry.mtime_nsec == 7);

  // Other content for one file: another root.
  CHECK(write_sample(d, "two.seal", "BEE").root != written.root);
}

TEST_CASE("a seal file truncated, altered or with bytes after it is refused with its name") {
  SealDir d;
  write_sample(d, "good.seal");
  std::string bytes = d.read("good.seal");

  d.write("cut.seal", bytes.substr(0, bytes.size() - 10));
  CHECK_THROWS_WITH_AS(check_seal_file(d.open("cut.seal"), "cut.seal"), doctest::Contains("truncated"),
                       SealFormatError);
  d.write("cut2.seal", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_AS(check_seal_file(d.open("cut2.seal"), "cut2.seal"), SealFormatError);

  std::string flipped = bytes;
  size_t at = bytes.size() - 60;
  flipped[at] = static_cast<char>(flipped[at] ^ 1);  // a byte in the last record's hash
  d.write("flip.seal", flipped);
  CHECK_THROWS_AS(check_seal_file(d.open("flip.seal"), "flip.seal"), SealFormatError);

  d.write("more.seal", bytes + "x");
  CHECK_THROWS_WITH_AS(check_seal_file(d.open("more.seal"), "more.seal"), doctest::Contains("after its root"),
                       SealFormatError);
  d.write("text.seal", "hello, world\n");
  CHECK_THROWS_WITH_AS(check_seal_file(d.open("text.seal"), "text.seal"), doctest::Contains("not a seal"),
                       SealFormatError);
  std::string huge = bytes.substr(0, 10 + 3 + 20);
  huge += std::string("\xff\xff\xff\x7f", 4);
  d.write("huge.seal", huge);
  CHECK_THROWS_WITH_AS(check_seal_file(d.open("huge.seal"), "huge.seal"), doctest::Contains("longer than 768 KiB"),
                       SealFormatError);
}

TEST_CASE("a record marked not stored is still part of the tree, and says so") {
  SealDir d;
  SealWriter w(d.fd, "x.new", "id", 0);
  w.append(record("", FileType::kDirectory));
  uint64_t at = w.append(record("f", FileType::kRegular, "data"));
  w.mark_not_stored(at);
  w.finish("x.seal", false);
  SealReader reader(d.open("x.seal"), "x.seal");
  std::string body;
  REQUIRE(reader.next(&body));
  REQUIRE(reader.next(&body));
  CHECK((decode_seal_record(body).flags & SealRecord::kNotStored) != 0);
}

// Records are patched when their data arrives, mostly after they were written out: the patches
// are gathered and written together (SealWriter::apply_patches), which must lose none, keep the
// last of two patches of one record, and keep a not-stored mark made in between.
TEST_CASE("patches to records already written all reach the file, the last one of a record winning") {
  SealDir d;
  SealWriter w(d.fd, "many.new", "id", 0);
  w.append(record("", FileType::kDirectory));
  const int files = 12000;  // several of the writer's buffers, and several batches of patches
  std::vector<uint64_t> at;
  for (int i = 0; i < files; ++i) at.push_back(w.append(record("f" + std::to_string(100000 + i), FileType::kRegular)));
  std::vector<int> order(files);
  for (int i = 0; i < files; ++i) order[i] = (i * 7919) % files;  // 7919 is prime: every file once, scattered
  for (int i : order) w.patch(at[i], sha256_of("early " + std::to_string(i)), 1, 0);
  for (int i : order) {
    if (i % 3 == 0) w.mark_not_stored(at[i]);
    w.patch(at[i], sha256_of("retried " + std::to_string(i)), 2, 0);  // in the same batch as the next
    w.patch(at[i], sha256_of("data " + std::to_string(i)), 1700000000 + i, static_cast<uint32_t>(i));
  }
  w.set_flags(seal_flags::kComplete);
  w.finish("many.seal", false);

  SealSummary checked = check_seal_file(d.open("many.seal"), "many.seal");
  CHECK(checked.flags == seal_flags::kComplete);
  SealReader reader(d.open("many.seal"), "many.seal");
  std::string body;
  REQUIRE(reader.next(&body));
  int right = 0;
  for (int i = 0; i < files; ++i) {
    REQUIRE(reader.next(&body));
    SealRecord r = decode_seal_record(body);
    bool not_stored = (r.flags & SealRecord::kNotStored) != 0;
    if (r.content == sha256_of("data " + std::to_string(i)) && r.entry.mtime_sec == 1700000000 + i &&
        r.entry.mtime_nsec == static_cast<uint32_t>(i) && not_stored == (i % 3 == 0)) {
      ++right;
    }
  }
  CHECK(right == files);
  CHECK_FALSE(reader.next(&body));
}

// A hard link's record takes its first name's content at the end of a run (SealRecorder::finish):
// what the first name's record holds by then, patches included, or its not-stored mark.
TEST_CASE("a hard link's record takes its first name's content, or its not-stored mark") {
  SealDir d;
  SealWriter w(d.fd, "links.new", "id", 0);
  w.append(record("", FileType::kDirectory));
  const int inodes = 3000;  // first names in the file and in the buffer, patches in and out of batches
  std::vector<uint64_t> first, later;
  w.append(record("a", FileType::kDirectory));
  for (int i = 0; i < inodes; ++i) first.push_back(w.append(record("a/f" + std::to_string(10000 + i), FileType::kRegular)));
  w.append(record("b", FileType::kDirectory));
  for (int i = 0; i < inodes; ++i) later.push_back(w.append(record("b/f" + std::to_string(10000 + i), FileType::kRegular)));
  for (int i = 0; i < inodes; ++i) {
    if (i % 5 == 0) {
      w.mark_not_stored(first[i]);
    } else {
      w.patch(first[i], sha256_of("data " + std::to_string(i)), 1700000000 + i, static_cast<uint32_t>(i));
    }
  }
  for (int i = inodes; i-- > 0;) w.copy_content(first[i], later[i]);
  w.finish("links.seal", false);

  SealReader reader(d.open("links.seal"), "links.seal");
  std::string body;
  REQUIRE(reader.next(&body));
  std::vector<SealRecord> records;
  while (reader.next(&body)) records.push_back(decode_seal_record(body));
  REQUIRE(records.size() == 2 * inodes + 2);
  int right = 0;
  for (int i = 0; i < inodes; ++i) {
    const SealRecord& a = records[1 + i];
    const SealRecord& b = records[2 + inodes + i];
    bool not_stored = i % 5 == 0;
    if (b.entry.path == "b/f" + std::to_string(10000 + i) && ((b.flags & SealRecord::kNotStored) != 0) == not_stored &&
        (not_stored || (b.content == sha256_of("data " + std::to_string(i)) && b.content == a.content &&
                        b.entry.mtime_sec == 1700000000 + i && b.entry.mtime_nsec == static_cast<uint32_t>(i)))) {
      ++right;
    }
  }
  CHECK(right == inodes);
}

TEST_CASE("the content hash is the same whether hashed in one thread or by chunks on several, holes included") {
  std::string data(3 * kContentChunkBytes + 12345, '\0');
  uint32_t x = 7;
  for (char& c : data) c = static_cast<char>((x = x * 1103515245 + 12345) >> 24);
  // Pieces of odd sizes that straddle chunk boundaries, and a hole across one.
  struct Piece {
    size_t at, len;
    bool hole;
  };
  std::vector<Piece> pieces;
  size_t at = 0;
  size_t sizes[] = {1, 700000, 262144, 2 * kContentChunkBytes, 5};
  for (size_t i = 0; at < data.size(); ++i) {
    size_t len = std::min(sizes[i % 5], data.size() - at);
    bool hole = i == 3;
    if (hole) std::fill(data.begin() + static_cast<long>(at), data.begin() + static_cast<long>(at + len), '\0');
    pieces.push_back({at, len, hole});
    at += len;
  }
  ContentHasher one;
  one.update(data.data(), data.size());
  Sha256Digest whole = one.finish();
  for (unsigned workers : {1u, 2u, 4u}) {
    CAPTURE(workers);
    ParallelContentHasher many(workers);
    for (const Piece& p : pieces) {
      if (p.hole) many.update_zeros(p.len);
      else many.update(data.data() + p.at, p.len);
    }
    CHECK(many.finish() == whole);
    // And again: finish starts over.
    many.update(data.data(), data.size());
    CHECK(many.finish() == whole);
  }
  ContentHasher pieces_one;
  for (const Piece& p : pieces) {
    if (p.hole) pieces_one.update_zeros(p.len);
    else pieces_one.update(data.data() + p.at, p.len);
  }
  CHECK(pieces_one.finish() == whole);
  // An empty file, a file of exactly one chunk, one byte more: all different.
  ContentHasher empty, exact, more;
  Sha256Digest e = empty.finish();
  exact.update(data.data(), kContentChunkBytes);
  more.update(data.data(), kContentChunkBytes + 1);
  Sha256Digest x1 = exact.finish(), x2 = more.finish();
  CHECK(e != x1);
  CHECK(x1 != x2);
  ParallelContentHasher empty_many(2);
  CHECK(empty_many.finish() == e);
}

TEST_CASE("a hole of many chunks queued at once does not stall the parallel hasher") {
  ParallelContentHasher many(2);
  many.update_zeros(64 * kContentChunkBytes + 3);  // more pieces than the queues hold
  // Whole chunks of a hole take a digest known in advance: it must be the zeros' own.
  std::string zeros(64 * kContentChunkBytes + 3, '\0');
  ContentHasher one, hole;
  one.update(zeros.data(), zeros.size());
  hole.update_zeros(1);
  hole.update_zeros(zeros.size() - 1);  // from mid-chunk: shortcut for the whole chunks after it
  Sha256Digest want = one.finish();
  CHECK(many.finish() == want);
  CHECK(hole.finish() == want);
}

TEST_CASE("a restoring sender finds each file's sealed hash in list order, and again after going back") {
  SealDir d;
  write_sample(d, "mirror.seal", "bee");
  SealedHashes hashes(UniqueFd(::dup(d.fd)), "mirror.seal", "a");  // the folder a restored alone
  std::optional<Sha256Digest> b = hashes.find("b");
  REQUIRE(b);
  CHECK(*b == sha256_of("bee"));  // the hash patched in when its data arrived
  CHECK(!hashes.find("c"));       // a symlink: no content hash
  CHECK(!hashes.find("d"));       // not in the seal
  // A file sent again after the cursor moved past it: the seal is read again from its start.
  std::optional<Sha256Digest> again = hashes.find("b");
  REQUIRE(again);
  CHECK(*again == *b);

  SealedHashes top(UniqueFd(::dup(d.fd)), "mirror.seal", "");
  CHECK(top.find("z") == sha256_of("zed"));
  CHECK(top.exists());
  SealedHashes none(UniqueFd(::dup(d.fd)), "missing.seal", "");
  CHECK(!none.exists());   // the agent then does not ask the receiver to hash
  CHECK(!none.find("z"));  // no seal: nothing to check against, not an error
}

TEST_CASE("a file the seal marks not stored has no hash to restore against") {
  SealDir d;
  SealWriter w(d.fd, "x.new", "id", 0);
  w.append(record("", FileType::kDirectory));
  uint64_t at = w.append(record("f", FileType::kRegular, "data"));
  w.append(record("g", FileType::kRegular, "gee"));
  w.mark_not_stored(at);
  w.finish("x.seal", false);
  SealedHashes hashes(UniqueFd(::dup(d.fd)), "x.seal", "");
  CHECK(!hashes.find("f"));
  CHECK(hashes.find("g") == sha256_of("gee"));
}
