// Sealed backups over the real sshd (docs/SEALS.md): a backup leaves a seal, `ferry verify`
// checks the stored files against it while the agent sends back far less than the data, names
// a byte flipped under an unchanged size and mtime and a changed mode, tells a removed,
// truncated or rewritten seal apart, and a restore refuses to write a file that no longer
// matches its seal.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "e2e/e2e.h"
#include "fs/unique_fd.h"
#include "seal/content_hash.h"
#include "seal/seal_file.h"
#include "seal/seal_record.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

constexpr size_t kBigBytes = 6 << 20;

void write_source(const std::string& src) {
  fs::create_directories(src + "/docs/deep");
  std::ofstream(src + "/docs/a.txt") << "the first file";
  std::ofstream(src + "/docs/deep/b.txt") << "the second file";
  write_random(src + "/big.bin", kBigBytes, 7);
  fs::create_symlink("docs/a.txt", src + "/link");
  if (running_as_root()) REQUIRE(::chown((src + "/docs/a.txt").c_str(), 1401, 1501) == 0);
}

// Flips one byte of a file and gives it back its mtime: the quick check cannot see it.
void flip_byte(const std::string& path, off_t at) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  char c = 0;
  REQUIRE(::pread(fd, &c, 1, at) == 1);
  c = static_cast<char>(c ^ 0x20);
  REQUIRE(::pwrite(fd, &c, 1, at) == 1);
  ::close(fd);
  timespec times[2] = {st.st_atim, st.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// What someone with the backup machine would do to hide a change: rewrite the seal so that it
// holds the changed file's hash, with a root that matches its records.
void rewrite_seal(const std::string& seals, const std::string& path, const std::string& new_content) {
  ferry::UniqueFd dir(::open(seals.c_str(), O_RDONLY | O_DIRECTORY));
  REQUIRE(dir.valid());
  ferry::SealReader reader(ferry::UniqueFd(::openat(dir.get(), "mirror.seal", O_RDONLY)), "mirror.seal");
  ferry::SealWriter writer(dir.get(), "forged.new", reader.id(), reader.flags());
  std::string body;
  bool found = false;
  while (reader.next(&body)) {
    ferry::SealRecord record = ferry::decode_seal_record(body);
    if (record.entry.path == path) {
      ferry::ContentHasher hasher;
      hasher.update(new_content.data(), new_content.size());
      record.content = hasher.finish();
      found = true;
    }
    writer.append(record);
  }
  REQUIRE(found);
  writer.set_flags(reader.flags());
  writer.finish("mirror.seal", false);
}

}  // namespace

TEST_CASE("a sealed backup verifies; a flipped byte, a changed mode and a rewritten or removed seal are each named") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest", home = work / "home";
  write_source(src);
  sshd().trust_host_key();
  RunResult backup = run(ferry_over_ssh("backup --delete --json", home) + " " + quote(src) + " " + quote(remote(dest)));
  INFO(backup.err);
  REQUIRE(backup.code == 0);
  CHECK(backup.out.find("\"seal\":{\"id\"") != std::string::npos);
  REQUIRE(fs::exists(dest + "/.ferry-state/seals/mirror.seal"));
  CHECK(slurp(home + "/seals").find(dest) != std::string::npos);  // this computer kept the root

  std::string verify = ferry_over_ssh("verify", home) + " " + quote(remote(dest));
  RunResult clean = run(verify + " --json");
  INFO(clean.err);
  CHECK(clean.code == 0);
  CHECK(clean.out.find("\"status\":\"ok\"") != std::string::npos);
  CHECK(clean.out.find("\"anchored\":true") != std::string::npos);
  CHECK(json_field(clean.out, "bytes_read") == static_cast<long long>(kBigBytes + 29));
  // Hashes and records only: a small fraction of what the agent read.
  long long wire = json_field(clean.out, "bytes_wire_received");
  CHECK(wire > 0);
  CHECK(wire < static_cast<long long>(kBigBytes / 100));

  // Rot under an unchanged size and mtime, and a mode changed on the backup machine.
  flip_byte(dest + "/big.bin", 4 << 20);
  REQUIRE(::chmod((dest + "/docs/deep/b.txt").c_str(), 0600) == 0);
  RunResult damaged = run(verify);
  CHECK(damaged.code == 1);
  CHECK(damaged.out.find("big.bin: content") != std::string::npos);
  CHECK(damaged.out.find("docs/deep/b.txt: mode 0644 -> 0600") != std::string::npos);
  CHECK(damaged.out.find("docs/a.txt") == std::string::npos);  // untouched, not named
  CHECK(damaged.out.find("2 entries differ") != std::string::npos);
  // A sample reads few files but checks the metadata of all.
  RunResult sampled = run(verify + " --sample 1 --json");
  CHECK(sampled.code == 1);
  CHECK(sampled.out.find("\"path\":\"docs/deep/b.txt\"") != std::string::npos);
  CHECK(json_field(sampled.out, "files_read") < 3);

  // A file added on the backup machine: the seal covers the whole destination (--delete).
  std::ofstream(dest + "/planted.txt") << "not from the source";
  RunResult planted = run(verify);
  CHECK(planted.code == 1);
  CHECK(planted.out.find("extra      planted.txt") != std::string::npos);
  fs::remove(dest + "/planted.txt");

  // Restoring the damaged file reports it and does not write it; the rest is restored.
  std::string back = work / "back";
  RunResult restore = run(ferry_over_ssh("restore", home) + " " + quote(remote(dest)) + " " + quote(back));
  CHECK(restore.code == 3);
  CHECK(restore.err.find("big.bin does not match the seal") != std::string::npos);
  CHECK(!fs::exists(back + "/big.bin"));
  CHECK(slurp(back + "/docs/a.txt") == "the first file");
  for (const auto& e : fs::recursive_directory_iterator(back)) {
    CHECK(e.path().filename().string().find("big.bin") == std::string::npos);  // not under any name
  }

  // The seal rewritten to hide the change: whole, but not the one this computer made.
  std::string seals = dest + "/.ferry-state/seals";
  fs::copy_file(seals + "/mirror.seal", work / "mirror.seal.saved");
  rewrite_seal(seals, "big.bin", slurp(dest + "/big.bin"));
  RunResult forged = run(verify + " --json");
  CHECK(forged.code == 1);
  CHECK(forged.out.find("\"status\":\"seal_altered\"") != std::string::npos);
  RunResult forged_text = run(verify);
  CHECK(forged_text.err.find("does not match the one this computer made") != std::string::npos);
  // ... and a computer that kept no root cannot tell (it says so), but still sees the mode.
  RunResult unanchored = run(ferry_over_ssh("verify --json", work / "elsewhere") + " " + quote(remote(dest)));
  CHECK(unanchored.out.find("\"anchored\":false") != std::string::npos);
  CHECK(unanchored.out.find("docs/deep/b.txt") != std::string::npos);

  // Truncated: damaged, with its own message.
  std::string saved = slurp(work / "mirror.seal.saved");
  std::ofstream(seals + "/mirror.seal", std::ios::binary | std::ios::trunc) << saved.substr(0, saved.size() - 7);
  RunResult truncated = run(verify + " --json");
  CHECK(truncated.code == 1);
  CHECK((truncated.out.find("\"status\":\"seal_damaged\"") != std::string::npos ||
         truncated.err.find("damaged") != std::string::npos));

  // Removed: this computer sealed it, so that is not "no seal yet".
  fs::remove(seals + "/mirror.seal");
  RunResult missing = run(verify);
  CHECK(missing.code == 1);
  CHECK(missing.err.find("the seal on the backup machine is missing") != std::string::npos);
  RunResult never = run(ferry_over_ssh("verify", work / "elsewhere") + " " + quote(remote(dest)));
  CHECK(never.code == 1);
  CHECK(never.err.find("has no seal yet") != std::string::npos);
}

TEST_CASE("every snapshot of a store is sealed; a no-change snapshot keeps the hashes; --no-seal leaves none") {
  TempDir work;
  std::string src = work / "src", store = work / "store", home = work / "home";
  write_source(src);
  sshd().trust_host_key();
  std::string backup = ferry_over_ssh("backup --snapshot", home) + " " + quote(src) + " " + quote(remote(store));
  REQUIRE(run(backup).code == 0);
  std::ofstream(src + "/docs/new.txt") << "in the second snapshot only";
  RunResult second = run(backup);
  INFO(second.err);
  REQUIRE(second.code == 0);
  int seals = 0;
  for (const auto& e : fs::directory_iterator(store + "/.ferry-state/seals")) seals += e.path().extension() == ".seal";
  CHECK(seals == 2);

  RunResult all = run(ferry_over_ssh("verify --all --json", home) + " " + quote(remote(store)));
  INFO(all.err);
  CHECK(all.code == 0);
  size_t lines = 0, ok = 0;
  for (size_t at = 0; (at = all.out.find("\"status\":\"ok\"", at)) != std::string::npos; ++at) ++ok;
  for (char c : all.out) lines += c == '\n';
  CHECK(lines == 2);
  CHECK(ok == 2);

  // Rot in a file both snapshots share (one inode): each snapshot's verify names it.
  std::string latest = fs::read_symlink(store + "/latest").string();
  flip_byte(store + "/" + latest + "/big.bin", 100);
  RunResult rotten = run(ferry_over_ssh("verify --all", home) + " " + quote(remote(store)));
  CHECK(rotten.code == 1);
  size_t named = 0;
  for (size_t at = 0; (at = rotten.out.find("big.bin: content", at)) != std::string::npos; ++at) ++named;
  CHECK(named == 2);

  std::string plain = work / "plain";
  REQUIRE(run(ferry_over_ssh("backup --no-seal", home) + " " + quote(src) + " " + quote(remote(plain))).code == 0);
  CHECK(!fs::exists(plain + "/.ferry-state/seals/mirror.seal"));
}

TEST_CASE("every kind of entry Ferry carries verifies as sealed, and a no-change run leaves the same root") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest", home = work / "home";
  build_full_tree(src);
  sshd().trust_host_key();
  std::string backup = ferry_over_ssh("backup --json", home) + " " + quote(src) + " " + quote(remote(dest));
  RunResult first = run(backup);
  INFO(first.err);
  REQUIRE(first.code == 0);
  RunResult verify = run(ferry_over_ssh("verify", home) + " " + quote(remote(dest)));
  INFO(verify.err);
  INFO(verify.out);
  CHECK(verify.code == 0);
  // A run that sends nothing takes every hash from the previous seal: the same records, so the
  // mirror keeps its seal as it is (same ID and root; the file is not rewritten).
  auto seal_of = [](const std::string& out) {
    size_t at = out.find("\"seal\":{");
    return at == std::string::npos ? std::string() : out.substr(at, out.find('}', at) - at);
  };
  struct stat before {};
  REQUIRE(::stat((dest + "/.ferry-state/seals/mirror.seal").c_str(), &before) == 0);
  ::sleep(1);  // a new seal would have another ID
  RunResult second = run(backup);
  REQUIRE(second.code == 0);
  CHECK(json_field(second.out, "files_transferred") == 0);
  CHECK(!seal_of(first.out).empty());
  CHECK(seal_of(second.out) == seal_of(first.out));
  struct stat after {};
  REQUIRE(::stat((dest + "/.ferry-state/seals/mirror.seal").c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(run(ferry_over_ssh("verify", home) + " " + quote(remote(dest))).code == 0);
  // One change: a new seal, whose verify still passes.
  std::ofstream(src + "/added-later.txt") << "new";
  RunResult third = run(backup);
  REQUIRE(third.code == 0);
  CHECK(seal_of(third.out) != seal_of(first.out));
  CHECK(run(ferry_over_ssh("verify", home) + " " + quote(remote(dest))).code == 0);
}

TEST_CASE("a seal rewritten to hide a change breaks the chain at the next backup; --checksum seals again and repairs") {
  TempDir work;
  std::string src = work / "src", dest = work / "dest", home = work / "home";
  write_source(src);
  sshd().trust_host_key();
  std::string backup = ferry_over_ssh("backup --delete", home) + " " + quote(src) + " " + quote(remote(dest));
  REQUIRE(run(backup).code == 0);
  // Someone on the backup machine changes a file and rewrites the seal to match it.
  flip_byte(dest + "/big.bin", 1000);
  rewrite_seal(dest + "/.ferry-state/seals", "big.bin", slurp(dest + "/big.bin"));
  ::sleep(1);  // the next seal gets another ID

  RunResult next = run(backup);
  CHECK(next.code == 3);
  CHECK(next.err.find("is not one this computer made") != std::string::npos);
  RunResult verify = run(ferry_over_ssh("verify --json", home) + " " + quote(remote(dest)));
  CHECK(verify.code == 1);
  // Nothing else changed, so the mirror kept the rewritten seal: verify names it altered.
  CHECK(verify.out.find("\"status\":\"seal_altered\"") != std::string::npos);

  RunResult reseal = run(ferry_over_ssh("backup --delete --checksum", home) + " " + quote(src) + " " +
                         quote(remote(dest)));
  INFO(reseal.err);
  CHECK(reseal.code == 0);
  CHECK(slurp(dest + "/big.bin") == slurp(src + "/big.bin"));  // sent again: its content differed
  RunResult again = run(ferry_over_ssh("verify --json", home) + " " + quote(remote(dest)));
  INFO(again.err);
  CHECK(again.code == 0);
  CHECK(again.out.find("\"anchored\":true") != std::string::npos);
}

TEST_CASE("a restore that sends nothing sends no seal hashes; one that sends a file checks it") {
  TempDir work;
  std::string src = work / "src", home = work / "home";
  fs::create_directories(src);
  constexpr int kFiles = 300;
  for (int i = 0; i < kFiles; ++i) std::ofstream(src + "/f" + std::to_string(i)) << "file " << i;
  sshd().trust_host_key();
  long long received[2] = {0, 0};
  for (bool sealed : {true, false}) {
    std::string dest = work / (sealed ? "sealed" : "unsealed"), back = work / (sealed ? "back-s" : "back-u");
    RunResult backup = run(ferry_over_ssh(sealed ? "backup" : "backup --no-seal", home) + " " + quote(src) + " " +
                           quote(remote(dest)));
    INFO(backup.err);
    REQUIRE(backup.code == 0);
    REQUIRE(fs::exists(dest + "/.ferry-state/seals/mirror.seal") == sealed);
    std::string restore = ferry_over_ssh("restore --json", home) + " " + quote(remote(dest)) + " " + quote(back);
    RunResult first = run(restore);
    INFO(first.err);
    REQUIRE(first.code == 0);
    RunResult again = run(restore);
    REQUIRE(again.code == 0);
    CHECK(json_field(again.out, "files_transferred") == 0);
    received[sealed ? 0 : 1] = json_field(again.out, "bytes_wire_received");
  }
  // The same list either way: 32 bytes a file more would be 9,600.
  CHECK(received[0] > 0);
  CHECK(received[0] < received[1] + kFiles * 4);

  // One file changed on the backup machine under its old size and mtime, and removed locally:
  // the restore sends it, with the seal's hash, and refuses it.
  std::string dest = work / "sealed", back = work / "back-s";
  flip_byte(dest + "/f7", 2);
  fs::remove(back + "/f7");
  RunResult changed = run(ferry_over_ssh("restore", home) + " " + quote(remote(dest)) + " " + quote(back));
  CHECK(changed.code == 3);
  CHECK(changed.err.find("f7 does not match the seal") != std::string::npos);
  CHECK(!fs::exists(back + "/f7"));
}
