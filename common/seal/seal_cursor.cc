#include "seal/seal_cursor.h"

#include <fcntl.h>

#include <cerrno>

#include "base/error.h"
#include "protocol/rel_path.h"
#include "seal/seal_error.h"

namespace ferry {

SealCursor SealCursor::open(int dir, const std::string& name, const std::string& shown) {
  UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return SealCursor();
  try {
    return SealCursor(std::make_unique<SealReader>(std::move(fd), shown));
  } catch (const FatalError& e) {
    SealCursor none;
    none.problem_ = e.what();
    return none;
  }
}

bool SealCursor::advance() {
  if (current_ && !found_current_) ++passed_;
  current_.reset();
  found_current_ = false;
  if (!reader_) return false;
  try {
    if (reader_->next(&body_)) {
      current_ = decode_seal_record(body_);
      tree_.add(current_->entry.path, current_->entry.type == FileType::kDirectory, seal_leaf(body_));
      return true;
    }
    summary_ = reader_->summary();
    if (tree_.finish(summary_.id, summary_.flags) != summary_.root || tree_.count() != summary_.entries) {
      throw SealFormatError(reader_->summary().id + ": its records do not give its stored root");
    }
    complete_ = true;
  } catch (const FatalError& e) {
    problem_ = e.what();
  }
  reader_.reset();
  return false;
}

const SealRecord* SealCursor::find(std::string_view path) {
  if (!started_) {
    started_ = true;
    advance();
  }
  while (current_ && compare_paths(current_->entry.path, path) < 0) advance();
  if (current_ && current_->entry.path == path) {
    found_current_ = true;
    return &*current_;
  }
  return nullptr;
}

bool SealCursor::drain(uint64_t* unfound, SealSummary* summary) {
  if (!started_) {
    started_ = true;
    advance();
  }
  while (current_) advance();
  *unfound = passed_;
  if (!complete_) return false;
  *summary = summary_;
  return true;
}

}  // namespace ferry
