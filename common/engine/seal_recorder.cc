#include "engine/seal_recorder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/bytes.h"
#include "base/error.h"
#include "base/page_buffer.h"
#include "seal/seal_place.h"
#include "seal/content_hash.h"

namespace ferry {

SealRecorder::SealRecorder(DestinationState& state, ConfinedRoot& tree, std::string name,
                           const std::string& previous_name, std::string id, Reporter& reporter)
    : tree_(tree), reporter_(reporter), dir_(make_seals_dir(state.state_dir())), name_(std::move(name)),
      previous_(previous_name.empty() ? SealCursor()
                                      : SealCursor::open(dir_.get(), previous_name, ".ferry-state/seals/" + previous_name)),
      writer_(dir_.get(), name_ + ".new", std::move(id), 0), may_keep_previous_(name_ == previous_name),
      had_previous_(!previous_name.empty() && previous_.exists()) {}

void SealRecorder::listed(uint64_t index, const FileEntry& entry) {
  SealRecord record;
  record.entry = canonical_entry(entry);
  record.entry.sealed_content.clear();
  last_.sent_content = entry.type == FileType::kRegular ? entry.sealed_content : "";
  last_.index = index;
  last_.body = encode_seal_record(record);
  last_.at = writer_.append_body(last_.body);
  last_.path = entry.path;
  last_.type = entry.type;
  last_.size = entry.size;
  last_.mtime_sec = entry.mtime_sec;
  last_.mtime_nsec = entry.mtime_nsec;
  last_.leader = entry.type == FileType::kRegular && entry.hardlink_of == index + 1;
  if (last_.leader) leaders_.emplace_back(index, last_.at);
}

void SealRecorder::placed(uint64_t index, Placed how, uint64_t leader) {
  if (index != last_.index) throw FatalError("seal: placed() for an entry that was not the last listed");
  switch (how) {
    case Placed::kNotStored:
      same_as_previous_ = false;
      return writer_.mark_not_stored(last_.at);
    case Placed::kWanted:
      same_as_previous_ = false;
      pending_.emplace(index, last_.at);
      return;
    case Placed::kFollower: {
      auto first = std::lower_bound(leaders_.begin(), leaders_.end(), std::make_pair(leader, uint64_t{0}));
      if (first == leaders_.end() || first->first != leader) {
        same_as_previous_ = false;
        return writer_.mark_not_stored(last_.at);  // the receiver placed it: not reached
      }
      followers_.emplace_back(last_.at, first->second);
      return compare_with_previous(/*ignore_content=*/true);
    }
    case Placed::kInPlace: break;
  }
  if (last_.type == FileType::kRegular) {
    Content content;
    if (!content_in_place(last_, &content)) {
      same_as_previous_ = false;
      return writer_.mark_not_stored(last_.at);
    }
    writer_.patch(last_.at, content.sha, content.mtime_sec, content.mtime_nsec);
    std::copy(content.sha.begin(), content.sha.end(), last_.body.begin() + kSealContentOffset);
  }
  compare_with_previous(/*ignore_content=*/false);
}

void SealRecorder::compare_with_previous(bool ignore_content) {
  if (!may_keep_previous_ || !same_as_previous_) return;
  const SealRecord* before = previous_.find(last_.path);
  const std::string& body = previous_.body();
  bool same = before != nullptr && body.size() == last_.body.size() &&
              (ignore_content ? body.compare(0, kSealContentOffset, last_.body, 0, kSealContentOffset) == 0 &&
                                    body.compare(kSealMtimeOffset, std::string::npos, last_.body, kSealMtimeOffset) == 0
                              : body == last_.body);
  if (!same) {
    same_as_previous_ = false;
    return;
  }
  ++matched_;
}

// A file the run did not send: the previous seal's hash when that seal describes the same
// file (size and mtime), else read from the destination (the first sealed run over an older
// backup, or a --checksum run that found the same content under another mtime).
bool SealRecorder::content_in_place(const Listed& listed, Content* out) {
  out->mtime_sec = listed.mtime_sec;
  out->mtime_nsec = listed.mtime_nsec;
  if (listed.sent_content.size() == out->sha.size()) {
    std::copy(listed.sent_content.begin(), listed.sent_content.end(), out->sha.begin());
    return true;
  }
  const SealRecord* before = previous_.find(listed.path);
  if (!previous_.problem().empty() && !previous_problem_said_) {
    previous_problem_said_ = true;
    reporter_.report(wire::MessageLevel::kWarning, "the previous seal cannot be read (" + previous_.problem() +
                                                       "); the files it covered are read again to seal them");
  }
  if (before != nullptr && before->entry.type == FileType::kRegular && (before->flags & SealRecord::kNotStored) == 0 &&
      before->entry.size == listed.size && before->entry.mtime_sec == listed.mtime_sec &&
      before->entry.mtime_nsec == listed.mtime_nsec) {
    out->sha = before->content;
    return true;
  }
  UniqueFd fd = tree_.open(listed.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!fd.valid()) return false;
  PageBuffer buf(256 * 1024);
  return content_hash_of_fd(fd.get(), buf, &out->sha);
}

void SealRecorder::arrived(uint64_t index, const Hash256& sha256, const FileEntry& placed) {
  auto it = pending_.find(index);
  if (it == pending_.end()) return;
  Content content{sha256, placed.mtime_sec, placed.mtime_nsec};
  writer_.patch(it->second, content.sha, content.mtime_sec, content.mtime_nsec);
  pending_.erase(it);
}

void SealRecorder::not_stored(uint64_t index) {
  auto it = pending_.find(index);
  if (it == pending_.end()) return;
  writer_.mark_not_stored(it->second);
  pending_.erase(it);
}

SealSummary SealRecorder::finish(bool complete, bool sync) {
  // Anything still waiting never arrived: the receiver reported it. Then each hard link takes
  // its first name's content, or its not-stored mark.
  for (const auto& [index, at] : pending_) writer_.mark_not_stored(at);
  pending_.clear();
  for (const auto& [at, first_at] : followers_) writer_.copy_content(first_at, at);
  uint8_t flags = complete ? seal_flags::kComplete : 0;
  uint64_t unfound = 0;
  SealSummary previous;
  bool previous_whole = had_previous_ && previous_.drain(&unfound, &previous);
  if (had_previous_) {
    previous_summary_ = previous;
    if (!previous_whole) previous_summary_.root = {};
    // (assign, not = "?": GCC 12 warns falsely of an overlapping copy there, its bug 105329)
    if (previous_summary_.id.empty()) previous_summary_.id.assign(1, '?');  // there was one, unreadable
  }
  if (may_keep_previous_ && same_as_previous_ && previous_whole && unfound == 0 && previous.flags == flags &&
      previous.entries == matched_) {
    // Every record came out as the previous seal's, in order, and it has no others (its root
    // was checked against its records as they were read): it is this run's seal too.
    writer_.abandon();
    return previous;
  }
  writer_.set_flags(flags);
  return writer_.finish(name_, sync);
}

}  // namespace ferry
