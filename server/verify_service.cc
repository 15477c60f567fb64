#include "server/verify_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <random>
#include <tuple>

#include "base/bytes.h"
#include "base/error.h"
#include "base/page_buffer.h"
#include "fs/dest_state.h"
#include "fs/rel_path.h"
#include "fs/snapshot_store.h"
#include "fs/symlink_owners.h"
#include "fs/tree_walker.h"
#include "platform/platform.h"
#include "seal/content_hash.h"
#include "seal/seal_error.h"
#include "seal/seal_file.h"
#include "seal/seal_record.h"
#include "server/store_access.h"

namespace ferry {

using wire::MessageLevel;
using wire::MsgType;

namespace {

constexpr size_t kItemBatchBytes = 32 * 1024;

class Verifier {
 public:
  Verifier(const Open& open, FrameWriter& out, Reporter& reporter, RestoreSource& source)
      : open_(open), out_(out), reporter_(reporter), source_(source), sample_(open.sample_percent),
        random_(std::random_device{}()) {}

  void run() {
    UniqueFd fd(source_.seals_dir.valid()
                    ? ::openat(source_.seals_dir.get(), source_.seal_name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
                    : -1);
    if (!fd.valid()) {
      end_.seal_id.clear();  // no seal: the client says what that means to it
      return finish();
    }
    const std::string shown = open_.path + "/.ferry-state/seals/" + source_.seal_name;
    try {
      reader_.emplace(std::move(fd), shown);
      advance();
      walk();
      while (sealed_) {
        item(VerifyItem::kSealed, body_);
        if (!(sealed_->flags & SealRecord::kNotStored)) item(VerifyItem::kMissing, "");
        advance();
      }
    } catch (const SealFormatError& damaged) {
      throw FatalError(std::string("the seal on the backup machine is damaged: ") + damaged.what() +
                       ". Run a backup to seal it again");
    }
    end_.seal_id = reader_->id();
    end_.seal_flags = reader_->flags();
    end_.stored_root = reader_->summary().root;
    end_.stored_entries = reader_->summary().entries;
    finish();
  }

 private:
  void walk() {
    std::string problem;
    SymlinkOwners symlink_owners = read_symlink_owners(source_.dir.get(), &problem);
    if (!problem.empty()) reporter_.report(MessageLevel::kWarning, problem);
    TreeWalker::walk(
        source_.dir.get(), open_.path,
        [&](FileEntry& entry, const SourceId&) {
          if (entry.type == FileType::kSymlink && !symlink_owners.empty()) {
            auto owner = symlink_owners.find(entry.path);
            if (owner != symlink_owners.end()) std::tie(entry.uid, entry.gid) = owner->second;
          }
          visit(entry);
        },
        [&](const std::string& message) { reporter_.report(MessageLevel::kError, message); },
        [&](const FileEntry& entry) { return is_reserved_top_name(entry.path); },
        /*read_stored_metadata=*/true);
  }

  // Merges the walk with the seal: both come in list order.
  void visit(const FileEntry& entry) {
    while (sealed_ && compare_paths(sealed_->entry.path, entry.path) < 0) {
      item(VerifyItem::kSealed, body_);
      if (!(sealed_->flags & SealRecord::kNotStored)) item(VerifyItem::kMissing, "");
      advance();
    }
    if (!sealed_ || sealed_->entry.path != entry.path) {
      SealRecord found;
      found.entry = canonical_entry(entry);
      found.flags = SealRecord::kContentUnread;
      return item(VerifyItem::kExtra, encode_seal_record(found));
    }
    item(VerifyItem::kSealed, body_);
    if (!(sealed_->flags & SealRecord::kNotStored)) compare(entry);
    advance();
  }

  void compare(const FileEntry& entry) {
    SealRecord found;
    found.entry = canonical_entry(entry);
    found.content = sealed_->content;
    if (entry.type == FileType::kRegular && sealed_->entry.type == FileType::kRegular && sampled()) {
      std::string problem;
      if (!hash_content(entry.path, &found.content, &problem)) return item(VerifyItem::kUnreadable, problem);
    } else {
      found.flags = SealRecord::kContentUnread;
    }
    std::string body = encode_seal_record(found);
    // The same record but for the flags byte: nothing to say.
    if (std::string_view(body).substr(1) == std::string_view(body_).substr(1)) return;
    item(VerifyItem::kFound, body);
  }

  bool sampled() {
    if (sample_ >= 100) return true;
    return std::uniform_int_distribution<uint32_t>(1, 100)(random_) <= sample_;
  }

  bool hash_content(const std::string& path, Sha256Digest* out, std::string* problem) {
    UniqueFd fd(platform::open_beneath(source_.dir.get(), path, platform::read_flags_without_atime()));
    if (!fd.valid() && errno == EPERM) fd.reset(platform::open_beneath(source_.dir.get(), path, O_RDONLY));
    if (!fd.valid()) {
      *problem = errno_message("cannot open it", errno);
      return false;
    }
    platform::advise_sequential(fd.get());
    uint64_t bytes = 0;
    if (!content_hash_of_fd(fd.get(), buf_, out, &bytes)) {
      *problem = errno_message("cannot read it", errno);
      return false;
    }
    end_.bytes_read += bytes;
    ++end_.files_read;
    return true;
  }

  void advance() {
    sealed_.reset();
    if (reader_->next(&body_)) sealed_ = decode_seal_record(body_);
  }

  void item(VerifyItem::Kind kind, std::string_view data) {
    VerifyItem{kind, std::string(data)}.encode(items_);
    if (items_.data().size() >= kItemBatchBytes) flush();
  }

  void flush() {
    if (items_.data().empty()) return;
    out_.send(MsgType::kVerifyItems, items_);
    items_.clear();
  }

  void finish() {
    flush();
    Encoder e;
    end_.encode(e);
    out_.send(MsgType::kVerifyEnd, e);
  }

  const Open& open_;
  FrameWriter& out_;
  Reporter& reporter_;
  RestoreSource& source_;
  uint32_t sample_;
  std::mt19937_64 random_;
  std::optional<SealReader> reader_;
  std::optional<SealRecord> sealed_;  // the seal's record at the walk's position
  std::string body_;                  // ... as stored
  Encoder items_;
  VerifyEnd end_;
  PageBuffer buf_{256 * 1024};
};

void verify_one(const Open& open, const Confinement& rules, FrameWriter& out, Reporter& reporter) {
  RestoreSource source = open_restore_source(open, rules, reporter);
  if (!source.only_name.empty() || !source.sealed_prefix.empty()) {
    throw FatalError("verify checks a whole backup: name the destination itself (and --at for a snapshot), not " +
                         open.path,
                     ExitCode::kUsage);
  }
  Verifier(open, out, reporter, source).run();
}

}  // namespace

void serve_verify(const Open& open, const Confinement& rules, FrameWriter& out, Reporter& reporter) {
  std::vector<std::string> ids;
  if (open.flags & wire::kOpenEverySnapshot) {
    try {
      UniqueFd store = open_store(open, rules);
      ids = list_snapshots(store.get());
    } catch (const FatalError& not_a_store) {
      if (not_a_store.code() != ExitCode::kUsage) throw;  // a mirror: its one seal
    }
  }
  ListingEnd end;
  if (ids.empty()) {
    verify_one(open, rules, out, reporter);
    end.count = 1;
  }
  for (const std::string& id : ids) {
    Open one = open;
    one.at = id;
    verify_one(one, rules, out, reporter);
    ++end.count;
  }
  Encoder e;
  end.encode(e);
  out.send(MsgType::kListingEnd, e);
}

}  // namespace ferry
