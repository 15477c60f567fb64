// The rsync algorithm in isolation: the rolling checksum, and signature -> delta -> patch
// reproducing the new file exactly over many input pairs, block sizes and feed sizes
// (librsync's "triple" test), with seeded mutations.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/page_buffer.h"
#include "delta/delta.h"
#include "delta/patch.h"
#include "delta/signature.h"
#include "protocol/wire.h"

using namespace ferry;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes random_bytes(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  for (auto& c : b) c = static_cast<uint8_t>(rng());
  return b;
}

Signature sign(const Bytes& basis, size_t feed) {
  SignatureBuilder builder(basis.size());
  for (size_t at = 0; at < basis.size(); at += feed) {
    builder.feed(basis.data() + at, std::min(feed, basis.size() - at));
  }
  return builder.finish();
}

// Applies operations to the basis the way the receiver will: copies are bounds-checked.
struct Patcher : DeltaSink {
  const Bytes& basis;
  const Signature& sig;
  Bytes out;
  bool bad_copy = false;
  Patcher(const Bytes& b, const Signature& s) : basis(b), sig(s) {}
  void copy(uint64_t first, uint64_t count) override {
    uint64_t offset, length;
    if (!copy_extent(sig.basis_size, sig.block_size, first, count, &offset, &length)) {
      bad_copy = true;
      return;
    }
    out.insert(out.end(), basis.begin() + static_cast<long>(offset), basis.begin() + static_cast<long>(offset + length));
  }
  void literal(const uint8_t* data, size_t len) override { out.insert(out.end(), data, data + len); }
};

struct Result {
  Bytes rebuilt;
  uint64_t literal = 0;
  uint64_t matched = 0;
};

Result triple(const Bytes& basis, const Bytes& target, size_t feed) {
  Signature sig = sign(basis, feed);
  Patcher patcher(basis, sig);
  DeltaEncoder encoder(sig, patcher);
  for (size_t at = 0; at < target.size(); at += feed) {
    encoder.feed(target.data() + at, std::min(feed, target.size() - at));
  }
  encoder.finish();
  CHECK_FALSE(patcher.bad_copy);
  CHECK(encoder.literal_bytes() + encoder.matched_bytes() == target.size());
  return {patcher.out, encoder.literal_bytes(), encoder.matched_bytes()};
}

}  // namespace

TEST_CASE("rolling the checksum equals recomputing it at every offset") {
  std::mt19937_64 rng(1);
  Bytes data = random_bytes(rng, 5000);
  for (size_t window : {1u, 2u, 700u, 4096u}) {
    RollingChecksum rolling;
    rolling.update(data.data(), window);
    for (size_t at = 0; at + window < data.size(); ++at) {
      REQUIRE(rolling.digest() == RollingChecksum::of(data.data() + at, window));
      rolling.rotate(data[at], data[at + window]);
    }
  }
  Bytes zeros(1000, 0);
  CHECK(RollingChecksum::of(zeros.data(), 1000) != 0);  // the offset keeps zero runs distinct
}

TEST_CASE("the block-at-once checksum equals the byte-by-byte definition, also when appended to") {
  // The definition, one byte at a time: s1 = sum(x + 31), s2 = sum of the running s1 values.
  auto reference = [](const uint8_t* p, size_t n, uint32_t s1, uint32_t s2) {
    for (size_t i = 0; i < n; ++i) {
      s1 += p[i] + RollingChecksum::kCharOffset;
      s2 += s1;
    }
    return (s2 << 16) | (s1 & 0xffff);
  };
  std::mt19937_64 rng(7);
  Bytes data = random_bytes(rng, 300000);
  Bytes ones(200000, 0xff);  // the largest bytes: any overflow in the fast path shows here
  for (const Bytes* d : {&data, &ones}) {
    for (size_t len : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 33u, 700u, 4099u, 131072u, 199999u}) {
      CAPTURE(len);
      CHECK(RollingChecksum::of(d->data(), len) == reference(d->data(), len, 0, 0));
    }
  }
  // Appending in pieces gives the same as one update.
  RollingChecksum pieces;
  uint32_t s1 = 0, s2 = 0;
  size_t at = 0;
  for (size_t piece : {3u, 16u, 100u, 1u, 4096u, 77u}) {
    pieces.update(data.data() + at, piece);
    at += piece;
  }
  for (size_t i = 0; i < at; ++i) {
    s1 += data[i] + RollingChecksum::kCharOffset;
    s2 += s1;
  }
  CHECK(pieces.digest() == ((s2 << 16) | (s1 & 0xffff)));
}

TEST_CASE("block size follows the square-root rule within its bounds") {
  CHECK(signature_shape(0).block_size == kMinBlock);
  CHECK(signature_shape(490000).block_size == kMinBlock);
  CHECK(signature_shape(100'000'000).block_size == 10000);
  CHECK(signature_shape(uint64_t{1} << 40).block_size == kMaxBlock);
  for (uint64_t size : {uint64_t{0}, uint64_t{1000}, uint64_t{1} << 30, uint64_t{1} << 40}) {
    SignatureShape s = signature_shape(size);
    CHECK(s.strong_len >= kMinStrongLen);
    CHECK(s.strong_len <= kMaxStrongLen);
    CHECK(signature_shape_problem(size, s.block_size, s.strong_len, block_count_for(size, s.block_size)) == "");
  }
}

TEST_CASE("signature shapes from a peer are checked before anything is allocated") {
  CHECK(signature_shape_problem(1000, 0, 4, 0) == "block size 0 is not 700, the one for a basis of 1000 bytes");
  CHECK(signature_shape_problem(1000, 700, 17, 2) == "strong hash length 17 is not 4, the one for a basis of 1000 bytes");
  CHECK(signature_shape_problem(1000, 700, 4, 1u << 30) == "1073741824 blocks do not cover 1000 bytes in blocks of 700");
  CHECK(signature_shape_problem(uint64_t{1} << 50, 131072, 16, 1) != "");
}

TEST_CASE("a peer cannot make the other side hold more signature blocks than the cap") {
  // A block size that is in range but far smaller than the basis size calls for would announce
  // 1.5 billion blocks for a 1 TiB basis: refused before a single block is kept.
  uint64_t tib = uint64_t{1} << 40;
  SignatureShape s = signature_shape(tib);
  CHECK(signature_shape_problem(tib, kMinBlock, s.strong_len, block_count_for(tib, kMinBlock)) ==
        "block size 700 is not 131072, the one for a basis of 1099511627776 bytes");
  // The largest basis either side uses has exactly the cap's blocks; one byte more is refused.
  CHECK(signature_shape_problem(kMaxBasisBytes, s.block_size, s.strong_len, kMaxSignatureBlocks) == "");
  CHECK(block_count_for(kMaxBasisBytes, signature_shape(kMaxBasisBytes).block_size) == kMaxSignatureBlocks);
  SignatureShape over = signature_shape(kMaxBasisBytes + 1);
  CHECK(signature_shape_problem(kMaxBasisBytes + 1, over.block_size, over.strong_len,
                                block_count_for(kMaxBasisBytes + 1, over.block_size)) != "");
}

TEST_CASE("copy extents from a peer stay inside the basis") {
  uint64_t offset, length;
  CHECK_FALSE(copy_extent(1000, 700, 2, 1, &offset, &length));  // past the end
  CHECK_FALSE(copy_extent(1000, 700, 1, UINT64_MAX, &offset, &length));  // overflow
  CHECK_FALSE(copy_extent(1000, 700, 0, 0, &offset, &length));
  REQUIRE(copy_extent(1000, 700, 1, 1, &offset, &length));
  CHECK(offset == 700);
  CHECK(length == 300);
}

TEST_CASE("signature -> delta -> patch reproduces the new file exactly") {
  std::mt19937_64 rng(7);
  struct Pair {
    const char* what;
    Bytes basis, target;
  };
  Bytes big = random_bytes(rng, 300'000);
  std::vector<Pair> pairs;
  pairs.push_back({"both empty", {}, {}});
  pairs.push_back({"empty basis", {}, random_bytes(rng, 5000)});
  pairs.push_back({"empty target", random_bytes(rng, 5000), {}});
  pairs.push_back({"one byte each", {1}, {2}});
  pairs.push_back({"identical", big, big});
  for (size_t n : {699u, 700u, 701u, 1399u, 1400u, 1401u}) {
    Bytes b = random_bytes(rng, n);
    pairs.push_back({"at a block boundary", b, b});
    Bytes shorter(b.begin(), b.end() - 1);
    pairs.push_back({"one byte shorter", b, shorter});
  }
  {
    Bytes t = big;
    t.insert(t.begin() + 1234, {'x', 'y', 'z'});
    pairs.push_back({"insertion shifts all later data", big, t});
  }
  {
    Bytes t = big;
    t.erase(t.begin() + 5000, t.begin() + 5100);
    pairs.push_back({"deletion", big, t});
  }
  {
    Bytes t = big;
    Bytes more = random_bytes(rng, 10000);
    t.insert(t.end(), more.begin(), more.end());
    pairs.push_back({"appended data", big, t});
  }
  {
    Bytes t(big.begin(), big.begin() + 100'000);
    pairs.push_back({"basis longer than the new file", big, t});
  }
  {
    Bytes block = random_bytes(rng, 700);
    Bytes rep;
    for (int i = 0; i < 400; ++i) rep.insert(rep.end(), block.begin(), block.end());
    Bytes t = rep;
    t[100'000] ^= 1;
    pairs.push_back({"every block the same", rep, t});
  }
  {
    Bytes zeros(2'000'000, 0);
    Bytes t = zeros;
    t[1'000'000] = 1;
    pairs.push_back({"sparse-looking file", zeros, t});
  }
  for (int seed = 0; seed < 20; ++seed) {
    std::mt19937_64 m(static_cast<uint64_t>(seed));
    Bytes t = big;
    for (int edit = 0; edit < 5; ++edit) {
      size_t at = m() % t.size();
      switch (m() % 3) {
        case 0: t[at] ^= 0x5a; break;
        case 1: t.insert(t.begin() + static_cast<long>(at), 17, static_cast<uint8_t>(m())); break;
        case 2: t.erase(t.begin() + static_cast<long>(at), t.begin() + static_cast<long>(std::min(t.size(), at + 33))); break;
      }
    }
    pairs.push_back({"seeded mutations", big, t});
  }

  for (const Pair& p : pairs) {
    for (size_t feed : {size_t{1} << 20, size_t{4096}, size_t{777}}) {
      CAPTURE(p.what);
      CAPTURE(p.basis.size());
      CAPTURE(feed);
      Result r = triple(p.basis, p.target, feed);
      REQUIRE(r.rebuilt == p.target);
    }
  }
}

TEST_CASE("a small change in a large file sends a small delta") {
  std::mt19937_64 rng(3);
  Bytes basis = random_bytes(rng, 4'000'000);
  Bytes target = basis;
  target.insert(target.begin() + 2'000'000, {'n', 'e', 'w'});
  for (int i = 0; i < 10; ++i) target[100'000 * static_cast<size_t>(i) + 7] ^= 0xff;
  Result r = triple(basis, target, 65536);
  REQUIRE(r.rebuilt == target);
  uint32_t block = signature_shape(basis.size()).block_size;
  CHECK(r.literal <= 11 * (block + 3));  // at most one block per edit
  CHECK(r.matched >= target.size() - 11 * (block + 3));
}

TEST_CASE("reading into the encoder's window, with reads shorter than asked, gives the same delta") {
  // The sender reads straight into space(n) and commits what read() returned, which may be
  // less. The window moves and grows underneath; the result must not depend on it.
  std::mt19937_64 rng(5);
  Bytes basis = random_bytes(rng, 3'000'000);
  Bytes target = basis;
  target.insert(target.begin() + 1'234'567, 5000, 'x');
  target.erase(target.begin() + 2'500'000, target.begin() + 2'510'000);
  for (size_t i = 0; i < 40; ++i) target[rng() % target.size()] ^= 0x5a;
  Bytes random_literal = random_bytes(rng, 400'000);  // longer than a literal piece and a block
  target.insert(target.begin() + 600'000, random_literal.begin(), random_literal.end());
  Signature sig = sign(basis, 65536);
  Patcher patcher(basis, sig);
  DeltaEncoder encoder(sig, patcher);
  for (size_t at = 0; at < target.size();) {
    size_t asked = 1 + rng() % 300'000;
    uint8_t* into = encoder.space(asked);
    size_t got = std::min<size_t>({asked, 1 + rng() % asked, target.size() - at});
    std::memcpy(into, target.data() + at, got);
    encoder.commit(got);
    at += got;
  }
  encoder.finish();
  CHECK_FALSE(patcher.bad_copy);
  REQUIRE(patcher.out == target);
  Result fed = triple(basis, target, 65536);
  CHECK(encoder.literal_bytes() == fed.literal);
  CHECK(encoder.matched_bytes() == fed.matched);
  CHECK(encoder.literal_bytes() < random_literal.size() + 60 * sig.block_size);
}

TEST_CASE("the encoder's window lines up with the file's pages, so reads into it run at full speed") {
  // See base/page_buffer.h: a read whose destination sits a few bytes past its source's place
  // in a page is three times slower here. space() must return memory at the same page offset
  // as the next byte fed has in the file, however the window has moved.
  std::mt19937_64 rng(9);
  Bytes basis = random_bytes(rng, 2'000'000);
  Bytes target = basis;
  target.insert(target.begin() + 700'001, 3333, 'y');
  Signature sig = sign(basis, 65536);
  Patcher patcher(basis, sig);
  DeltaEncoder encoder(sig, patcher);
  size_t checked = 0;
  for (size_t at = 0; at < target.size();) {
    size_t got = std::min<size_t>(target.size() - at, rng() % 3 == 0 ? 1 + rng() % 9000 : 256 * 1024);
    uint8_t* into = encoder.space(256 * 1024);
    CHECK(reinterpret_cast<uintptr_t>(into) % kPageBytes == at % kPageBytes);
    ++checked;
    std::memcpy(into, target.data() + at, got);
    encoder.commit(got);
    at += got;
  }
  encoder.finish();
  REQUIRE(patcher.out == target);
  CHECK(checked > 10);
  PageBuffer buffer(100'000);
  CHECK(reinterpret_cast<uintptr_t>(buffer.data()) % kPageBytes == 0);
  std::span<char> slot = buffer.slot_for(3 * kPageBytes + 123);  // a read starting mid-page
  CHECK(reinterpret_cast<uintptr_t>(slot.data()) % kPageBytes == 123);
  CHECK(slot.data() + slot.size() == buffer.data() + buffer.size());
}

TEST_CASE("a hole in the new file ends what came before it and the scan starts again after it") {
  // The sender sends a sparse file's holes apart (FileHole): the encoder is told where one is,
  // hands on everything fed before it, and goes on matching after it, where the file's bytes
  // lie `length` further on (the window keeps their page offsets).
  std::mt19937_64 rng(11);
  Bytes basis = random_bytes(rng, 3'000'000);
  const size_t cut = 1'000'003, resume = 1'700'000;
  const uint64_t hole = (2u << 20) + 1000;  // not a whole number of pages: the offsets after it shift
  Bytes before(basis.begin(), basis.begin() + cut);
  Bytes after(basis.begin() + resume, basis.end());
  after[500'000] ^= 0x42;  // one edit after the hole
  Signature sig = sign(basis, 65536);
  struct Recorder : Patcher {
    using Patcher::Patcher;
    std::vector<size_t> hole_at;  // out.size() when each hole came
  } patcher(basis, sig);
  DeltaEncoder encoder(sig, patcher);
  uint64_t offset = 0;
  auto feed = [&](const Bytes& bytes) {
    for (size_t at = 0; at < bytes.size();) {
      size_t got = std::min<size_t>(bytes.size() - at, 1 + rng() % 200'000);
      uint8_t* into = encoder.space(got);
      CHECK(reinterpret_cast<uintptr_t>(into) % kPageBytes == offset % kPageBytes);
      std::memcpy(into, bytes.data() + at, got);
      encoder.commit(got);
      at += got;
      offset += got;
    }
  };
  feed(before);
  encoder.hole(hole);
  patcher.hole_at.push_back(patcher.out.size());
  offset += hole;
  feed(after);
  encoder.finish();
  CHECK_FALSE(patcher.bad_copy);
  // Everything before the hole reached the sink before the hole did.
  REQUIRE(patcher.hole_at == std::vector<size_t>{before.size()});
  Bytes expected = before;
  expected.insert(expected.end(), after.begin(), after.end());
  REQUIRE(patcher.out == expected);
  CHECK(encoder.literal_bytes() + encoder.matched_bytes() == expected.size());
  // Matched on both sides of the hole: about a block at the cut, one at the edit, one after the hole.
  CHECK(encoder.literal_bytes() <= 4 * sig.block_size);
}

TEST_CASE("a file of identical blocks against many identical candidates stays linear") {
  // Every offset of the target hits the same weak checksum in the basis; the probe cap keeps
  // this from being quadratic (rsync#217). Correctness is checked; the bound is structural.
  Bytes basis(4'000'000, 'a');
  Bytes target(4'000'000, 'a');
  target[0] = 'b';
  Result r = triple(basis, target, 1 << 20);
  REQUIRE(r.rebuilt == target);
  CHECK(r.matched >= target.size() - 2 * signature_shape(basis.size()).block_size);
}

TEST_CASE("a long unchanged stretch reaches the sink in runs, not as one copy at the end") {
  // Copies are what the receiver rebuilds from; one copy for the whole stretch would let it
  // start only once the scan was over.
  struct Runs : DeltaSink {
    std::vector<uint64_t> counts;
    void copy(uint64_t, uint64_t count) override { counts.push_back(count); }
    void literal(const uint8_t*, size_t) override {}
  };
  std::mt19937_64 rng(12);
  Bytes file = random_bytes(rng, 40 * 1024 * 1024);
  Signature sig = sign(file, 1 << 20);
  Runs runs;
  DeltaEncoder encoder(sig, runs);
  encoder.feed(file.data(), file.size());
  encoder.finish();
  uint64_t covered = 0;
  const uint64_t cap = max_copy_run_bytes(sig.basis_size);
  for (uint64_t count : runs.counts) {
    CHECK(count * sig.block_size <= cap);
    covered += count;
  }
  CHECK(covered == sig.block_count());
  CHECK(runs.counts.size() >= 2);
  CHECK(runs.counts.size() <= 40 * 1024 * 1024 / cap + 1);
}

TEST_CASE("a basis signed in pieces at block boundaries has the signature of the whole") {
  std::mt19937_64 rng(13);
  for (size_t size : {size_t{3'000'000}, size_t{3'000'000} + 1, size_t{5'000'017}}) {
    CAPTURE(size);
    Bytes basis = random_bytes(rng, size);
    Signature whole = sign(basis, 65536);
    SignatureShape shape = signature_shape(size);
    uint64_t split = block_count_for(size, shape.block_size) / 2 * shape.block_size;
    SignatureBuilder first(split, shape), second(size - split, shape);
    first.feed(basis.data(), split);
    second.feed(basis.data() + split, size - split);
    Signature joined = first.finish();
    joined.append(second.finish());
    CHECK(joined.basis_size == whole.basis_size);
    CHECK(joined.block_size == whole.block_size);
    CHECK(joined.weak == whole.weak);
    CHECK(joined.strong == whole.strong);
  }
}

TEST_CASE("a basis whose holes are fed as zeros, unread, has the signature of its bytes") {
  std::mt19937_64 rng(13);
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    Bytes basis = random_bytes(rng, 200'000 + rng() % 3'000'000);
    // Zero runs of every shape: shorter than a block, many blocks, at the start, at the end.
    struct Run {
      size_t at, len;
    };
    std::vector<Run> holes;
    for (size_t at = rng() % 3 == 0 ? 0 : rng() % 50'000; at < basis.size();) {
      size_t len = std::min<size_t>(basis.size() - at, rng() % 2 ? 1 + rng() % 5'000 : 1 + rng() % 700'000);
      std::fill(basis.begin() + static_cast<long>(at), basis.begin() + static_cast<long>(at + len), 0);
      holes.push_back({at, len});
      at += len + 1 + rng() % 400'000;
    }
    Signature read = sign(basis, 65536);
    SignatureBuilder builder(basis.size());
    size_t at = 0;
    for (const Run& hole : holes) {
      for (size_t piece; at < hole.at; at += piece) {
        piece = std::min<size_t>(hole.at - at, 1 + rng() % 100'000);
        builder.feed(basis.data() + at, piece);
      }
      builder.feed_zeros(hole.len);
      at += hole.len;
    }
    if (at < basis.size()) builder.feed(basis.data() + at, basis.size() - at);
    Signature skipped = builder.finish();
    CHECK(skipped.basis_size == read.basis_size);
    CHECK(skipped.weak == read.weak);
    CHECK(skipped.strong == read.strong);
  }
}

TEST_CASE("the patcher hands on copies inside the basis and refuses the rest by name") {
  struct Ops : PatchSink {
    void literal(std::string_view bytes) override { log += "L" + std::string(bytes) + " "; }
    void copy(uint64_t offset, uint64_t length) override {
      log += "C" + std::to_string(offset) + "+" + std::to_string(length) + " ";
    }
    std::string log;
  };
  auto apply = [](const Encoder& e, Ops* ops) {
    Decoder d(e.data());
    apply_delta(d, 1000, 700, 9, *ops);
  };
  Encoder e;
  e.u8(wire::kOpCopy);
  e.varint(0);
  e.varint(2);  // both blocks: the second is the short one
  e.u8(wire::kOpLiteral);
  e.bytes("ab");
  Ops ops;
  apply(e, &ops);
  CHECK(ops.log == "C0+1000 Lab ");

  Encoder past = e;
  past.u8(wire::kOpCopy);
  past.varint(1);
  past.varint(2);
  CHECK_THROWS_WITH(apply(past, &ops), "protocol error: copy of blocks 1+2 outside the basis of entry 9");
  Encoder unknown = e;
  unknown.u8(3);
  CHECK_THROWS_WITH(apply(unknown, &ops), "protocol error: unknown delta operation 3");
  Encoder cut = e;
  cut.u8(wire::kOpLiteral);
  cut.varint(5);
  CHECK_THROWS_WITH(apply(cut, &ops), "protocol error: truncated field literal: 5 bytes announced, 0 present");
}
