#include "seal/seal_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/bytes.h"
#include "base/error.h"
#include "base/positioned_io.h"
#include "seal/seal_error.h"
#include "seal/seal_tree.h"

namespace ferry {

namespace {

constexpr std::string_view kMagic = "FERRYSEAL\n";
constexpr uint8_t kVersion = 1;
constexpr size_t kBufferBytes = 256 * 1024;

void write_all(int fd, const char* data, size_t len, uint64_t at, const std::string& shown) {
  if (int err = pwrite_full(fd, data, len, at); err != 0) {
    throw FatalError(errno_message("cannot write the seal " + shown, err));
  }
}

}  // namespace

SealWriter::SealWriter(int dir, std::string name, std::string id, uint8_t flags)
    : dir_(dir), name_(std::move(name)), id_(std::move(id)), flags_(flags) {
  if (id_.size() > kMaxSealIdBytes) throw FatalError("a seal ID is longer than 64 bytes");
  fd_.reset(::openat(dir_, name_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd_.valid()) throw FatalError(errno_message("cannot create the seal " + name_, errno));
  buffer_.append(kMagic);
  buffer_.push_back(static_cast<char>(kVersion));
  buffer_.push_back(static_cast<char>(flags_));
  buffer_.push_back(static_cast<char>(id_.size()));
  buffer_.append(id_);
}

void SealWriter::flush() {
  write_all(fd_.get(), buffer_.data(), buffer_.size(), flushed_, name_);
  flushed_ += buffer_.size();
  buffer_.clear();
}

uint64_t SealWriter::append_body(std::string_view body) {
  settled_ = false;
  uint64_t at = flushed_ + buffer_.size();
  append_le(buffer_, body.size(), 4);
  buffer_.append(body);
  if (buffer_.size() >= kBufferBytes) flush();
  return at;
}

void SealWriter::write_at(uint64_t at, const void* data, size_t len) {
  static constexpr size_t kMaxPatches = 4096;
  if (at >= flushed_) {
    std::memcpy(buffer_.data() + (at - flushed_), data, len);
    return;
  }
  Patch& patch = patches_.emplace_back();
  patch.at = at;
  patch.len = static_cast<uint8_t>(len);
  std::memcpy(patch.bytes.data(), data, len);
  if (patches_.size() >= kMaxPatches) apply_patches();
}

void SealWriter::apply_patches() {
  // Patches further apart than this are written as separate spans (rewriting what lies
  // between would cost more than a system call); one span is read and written whole.
  static constexpr uint64_t kMaxGap = 64 * 1024;
  // Stable: a later patch of the same bytes wins.
  std::stable_sort(patches_.begin(), patches_.end(), [](const Patch& a, const Patch& b) { return a.at < b.at; });
  std::string span;
  for (size_t first = 0; first < patches_.size();) {
    uint64_t start = patches_[first].at, end = start + patches_[first].len;
    size_t last = first + 1;
    for (; last < patches_.size() && patches_[last].at <= end + kMaxGap; ++last) {
      end = std::max(end, patches_[last].at + patches_[last].len);
    }
    span.resize(end - start);
    ssize_t got = pread_full(fd_.get(), span.data(), span.size(), start);
    if (got != static_cast<ssize_t>(span.size())) {
      throw FatalError(errno_message("cannot read back the seal " + name_, got < 0 ? errno : EIO));
    }
    for (size_t i = first; i < last; ++i) {
      std::memcpy(span.data() + (patches_[i].at - start), patches_[i].bytes.data(), patches_[i].len);
    }
    write_all(fd_.get(), span.data(), span.size(), start, name_);
    first = last;
  }
  patches_.clear();
}

void SealWriter::patch(uint64_t at, const Sha256Digest& content, int64_t mtime_sec, uint32_t mtime_nsec) {
  // `at` is the record's length field; its body follows. The hash and the times are side by
  // side in it: one patch.
  static_assert(kSealMtimeOffset == kSealContentOffset + sizeof(Sha256Digest));
  settled_ = false;
  std::string bytes(content.begin(), content.end());
  append_le(bytes, static_cast<uint64_t>(mtime_sec), 8);
  append_le(bytes, mtime_nsec, 4);
  write_at(at + 4 + kSealContentOffset, bytes.data(), bytes.size());
}

void SealWriter::mark_not_stored(uint64_t at) {
  settled_ = false;
  set_not_stored(at);
}

void SealWriter::copy_content(uint64_t from, uint64_t to) {
  if (!settled_) {
    flush();
    apply_patches();
    settled_ = true;
  }
  std::array<char, kSealFixedBytes> fixed;  // flags, content hash, mtime
  ssize_t got = pread_full(fd_.get(), fixed.data(), fixed.size(), from + 4);
  if (got != static_cast<ssize_t>(fixed.size())) {
    throw FatalError(errno_message("cannot read back the seal " + name_, got < 0 ? errno : EIO));
  }
  if ((static_cast<uint8_t>(fixed[0]) & SealRecord::kNotStored) != 0) return set_not_stored(to);
  static_assert(kSealContentOffset == 1 && kSealMtimeOffset + 12 == kSealFixedBytes);
  write_at(to + 4 + kSealContentOffset, fixed.data() + kSealContentOffset, kSealFixedBytes - kSealContentOffset);
}

void SealWriter::set_not_stored(uint64_t at) {
  // Read-modify-write of the flags byte: it may already be on disk (rare: a failed file).
  uint8_t flags = 0;
  uint64_t pos = at + 4;
  if (pos >= flushed_) {
    flags = static_cast<uint8_t>(buffer_[pos - flushed_]);
  } else {
    apply_patches();  // the file must hold every change made so far
    if (::pread(fd_.get(), &flags, 1, static_cast<off_t>(pos)) != 1) {
      throw FatalError(errno_message("cannot read back the seal " + name_, errno));
    }
  }
  flags |= SealRecord::kNotStored;
  write_at(pos, &flags, 1);
}

void SealWriter::abandon() {
  ::unlinkat(dir_, name_.c_str(), 0);
  fd_.reset();
  buffer_.clear();
  patches_.clear();
}

void SealWriter::set_flags(uint8_t flags) {
  flags_ = flags;
  write_at(kMagic.size() + 1, &flags_, 1);
}

SealSummary SealWriter::finish(const std::string& final_name, bool sync) {
  append_le(buffer_, 0, 4);
  flush();
  apply_patches();
  // Read the records back in order to build the tree: the patches are in place now.
  UniqueFd again(::openat(dir_, name_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!again.valid()) throw FatalError(errno_message("cannot read back the seal " + name_, errno));
  SealReader reader(std::move(again), name_);
  SealTree tree;
  std::string body;
  while (reader.next(&body)) {
    SealRecord record = decode_seal_record(body);
    tree.add(record.entry.path, record.entry.type == FileType::kDirectory, seal_leaf(body));
  }
  // The reader stopped at the end marker; no trailer was written yet, which is all it lacks.
  SealSummary summary{id_, flags_, tree.finish(id_, flags_), tree.count()};
  std::string trailer(as_chars(summary.root));
  append_le(trailer, summary.entries, 8);
  write_all(fd_.get(), trailer.data(), trailer.size(), flushed_, name_);
  if (sync && ::fsync(fd_.get()) != 0) throw FatalError(errno_message("cannot sync the seal " + name_, errno));
  if (::renameat(dir_, name_.c_str(), dir_, final_name.c_str()) != 0) {
    throw FatalError(errno_message("cannot put the seal " + final_name + " in place", errno));
  }
  if (sync) ::fsync(dir_);
  return summary;
}

SealReader::SealReader(UniqueFd fd, std::string shown) : fd_(std::move(fd)), shown_(std::move(shown)) {
  std::string_view magic = take(kMagic.size(), "its header");
  if (magic != kMagic) throw SealFormatError(shown_ + " is not a seal file");
  std::string_view head = take(3, "its header");
  if (static_cast<uint8_t>(head[0]) != kVersion) {
    throw SealFormatError(shown_ + " is a seal of version " + std::to_string(static_cast<uint8_t>(head[0])) +
                          ", which this Ferry cannot read");
  }
  flags_ = static_cast<uint8_t>(head[1]);
  if ((flags_ & ~seal_flags::kKnown) != 0) throw SealFormatError(shown_ + " has unknown flags");
  size_t id_len = static_cast<uint8_t>(head[2]);
  if (id_len > kMaxSealIdBytes) throw SealFormatError(shown_ + " has an ID longer than 64 bytes");
  id_ = std::string(take(id_len, "its ID"));
  summary_.id = id_;
  summary_.flags = flags_;
}

void SealReader::fill(size_t want) {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  while (buf_.size() - pos_ < want && !eof_) {
    if (pos_ > kBufferBytes) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    size_t old = buf_.size();
    buf_.resize(old + std::max(kBufferBytes, want));
    ssize_t n = ::read(fd_.get(), buf_.data() + old, buf_.size() - old);
    if (n < 0 && errno == EINTR) n = 0;
    if (n < 0) throw FatalError(errno_message("cannot read the seal " + shown_, errno));
    buf_.resize(old + static_cast<size_t>(n));
    if (n == 0) eof_ = true;
  }
}

std::string_view SealReader::take(size_t n, const char* what) {
  fill(n);
  if (buf_.size() - pos_ < n) throw SealFormatError(shown_ + " is truncated (in " + what + ")");
  std::string_view out(buf_.data() + pos_, n);
  pos_ += n;
  return out;
}

bool SealReader::next(std::string* body) {
  if (ended_) return false;
  auto len = static_cast<size_t>(read_le(take(4, "a record's length"), 4));
  if (len == 0) {
    ended_ = true;
    fill(40);
    if (buf_.size() - pos_ == 0) return false;  // a writer's own read-back, before its trailer
    std::string_view trailer = take(40, "its root");
    std::memcpy(summary_.root.data(), trailer.data(), 32);
    summary_.entries = read_le(trailer.substr(32), 8);
    fill(1);
    if (buf_.size() != pos_) throw SealFormatError(shown_ + " has bytes after its root");
    return false;
  }
  if (len > kMaxSealRecordBytes) throw SealFormatError(shown_ + " has a record longer than 768 KiB");
  body->assign(take(len, "a record"));
  return true;
}

SealSummary check_seal_file(UniqueFd fd, const std::string& shown) {
  SealReader reader(std::move(fd), shown);
  SealTree tree;
  std::string body;
  try {
    while (reader.next(&body)) {
      SealRecord record = decode_seal_record(body);
      tree.add(record.entry.path, record.entry.type == FileType::kDirectory, seal_leaf(body));
    }
  } catch (const SealFormatError& e) {
    throw SealFormatError(shown + ": " + e.what());
  }
  SealSummary rebuilt{reader.id(), reader.flags(), tree.finish(reader.id(), reader.flags()), tree.count()};
  if (reader.summary().entries == 0 && reader.summary().root == Sha256Digest{}) {
    throw SealFormatError(shown + " is truncated (it has no root)");
  }
  if (rebuilt.root != reader.summary().root || rebuilt.entries != reader.summary().entries) {
    throw SealFormatError(shown + " does not match its own root: it was altered or damaged");
  }
  return rebuilt;
}

}  // namespace ferry
