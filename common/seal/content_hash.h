// The hash a seal keeps of a regular file's content (docs/SEALS.md):
//
//   content = SHA-256(0x03 || SHA-256(chunk 0) || SHA-256(chunk 1) || …)
//
// over the file's 1 MiB chunks in order (the last may be shorter; an empty file has none).
// Chunks hash independently, so a sender can hash them on several cores while it sends: a plain
// SHA-256 of every byte would be one thread's work, about 0.8 s per GiB here, which on a machine
// whose cores are busy moving the data becomes the run's slowest thread. Its strength is
// SHA-256's: two contents with one hash would need a collision of SHA-256 in a chunk or in the
// outer hash (the size, which fixes the chunks, is in the seal record too).
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "base/page_buffer.h"
#include "seal/sha256.h"

namespace ferry {

inline constexpr uint64_t kContentChunkBytes = 1u << 20;

// On the caller's thread.
class ContentHasher {
 public:
  ContentHasher();
  void update(const void* data, size_t len);
  void update_zeros(uint64_t len);  // a hole: the zeros it reads as
  Sha256Digest finish();            // and starts over

 private:
  void close_chunk();

  Sha256 chunk_;
  Sha256 outer_;
  uint64_t in_chunk_ = 0;
};

// The content hash of what fd holds from its current offset to its end, read through `buf`;
// `bytes` (if given) gets what was read. False on a read error, errno as read() left it.
bool content_hash_of_fd(int fd, PageBuffer& buf, Sha256Digest* out, uint64_t* bytes = nullptr);

// The same hash, on worker threads: the caller queues the pieces it reads, in order, and goes on
// while they are hashed. A piece's bytes must stay as they are until wait_for() its ticket.
class ParallelContentHasher {
 public:
  static constexpr unsigned kMaxWorkers = 4;
  // How many pieces each worker may have queued before update() waits.
  static constexpr uint64_t kQueueDepth = 4;
  struct Ticket {
    std::array<uint64_t, kMaxWorkers> needed{};  // each worker's count of pieces done it needs
  };

  explicit ParallelContentHasher(unsigned workers);
  ~ParallelContentHasher();
  ParallelContentHasher(const ParallelContentHasher&) = delete;
  ParallelContentHasher& operator=(const ParallelContentHasher&) = delete;

  Ticket update(const void* data, size_t len) { return submit(static_cast<const char*>(data), len); }
  void update_zeros(uint64_t len) { submit(nullptr, len); }
  // Returns once the pieces of `ticket` are hashed: their buffer may be reused.
  void wait_for(const Ticket& ticket);
  void wait();  // everything queued is hashed
  Sha256Digest finish();  // and starts over

 private:
  struct Piece {
    const char* data;  // null: zeros
    uint64_t len;
    uint64_t chunk;
    bool ends_chunk;
  };
  struct Worker {
    std::deque<Piece> queue;
    uint64_t queued = 0;
    uint64_t done = 0;
    Sha256 chunk;  // the worker thread's
    std::thread thread;
  };
  Ticket submit(const char* data, uint64_t len);
  void enqueue(Piece piece, Ticket* ticket, std::unique_lock<std::mutex>& lock);
  void work(Worker& worker);

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Worker> workers_;
  std::vector<Sha256Digest> digests_;  // one per chunk, filled by the workers
  uint64_t offset_ = 0;                // bytes queued for the current content
  bool stop_ = false;
};

}  // namespace ferry
