#include "engine/basis_signer.h"

#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/bytes.h"
#include "delta/signature.h"
#include "protocol/messages.h"

namespace ferry {

BasisSigner::BasisSigner(FrameWriter& out, std::mutex& wire_order)
    : out_(out), wire_order_(wire_order), thread_([this] { run(); }) {}

BasisSigner::~BasisSigner() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
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
  SignatureBuilder builder(static_cast<uint64_t>(job.st.st_size));
  std::vector<uint8_t> buf(wire::kDataChunkBytes);
  bool readable = true;
  while (true) {
    ssize_t n = ::read(job.fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      readable = n == 0;
      break;
    }
    builder.feed(buf.data(), static_cast<size_t>(n));
  }
  job.fd.reset();
  Signature sig = builder.finish();
  Want want{job.index};
  // A basis that changed size while we read it is not the one we meant to describe.
  if (readable && sig.basis_size == static_cast<uint64_t>(job.st.st_size)) {
    want.flags |= wire::kWantHasSignature;
    want.basis_size = sig.basis_size;
    want.block_size = sig.block_size;
    want.strong_len = sig.strong_len;
    want.block_count = sig.block_count();
    std::lock_guard lock(mutex_);
    signed_[job.index] = BasisShape{sig.basis_size, sig.block_size, job.st.st_mtim.tv_sec,
                                    static_cast<uint32_t>(job.st.st_mtim.tv_nsec)};
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
