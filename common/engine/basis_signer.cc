#include "engine/basis_signer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/page_buffer.h"
#include "delta/signature.h"
#include "platform/platform.h"
#include "protocol/messages.h"

namespace ferry {
namespace {

// A basis at least this large is signed in two halves on two threads. For one large file the
// sender can do nothing until the signature is complete, so this is time on the critical path.
constexpr uint64_t kSignInHalvesBytes = 64 * 1024 * 1024;

// Where the next hole at or after `pos` starts, or `end` if none starts before it (or the file
// system cannot say).
uint64_t next_hole(int fd, uint64_t pos, uint64_t end) {
  int64_t at = platform::seek_hole(fd, static_cast<int64_t>(pos));
  return at < 0 ? end : std::clamp<uint64_t>(static_cast<uint64_t>(at), pos, end);
}

// Signs `length` bytes from `offset` as a piece of a basis of the given shape. False if the file
// ended early or could not be read, or `stop` was set (the session is ending: a multi-gigabyte
// basis must not keep it alive). Holes are signed as the zeros they read as, without reading
// them: a sparse disk image's gigabytes of holes cost nothing.
bool sign_piece(int fd, uint64_t offset, uint64_t length, SignatureShape shape, const std::atomic<bool>& stop,
                Signature* out) {
  SignatureBuilder builder(length, shape);
  PageBuffer buf(wire::kDataChunkBytes);
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  uint64_t hole_at = next_hole(fd, pos, end);
  while (pos < end) {
    if (stop.load(std::memory_order_relaxed)) return false;
    if (pos == hole_at) {
      auto data_at = std::clamp<uint64_t>(static_cast<uint64_t>(platform::seek_data(fd, static_cast<int64_t>(pos))), pos, end);
      if (data_at == pos) {  // no longer a hole (the file changed), or no answer: read the rest
        hole_at = end;
        continue;
      }
      builder.feed_zeros(data_at - pos);
      pos = data_at;
      hole_at = pos < end ? next_hole(fd, pos, end) : end;
      continue;
    }
    std::span<char> slot = buf.slot_for(pos);
    size_t want = static_cast<size_t>(std::min<uint64_t>(slot.size(), hole_at - pos));
    ssize_t n = ::pread(fd, slot.data(), want, static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    builder.feed(reinterpret_cast<const uint8_t*>(slot.data()), static_cast<size_t>(n));
    pos += static_cast<uint64_t>(n);
  }
  *out = builder.finish();
  return true;
}

// The signature of the whole basis, or nothing if it could not be read as `size` bytes (then the
// file is sent whole).
std::optional<Signature> sign_basis(int fd, uint64_t size, const std::atomic<bool>& stop) {
  if (size > kMaxBasisBytes) return std::nullopt;  // more blocks than a peer accepts
  SignatureShape shape = signature_shape(size);
  Signature head, tail;
  if (size < kSignInHalvesBytes) {
    if (!sign_piece(fd, 0, size, shape, stop, &head)) return std::nullopt;
  } else {
    uint64_t split = block_count_for(size, shape.block_size) / 2 * shape.block_size;
    bool tail_ok = false;
    std::thread second([&] { tail_ok = sign_piece(fd, split, size - split, shape, stop, &tail); });
    bool head_ok = sign_piece(fd, 0, split, shape, stop, &head);
    second.join();
    if (!head_ok || !tail_ok) return std::nullopt;
    head.append(tail);
  }
  // A basis that grew while we read it is not the one we meant to describe either.
  char extra;
  if (::pread(fd, &extra, 1, static_cast<off_t>(size)) != 0) return std::nullopt;
  return head;
}

}  // namespace

BasisSigner::BasisSigner(FrameWriter& out, std::mutex& wire_order)
    : out_(out), wire_order_(wire_order), thread_([this] { run(); }) {}

BasisSigner::~BasisSigner() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;  // also read, without the lock, by a signing in progress
  }
  wake_.notify_all();
  thread_.join();
}

void BasisSigner::sign(uint64_t index, UniqueFd basis, const struct stat& st) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(Job{index, std::move(basis), st});
    pending_.insert(index);
  }
  wake_.notify_one();
}

std::optional<BasisShape> BasisSigner::take(uint64_t index) {
  std::unique_lock lock(mutex_);
  // An honest sender sends data only after our Want, which goes out after the shape is stored;
  // data that comes sooner waits here rather than being matched against no basis.
  done_.wait(lock, [&] { return failure_ || !pending_.count(index); });
  if (failure_) std::rethrow_exception(failure_);
  auto it = signed_.find(index);
  if (it == signed_.end()) return std::nullopt;
  BasisShape shape = it->second;
  signed_.erase(it);
  return shape;
}

void BasisSigner::run() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      sign_one(job);
    } catch (...) {
      std::lock_guard lock(mutex_);
      failure_ = std::current_exception();
      done_.notify_all();
      return;
    }
  }
}

// Reads the basis and describes it in block signatures. Any problem reading it just means
// "send it whole".
void BasisSigner::sign_one(Job& job) {
  std::optional<Signature> signed_basis = sign_basis(job.fd.get(), static_cast<uint64_t>(job.st.st_size), stop_);
  job.fd.reset();
  if (stop_) return;  // the session is over: nobody waits for this Want
  Signature sig = signed_basis ? std::move(*signed_basis) : Signature{};
  Want want{job.index};
  if (signed_basis) {
    want.flags |= wire::kWantHasSignature;
    want.basis_size = sig.basis_size;
    want.block_size = sig.block_size;
    want.strong_len = sig.strong_len;
    want.block_count = sig.block_count();
    std::lock_guard lock(mutex_);
    const timespec mtime = platform::modified_time(job.st);
    signed_[job.index] = BasisShape{sig.basis_size, sig.block_size, mtime.tv_sec, static_cast<uint32_t>(mtime.tv_nsec)};
  }
  {
    std::lock_guard order(wire_order_);
    Encoder e;
    want.encode(e);
    out_.send(wire::MsgType::kWant, e);
    if (want.flags & wire::kWantHasSignature) {
      const size_t per_block = 4 + sig.strong_len;
      const uint64_t per_frame = wire::kDataChunkBytes / per_block;
      for (uint64_t first = 0; first < sig.block_count(); first += per_frame) {
        uint64_t end = std::min(sig.block_count(), first + per_frame);
        e.clear();
        e.varint(job.index);
        for (uint64_t i = first; i < end; ++i) {
          uint32_t w = sig.weak[i];
          const char weak[4] = {static_cast<char>(w & 0xff), static_cast<char>((w >> 8) & 0xff),
                                static_cast<char>((w >> 16) & 0xff), static_cast<char>(w >> 24)};
          e.raw(std::string_view(weak, 4));
          e.raw(std::string_view(reinterpret_cast<const char*>(sig.strong_of(i)), sig.strong_len));
        }
        out_.send(wire::MsgType::kSigBlocks, e);
      }
    }
  }
  {
    std::lock_guard lock(mutex_);
    pending_.erase(job.index);
  }
  done_.notify_all();
  // The main thread may be waiting for input with nothing else to flush this.
  out_.flush();
}

}  // namespace ferry
