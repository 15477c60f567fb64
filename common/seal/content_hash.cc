#include "seal/content_hash.h"

#include <algorithm>

#include "base/read_to_end.h"

namespace ferry {

namespace {
constexpr char kContentTag = 3;

// A hole covers whole chunks of zeros, whose hash is always this one: a sparse disk image's
// gigabytes of holes cost no hashing (SHA-256 of zeros would take about 0.6 s a GiB here).
const Sha256Digest& zero_chunk_digest() {
  static const Sha256Digest digest = [] {
    Sha256 sha;
    sha.update_zeros(kContentChunkBytes);
    return sha.finish();
  }();
  return digest;
}
}  // namespace

ContentHasher::ContentHasher() { outer_.update(&kContentTag, 1); }

void ContentHasher::close_chunk() {
  Sha256Digest d = chunk_.finish();
  outer_.update(d.data(), d.size());
  in_chunk_ = 0;
}

void ContentHasher::update(const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, kContentChunkBytes - in_chunk_));
    chunk_.update(p, n);
    in_chunk_ += n;
    p += n;
    len -= n;
    if (in_chunk_ == kContentChunkBytes) close_chunk();
  }
}

void ContentHasher::update_zeros(uint64_t len) {
  while (len > 0) {
    uint64_t n = std::min<uint64_t>(len, kContentChunkBytes - in_chunk_);
    if (n == kContentChunkBytes) {
      outer_.update(zero_chunk_digest().data(), zero_chunk_digest().size());
      len -= n;
      continue;
    }
    chunk_.update_zeros(n);
    in_chunk_ += n;
    len -= n;
    if (in_chunk_ == kContentChunkBytes) close_chunk();
  }
}

bool content_hash_of_fd(int fd, PageBuffer& buf, Sha256Digest* out, uint64_t* bytes) {
  ContentHasher hasher;
  uint64_t read = 0;
  bool ok = read_to_end(fd, buf, [&](const char* data, size_t len) {
    hasher.update(data, len);
    read += len;
  });
  if (!ok) return false;
  *out = hasher.finish();
  if (bytes != nullptr) *bytes = read;
  return true;
}

Sha256Digest ContentHasher::finish() {
  if (in_chunk_ > 0) close_chunk();
  Sha256Digest out = outer_.finish();
  outer_.update(&kContentTag, 1);
  return out;
}

ParallelContentHasher::ParallelContentHasher(unsigned workers)
    : workers_(std::clamp(workers, 1u, kMaxWorkers)) {
  for (Worker& w : workers_) w.thread = std::thread([this, &w] { work(w); });
}

ParallelContentHasher::~ParallelContentHasher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  for (Worker& w : workers_) w.thread.join();
}

void ParallelContentHasher::enqueue(Piece piece, Ticket* ticket, std::unique_lock<std::mutex>& lock) {
  size_t index = piece.chunk % workers_.size();
  Worker& w = workers_[index];
  changed_.wait(lock, [&] { return w.queued - w.done < kQueueDepth; });
  if (digests_.size() <= piece.chunk) digests_.resize(piece.chunk + 1);
  w.queue.push_back(piece);
  ticket->needed[index] = ++w.queued;
  changed_.notify_all();  // before the next piece may wait for room: the workers must be awake
}

ParallelContentHasher::Ticket ParallelContentHasher::submit(const char* data, uint64_t len) {
  Ticket ticket;
  std::unique_lock lock(mutex_);
  // Cut at chunk boundaries: each piece belongs to one chunk, hashed by that chunk's worker.
  while (len > 0) {
    uint64_t chunk = offset_ / kContentChunkBytes;
    uint64_t n = std::min<uint64_t>(len, kContentChunkBytes - offset_ % kContentChunkBytes);
    if (data == nullptr && n == kContentChunkBytes) {  // a whole chunk of a hole: known already
      if (digests_.size() <= chunk) digests_.resize(chunk + 1);
      digests_[chunk] = zero_chunk_digest();
    } else {
      enqueue({data, n, chunk, (offset_ + n) % kContentChunkBytes == 0}, &ticket, lock);
    }
    offset_ += n;
    len -= n;
    if (data != nullptr) data += n;
  }
  lock.unlock();
  changed_.notify_all();
  return ticket;
}

void ParallelContentHasher::wait_for(const Ticket& ticket) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] {
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (workers_[i].done < ticket.needed[i]) return false;
    }
    return true;
  });
}

void ParallelContentHasher::wait() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] {
    return std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.done == w.queued; });
  });
}

Sha256Digest ParallelContentHasher::finish() {
  if (offset_ % kContentChunkBytes != 0) {
    // The last chunk is short: an empty piece closes it.
    Ticket ticket;
    std::unique_lock lock(mutex_);
    enqueue({"", 0, offset_ / kContentChunkBytes, true}, &ticket, lock);
    lock.unlock();
    changed_.notify_all();
  }
  wait();
  Sha256 outer;
  outer.update(&kContentTag, 1);
  std::lock_guard lock(mutex_);
  for (const Sha256Digest& d : digests_) outer.update(d.data(), d.size());
  digests_.clear();
  offset_ = 0;
  return outer.finish();
}

void ParallelContentHasher::work(Worker& w) {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return !w.queue.empty() || stop_; });
    if (w.queue.empty()) return;  // stop_
    Piece piece = w.queue.front();
    lock.unlock();
    if (piece.data == nullptr) {
      w.chunk.update_zeros(piece.len);
    } else {
      w.chunk.update(piece.data, static_cast<size_t>(piece.len));
    }
    Sha256Digest digest{};
    if (piece.ends_chunk) digest = w.chunk.finish();
    lock.lock();
    if (piece.ends_chunk) digests_[piece.chunk] = digest;
    w.queue.pop_front();
    ++w.done;
    changed_.notify_all();
  }
}

}  // namespace ferry
