#include "engine/sender.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cerrno>
#include <deque>
#include <exception>
#include <map>
#include <tuple>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <algorithm>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/log.h"
#include "base/page_buffer.h"
#include "base/read_to_end.h"
#include "delta/delta.h"
#include "delta/file_hash.h"
#include "engine/data_writer.h"
#include "engine/list_window.h"
#include "engine/session.h"
#include "fs/dest_state.h"
#include "fs/rel_path.h"
#include "fs/symlink_owners.h"
#include "fs/tree_walker.h"
#include "fs/unique_fd.h"
#include "platform/platform.h"
#include "seal/content_hash.h"

namespace ferry {

using wire::MessageLevel;
using wire::MsgType;

namespace {

// Entries go out in frames of about this size: large enough that frame headers vanish, small
// enough that the receiver starts asking for files while the walk goes on. The largest entry
// (long path, link and 512 KiB of xattrs) still fits a frame on top of a full batch.
constexpr size_t kEntryBatchBytes = 32 * 1024;
// Holes shorter than this are sent as the zeros they read as: a FileHole per 4 KiB gap in a
// fragmented file would cost more frames than it saves bytes.
constexpr uint64_t kMinHoleBytes = 64 * 1024;

// Opens a file to send (or hash) beneath the root, without following any symlink, and without
// touching its atime where we may (O_NOATIME needs ownership or CAP_FOWNER). errno tells why not.
int open_source(int root_fd, const std::string& path) {
  if (root_fd < 0) return -1;
  int fd = platform::open_beneath(root_fd, path, platform::read_flags_without_atime());
  if (fd < 0 && errno == EPERM) fd = platform::open_beneath(root_fd, path, O_RDONLY);
  return fd;
}

// Read-ahead advice pays only for a file of more than one read: a smaller one is read whole by
// its first pread, and the call would be one more per file on a tree of small ones.
void advise_reading(int fd, uint64_t size) {
  if (size > wire::kDataChunkBytes) platform::advise_sequential(fd);
}

// A file that changes while it is read is read again this many times before it is given up as
// "kept changing" (exit status 24): enough for a file saved in a burst, not so many that one
// always being written holds up the run.
constexpr int kMaxChangeRetries = 3;

// A wanted file, with the receiver's basis signature when it has one.
struct Request {
  uint64_t index = 0;
  std::shared_ptr<Signature> basis;
};

// Collects delta operations into FileDelta frames of about kDataChunkBytes.
class FrameDeltaSink : public DeltaSink {
 public:
  FrameDeltaSink(DataWriter& out, uint64_t index, const Signature& basis)
      : out_(out), index_(index), block_size_(basis.block_size), send_every_(max_copy_run_bytes(basis.basis_size)) {
    start();
  }
  void copy(uint64_t first, uint64_t count) override {
    ops_.u8(wire::kOpCopy);
    ops_.varint(first);
    ops_.varint(count);
    described_ += count * block_size_;
    maybe_flush();
  }
  void literal(const uint8_t* data, size_t len) override {
    ops_.u8(wire::kOpLiteral);
    ops_.varint(len);
    ops_.raw(std::string_view(reinterpret_cast<const char*>(data), len));
    described_ += len;
    maybe_flush();
  }
  void flush() {
    if (ops_.data().size() > head_size_) out_.send(MsgType::kFileDelta, {}, ops_.data());
    start();
  }

 private:
  void start() {
    ops_.clear();
    ops_.varint(index_);
    head_size_ = ops_.data().size();
    described_ = 0;
  }
  // A frame goes out when it is full, or when it describes enough of the file to keep the
  // receiver busy (a few copies can stand for megabytes): then it goes to the wire at once.
  void maybe_flush() {
    if (ops_.data().size() >= wire::kDataChunkBytes) {
      flush();
    } else if (described_ >= send_every_) {
      flush();
      out_.flush();
    }
  }
  DataWriter& out_;
  uint64_t index_;
  uint32_t block_size_;
  uint64_t send_every_;  // bytes of the new file one frame may stand for before it goes out
  Encoder ops_;
  size_t head_size_ = 0;
  uint64_t described_ = 0;  // bytes of the new file the frame being built stands for
};

// State shared by the three threads of one sending session.
class SendSession {
 public:
  SendSession(Channel& channel, FrameReader& in, FrameWriter& out, Reporter& reporter,
              TransferStats& stats, const SenderOptions& options, int root_fd, const std::string& root)
      : channel_(channel), in_(in), out_(out), reporter_(reporter), stats_(stats),
        data_(out, options.compression, stats), checksum_(options.checksum), read_stored_(options.read_stored_metadata), filters_(options.filters), only_name_(options.only_name),
        seal_(options.seal), sealed_(options.sealed),
        root_fd_(root_fd), root_(root) {}

  Done run() {
    std::thread reader([this] {
      guarded([this] { read_requests(); });
      std::lock_guard lock(mutex_);
      reader_running_ = false;
      if (stop_) channel_.abort();  // the others may wait for a channel nothing will come from
    });
    std::thread worker([this] { guarded([this] { send_wanted(); }); });
    guarded([this] { list_tree(); });
    reader.join();
    worker.join();
    if (failure_) std::rethrow_exception(failure_);
    out_.send(MsgType::kBye, std::string_view());
    out_.flush();
    return done_;
  }

 private:
  template <typename F>
  void guarded(F body) {
    try {
      body();
    } catch (const ConnectionError&) {
      stop_session(std::current_exception(), /*connection_lost=*/true);
    } catch (...) {
      stop_session(std::current_exception(), /*connection_lost=*/false);
    }
  }

  // The first failure stops every thread, but a peer's own reason beats a lost connection: an
  // agent that stops (its disk is full) sends Fatal and exits, and a write of ours can fail
  // before the reader reaches that Fatal. So a lost connection does not abort the channel while
  // the reader runs: it reads what the peer sent before it went (the Fatal, or the end of the
  // stream) within a short deadline, and the peer's reason, if any, is the one reported.
  void stop_session(std::exception_ptr error, bool connection_lost) {
    static constexpr std::chrono::seconds kLastWords{5};
    std::lock_guard lock(mutex_);
    if (!failure_ || (failure_is_lost_connection_ && !connection_lost)) {
      failure_ = error;
      failure_is_lost_connection_ = connection_lost;
    }
    stop_ = true;
    if (connection_lost && reader_running_) {
      if (channel_.idle_timeout() > kLastWords) channel_.set_idle_timeout(kLastWords);
    } else {
      channel_.abort();
    }
    wake_.notify_all();
  }

  void fail(const std::string& text) {
    ++stats_.errors;
    reporter_.report(MessageLevel::kError, text);
  }

  void list_tree() {
    // Hard-linked inodes with names still to come: (dev, ino) -> (its first name's index, how
    // many of its names are not listed yet). An inode whose every name is listed is forgotten,
    // so the table holds only inodes whose names are spread out (a tree of snapshots). A name
    // linked during the walk, past the count, is then sent as a file of its own: no harm.
    struct OpenInode {
      uint64_t leader;
      nlink_t names_left;
    };
    std::map<std::pair<dev_t, ino_t>, OpenInode> open_inodes;
    SymlinkOwners symlink_owners;
    if (read_stored_) {
      std::string problem;
      symlink_owners = read_symlink_owners(root_fd_, &problem);
      if (!problem.empty()) reporter_.report(MessageLevel::kWarning, problem);
    }
    uint64_t count = 0;
    uint64_t list_errors = 0;
    Encoder e;
    EntryEncoder codec;
    TreeWalker::walk(
        root_fd_, root_,
        [&](FileEntry& entry, const SourceId& id) {
          uint64_t index = count++;
          if (entry.type == FileType::kSymlink && !symlink_owners.empty()) {
            auto owner = symlink_owners.find(entry.path);
            if (owner != symlink_owners.end()) std::tie(entry.uid, entry.gid) = owner->second;
          }
          Listed listed{entry.path, id.dev, id.ino, entry.type == FileType::kRegular, entry.size};
          if (entry.type == FileType::kRegular && id.nlink > 1) {
            auto [it, first] = open_inodes.try_emplace({id.dev, id.ino}, OpenInode{index, id.nlink});
            entry.hardlink_of = it->second.leader + 1;  // a leader points at itself
            listed.sendable = first;
            if (--it->second.names_left == 0) open_inodes.erase(it);
          }
          if (checksum_ && listed.sendable) hash_for_checksum(entry);
          if (index > 0) ++stats_.files_total;
          stats_.bytes_total += entry.size;
          wait_for_room(e);
          {
            std::lock_guard lock(mutex_);
            listed_.add(std::move(listed));
          }
          codec.encode(entry, e);
          if (e.data().size() >= kEntryBatchBytes) {
            out_.send(MsgType::kEntry, e);
            e.clear();
          }
        },
        [&](const std::string& message) {
          ++list_errors;
          fail(message);
        },
        // Ferry's own bookkeeping in a backup (or in a folder that receives one) is not user data.
        [&](const FileEntry& entry) {
          return is_reserved_top_name(entry.path) || (!only_name_.empty() && entry.path != only_name_) ||
                 filters_.excluded(entry.path, entry.type == FileType::kDirectory);
        },
        read_stored_);
    if (!e.data().empty()) out_.send(MsgType::kEntry, e);
    e.clear();
    EndOfList{count, list_errors}.encode(e);
    out_.send(MsgType::kEndOfList, e);
    out_.flush();
    stats_.listed_all = true;
    spdlog::debug("listed {} entries", count);
  }

  // Waits while the list is a window ahead of what the receiver has settled, first sending the
  // entries batched in `e` (the receiver must see them to settle them).
  void wait_for_room(Encoder& e) {
    std::unique_lock lock(mutex_);
    if (listed_.has_room() || stop_) return;
    lock.unlock();
    if (!e.data().empty()) out_.send(MsgType::kEntry, e);
    e.clear();
    out_.flush();
    lock.lock();
    wake_.wait(lock, [this] { return listed_.has_room() || stop_; });
    if (stop_) throw ConnectionError("the session stopped");  // never the reason reported (stop_session)
  }

  // --checksum: the XXH3 the receiver compares, and for a sealed run the content hash too, in
  // one read of the file. A sealed --checksum run seals every file from the source, not from
  // what an earlier seal said (the way to renew a seal whose chain was broken). Left empty on a
  // read error (reported when the file is sent).
  void hash_for_checksum(FileEntry& entry) {
    UniqueFd fd(open_source(root_fd_, entry.path));
    if (!fd.valid()) return;
    advise_reading(fd.get(), entry.size);
    if (checksum_buf_.size() == 0) checksum_buf_ = PageBuffer(wire::kDataChunkBytes);
    FileHasher xxh;
    ContentHasher content;
    bool ok = read_to_end(fd.get(), checksum_buf_, [&](const char* data, size_t len) {
      xxh.update(data, len);
      if (seal_) content.update(data, len);
    });
    if (!ok) return;
    entry.content_hash = as_chars(xxh.digest());
    if (!seal_) return;
    entry.sealed_content = as_chars(content.finish());
  }

  void read_requests() {
    while (true) {
      Frame f = in_.next();
      if (handle_common_frame(f, reporter_)) continue;
      if (f.type == MsgType::kWant) {
        if (assembling_) throw ProtocolError("Want before the previous signature was complete");
        Want want = Want::decode(f.payload);
        std::lock_guard lock(mutex_);
        if (listed_.was_settled(want.index)) {
          throw ProtocolError("Want for entry " + std::to_string(want.index) + ", which the receiver had settled");
        }
        Listed* found = listed_.find(want.index);
        if (found == nullptr || !found->sendable) {
          throw ProtocolError("Want for entry " + std::to_string(want.index) + ", which is not a file to send");
        }
        Listed& listed = *found;
        if (listed.wants >= 2 + listed.change_retries || (listed.wants >= 1 && !(want.flags & wire::kWantRetry))) {
          throw ProtocolError("Want for entry " + std::to_string(want.index) + " repeated");
        }
        ++listed.wants;
        if (listed.wants == 1) stats_.bytes_wanted += listed.size;
        Request request{want.index, nullptr};
        if (want.flags & wire::kWantHasSignature) {
          std::string problem =
              signature_shape_problem(want.basis_size, want.block_size, want.strong_len, want.block_count);
          if (!problem.empty()) throw ProtocolError("signature for entry " + std::to_string(want.index) + ": " + problem);
          request.basis = std::make_shared<Signature>();
          request.basis->basis_size = want.basis_size;
          request.basis->block_size = want.block_size;
          request.basis->strong_len = want.strong_len;
          assembling_ = std::move(request);
          assembling_blocks_ = want.block_count;
          if (assembling_blocks_ > 0) continue;
          request = std::move(*assembling_);
          assembling_.reset();
        }
        queue_.push_back(std::move(request));
        wake_.notify_one();
        continue;
      }
      if (f.type == MsgType::kSigBlocks) {
        add_signature_blocks(f.payload);
        continue;
      }
      if (f.type == MsgType::kSettled) {
        Settled settled = Settled::decode(f.payload);
        std::lock_guard lock(mutex_);
        if (std::string problem = listed_.settle(settled.below); !problem.empty()) throw ProtocolError(problem);
        wake_.notify_all();
        continue;
      }
      if (f.type == MsgType::kDone) {
        Done done = Done::decode(f.payload);
        std::lock_guard lock(mutex_);
        done_ = done;
        finished_ = true;
        wake_.notify_all();
        return;
      }
      throw ProtocolError(std::string("unexpected ") + wire::msg_type_name(f.type) + " from the receiver");
    }
  }

  // Appends blocks to the signature being assembled. Allocation grows only with bytes that
  // actually arrived, never with a count the peer announced.
  void add_signature_blocks(std::string_view payload) {
    Decoder d(payload);
    uint64_t index = d.varint("index");
    if (!assembling_ || assembling_->index != index) {
      throw ProtocolError("SigBlocks for entry " + std::to_string(index) + ", which has no signature pending");
    }
    Signature& sig = *assembling_->basis;
    std::string_view blocks = d.rest();
    size_t per_block = 4 + sig.strong_len;
    if (blocks.empty() || blocks.size() % per_block != 0) throw ProtocolError("SigBlocks of a partial block");
    uint64_t n = blocks.size() / per_block;
    if (n > assembling_blocks_ - sig.weak.size()) throw ProtocolError("more signature blocks than announced");
    for (uint64_t i = 0; i < n; ++i) {
      const auto* p = reinterpret_cast<const uint8_t*>(blocks.data() + i * per_block);
      sig.weak.push_back(uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
      sig.strong.insert(sig.strong.end(), p + 4, p + per_block);
    }
    if (sig.weak.size() < assembling_blocks_) return;
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(*assembling_));
    assembling_.reset();
    wake_.notify_one();
  }

  void send_wanted() {
    // One buffer; with a seal, a ring of them: those already read are hashed on a thread of
    // their own while the next are read and sent.
    std::vector<PageBuffer> bufs;
    bufs.emplace_back(wire::kDataChunkBytes);
    std::optional<SealHashers> sha;
    if (seal_) {
      unsigned cores = std::thread::hardware_concurrency();
      sha.emplace(std::clamp(cores, 2u, ParallelContentHasher::kMaxWorkers));
      while (bufs.size() < 2 * ParallelContentHasher::kQueueDepth) bufs.emplace_back(wire::kDataChunkBytes);
    }
    while (true) {
      Request request;
      Listed listed;
      {
        std::unique_lock lock(mutex_);
        if (queue_.empty()) {
          lock.unlock();
          out_.flush();  // about to wait: let everything queued so far reach the receiver
          lock.lock();
        }
        wake_.wait(lock, [this] { return !queue_.empty() || finished_ || stop_; });
        if (stop_) return;
        if (queue_.empty()) {
          if (finished_) return;
          continue;
        }
        request = std::move(queue_.front());
        queue_.pop_front();
        const Listed* found = listed_.find(request.index);
        if (found == nullptr) {
          throw ProtocolError("the receiver settled entry " + std::to_string(request.index) +
                              " before its data was sent");
        }
        listed = *found;
      }
      send_file(root_fd_, request.index, listed, request.basis.get(), bufs, sha ? &*sha : nullptr);
    }
  }

  // A sealed run's content hashers. A file of one chunk or less is hashed on the sending thread:
  // handing it to a worker and waiting for its digest costs two thread switches, more than
  // hashing a small file (a first copy of 100,000 tiny files took twice the CPU that way).
  struct SealHashers {
    explicit SealHashers(unsigned workers) : parallel(workers) {}
    ParallelContentHasher parallel;
    ContentHasher inline_hasher;
  };

  // The per-file "how to send" step: whole, or as a delta against the receiver's basis.
  // `seal`, for a sealed backup: the SHA-256 of what is sent, hashed beside the sending (a file
  // larger than a chunk) or as it is read; each of `bufs` is read into once the hash of what it
  // held last is done.
  void send_file(int root_fd, uint64_t index, const Listed& listed, const Signature* basis,
                 std::vector<PageBuffer>& bufs, SealHashers* seal) {
    std::string shown = printable(join_path(root_, listed.path));
    auto send_failed = [&](const std::string& reason, uint64_t flags) {
      Encoder e;
      FileFailed{index, reason, flags}.encode(e);
      out_.send(MsgType::kFileFailed, e);
    };
    auto refuse = [&](const std::string& reason) {
      fail(reason);
      send_failed(reason, 0);
    };
    // The source is in use, not broken: said as a warning and counted apart (exit status 24).
    auto vanished = [&](const std::string& reason) {
      ++stats_.vanished;
      reporter_.report(MessageLevel::kWarning, reason);
      send_failed(reason, wire::kFailedVanished);
    };

    int fd = open_source(root_fd, listed.path);
    if (fd < 0) {
      if (errno == ENOENT) return vanished("file vanished before it could be sent: " + shown);
      if (errno == ELOOP) return vanished("file was replaced by a symlink, not sent: " + shown);
      return refuse(errno_message("cannot open " + shown, errno));
    }
    UniqueFd file(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) return refuse(errno_message("cannot stat " + shown, errno));
    if (!S_ISREG(st.st_mode) || st.st_dev != listed.dev || st.st_ino != listed.ino) {
      return vanished("file changed type or was replaced while listed, not sent: " + shown);
    }
    // What is sent is the file as it was when opened: never more than its size then, so a file
    // being appended to still yields a consistent earlier version (below).
    const auto size = static_cast<uint64_t>(st.st_size);
    advise_reading(fd, size);

    spdlog::info("{}", printable(listed.path));
    stats_.set_current_file(listed.path);
    FileHasher hasher;
    ParallelContentHasher* sha = seal && size > kContentChunkBytes ? &seal->parallel : nullptr;
    ContentHasher* small_sha = seal && !sha ? &seal->inline_hasher : nullptr;
    if (sha) sha->finish();  // what an earlier file that failed midway left
    if (small_sha) small_sha->finish();
    Encoder head;
    encode_file_data_head(index, head);
    uint64_t total = 0;
    std::unique_ptr<FrameDeltaSink> sink;
    std::unique_ptr<DeltaEncoder> encoder;
    data_.begin_file(listed.path);
    if (basis != nullptr) {
      sink = std::make_unique<FrameDeltaSink>(data_, index, *basis);
      encoder = std::make_unique<DeltaEncoder>(*basis, *sink);
    }
    // The hashing thread may be reading the encoder's window or a buffer: it is done before
    // either goes (declared after them, so destroyed first).
    struct WaitForHash {
      ParallelContentHasher* sha;
      ~WaitForHash() {
        if (sha) sha->wait();
      }
    } wait_for_hash{sha};
    size_t next_buf = 0;
    std::vector<ParallelContentHasher::Ticket> hashing(bufs.size());  // what each buffer holds for the hasher
    // A file keeps its holes: a run of zeros the file system does not store goes as a FileHole
    // count, in a delta too (between the operations of what comes before and after it), so a
    // sparse disk image changed in a few places is neither scanned nor made dense where it
    // holds nothing. hole_at is where the next hole starts (the end of the file counts); max:
    // none known, as on a file system that cannot say.
    uint64_t hole_at = UINT64_MAX;
    if (size >= kMinHoleBytes) {  // a smaller file cannot hold a hole worth sending
      int64_t h = platform::seek_hole(fd, 0);
      if (h >= 0) hole_at = static_cast<uint64_t>(h);
    }
    while (true) {
      if (hole_at <= total && total < size) {
        auto data_at = std::min<uint64_t>(size, static_cast<uint64_t>(platform::seek_data(fd, static_cast<int64_t>(total))));
        if (data_at > total && data_at - total >= kMinHoleBytes) {
          if (encoder) {
            encoder->hole(data_at - total);
            sink->flush();
          }
          Encoder hole;
          FileHole{index, data_at - total}.encode(hole);
          out_.send(MsgType::kFileHole, hole);
          hasher.update_zeros(data_at - total);
          if (sha) sha->update_zeros(data_at - total);
          if (small_sha) small_sha->update_zeros(data_at - total);
          stats_.bytes_literal += data_at - total;
          stats_.bytes_through += data_at - total;
          total = data_at;
        }
        // The next hole after the data that follows; a short hole before it is read as zeros.
        int64_t h = data_at < size ? platform::seek_hole(fd, static_cast<int64_t>(data_at)) : -1;
        hole_at = h >= 0 && static_cast<uint64_t>(h) > total ? static_cast<uint64_t>(h) : UINT64_MAX;
      }
      // A delta is scanned where it is read: straight into the encoder's window, which may move
      // when asked for space, so the hash of what is in it must be done first.
      size_t room = static_cast<size_t>(std::min<uint64_t>(wire::kDataChunkBytes, std::min(size, hole_at) - total));
      if (room == 0) break;
      if (encoder && sha) sha->wait();
      if (!encoder && sha) sha->wait_for(hashing[next_buf]);
      char* into = encoder ? reinterpret_cast<char*>(encoder->space(room)) : bufs[next_buf].data();
      // pread: finding holes moves the file offset.
      ssize_t n = ::pread(fd, into, room, static_cast<off_t>(total));
      if (n < 0) {
        if (errno == EINTR) continue;
        // The receiver discards what it got so far when told the file failed.
        return refuse(errno_message("read error in " + shown + " (not sent)", errno));
      }
      if (n == 0) break;
      std::string_view chunk(into, static_cast<size_t>(n));
      if (sha) {
        hashing[next_buf] = sha->update(chunk.data(), chunk.size());
        if (!encoder) next_buf = (next_buf + 1) % bufs.size();
      }
      if (small_sha) small_sha->update(chunk.data(), chunk.size());
      hasher.update(chunk.data(), chunk.size());
      uint64_t offset = total;
      total += chunk.size();
      stats_.bytes_through += chunk.size();
      if (encoder) {
        encoder->commit(chunk.size());
        continue;
      }
      data_.send_from_file(MsgType::kFileData, head.data(), chunk, fd, offset);
      stats_.bytes_literal += chunk.size();  // our view, for the progress line
    }
    if (encoder) {
      encoder->finish();
      sink->flush();
      stats_.bytes_literal += encoder->literal_bytes();
    }
    struct stat after {};
    if (::fstat(fd, &after) != 0) return refuse(errno_message("cannot stat " + shown, errno));
    bool unchanged = after.st_size == st.st_size &&
                     platform::same_time(platform::modified_time(after), platform::modified_time(st)) &&
                     platform::same_time(platform::changed_time(after), platform::changed_time(st)) && total == size;
    // Only grew (a log being appended to): the bytes read are the file as it was when opened,
    // stored with the mtime it had then, so the next run sees it changed and sends the rest.
    bool grew = !unchanged && total == size && static_cast<uint64_t>(after.st_size) > size;
    if (grew) {
      reporter_.report(MessageLevel::kWarning, shown + " grew while it was read: stored as it was when opened (" +
                                                   std::to_string(size) + " bytes); the next run takes the rest");
    } else if (!unchanged) {
      // Written to while we read it: what was read may be a mix of two versions, which the
      // receiver's hash check cannot see (it checks what we read). It keeps its old version,
      // and we read the file again a few times before giving up on it.
      if (take_change_retry(index)) {
        spdlog::debug("{} changed while it was read: sending it again", shown);
        return send_failed(shown + " changed while it was read", wire::kFailedWillRetry);
      }
      return vanished(shown + " kept changing while it was read (" + std::to_string(kMaxChangeRetries + 1) +
                      " tries), so it was not copied (the old copy, if any, is kept); run again when it is not "
                      "being written");
    }
    const timespec mtime = platform::modified_time(grew ? st : after);
    FileEnd end{index, total, mtime.tv_sec, static_cast<uint32_t>(mtime.tv_nsec), hasher.digest()};
    if (sha || small_sha) {
      end.has_sha256 = true;
      end.sha256 = sha ? sha->finish() : small_sha->finish();
    } else if (sealed_) {
      if (std::optional<Sha256Digest> sealed = sealed_->find(listed.path)) {
        end.has_sha256 = true;
        end.sha256 = *sealed;
      }
    }
    Encoder e;
    end.encode(e);
    out_.send(MsgType::kFileEnd, e);
    ++stats_.files_transferred;
  }

  // Whether a file that changed while read may be sent again; if so, the receiver's retry Want
  // is now allowed.
  bool take_change_retry(uint64_t index) {
    std::lock_guard lock(mutex_);
    Listed* listed = listed_.find(index);
    if (listed == nullptr || listed->change_retries >= kMaxChangeRetries) return false;
    ++listed->change_retries;
    return true;
  }

  Channel& channel_;
  FrameReader& in_;
  FrameWriter& out_;
  Reporter& reporter_;
  TransferStats& stats_;
  DataWriter data_;  // the worker thread's
  bool checksum_;
  bool read_stored_;
  const FilterRules& filters_;
  const std::string& only_name_;
  bool seal_;
  std::shared_ptr<SealedHashes> sealed_;  // the sending thread's
  PageBuffer checksum_buf_;  // the listing thread's, for --checksum
  int root_fd_;  // every file sent is opened beneath this, never by a path string
  const std::string& root_;

  std::mutex mutex_;
  std::condition_variable wake_;
  ListWindow listed_{wire::kListWindow};
  std::deque<Request> queue_;
  std::optional<Request> assembling_;  // reader thread only
  uint64_t assembling_blocks_ = 0;
  bool finished_ = false;
  bool stop_ = false;
  Done done_;
  std::exception_ptr failure_;
  bool failure_is_lost_connection_ = false;
  bool reader_running_ = true;
};

}  // namespace

Done Sender::run(const std::string& root) {
  UniqueFd root_fd = TreeWalker::open_root(root);
  return run(root_fd.get(), root);
}

Done Sender::run(int root_fd, const std::string& root) {
  return SendSession(channel_, in_, out_, reporter_, stats_, options_, root_fd, root).run();
}

}  // namespace ferry
