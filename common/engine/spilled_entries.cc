#include "engine/spilled_entries.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "base/bytes.h"
#include "base/positioned_io.h"
#include "protocol/messages.h"

namespace ferry {
namespace {

UniqueFd make_unnamed_file(const std::string& dir) {
  std::string where = dir;
  if (where.empty()) {
    const char* tmpdir = ::getenv("TMPDIR");
    where = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  }
  std::string name = where + "/ferry-entries-XXXXXX";
  UniqueFd fd(::mkstemp(name.data()));
  if (fd.valid()) ::unlink(name.c_str());  // ours alone, and gone when closed
  return fd;
}

}  // namespace

SpilledEntries::SpilledEntries(size_t batch_entries, std::string spill_dir)
    : batch_entries_(std::max<size_t>(batch_entries, 1)), spill_dir_(std::move(spill_dir)) {}

void SpilledEntries::add(FileEntry entry) {
  held_.push_back(std::move(entry));
  ++count_;
  if (held_.size() >= batch_entries_ && !file_failed_ && spill()) held_.clear();
}

bool SpilledEntries::spill() {
  int err = 0;
  if (!file_.valid()) {
    file_ = make_unnamed_file(spill_dir_);
    if (!file_.valid()) err = errno;
  }
  Encoder e;
  EntryEncoder codec;  // each batch coded on its own, so that it decodes on its own
  for (const FileEntry& entry : held_) codec.encode(entry, e);
  uint64_t start = batch_ends_.empty() ? 0 : batch_ends_.back();
  if (err == 0) err = pwrite_full(file_.get(), e.data().data(), e.data().size(), start);
  if (err != 0) {
    spdlog::debug("keeping {} entries in memory: no temporary file for them ({})", count_,
                  std::string(::strerror(err)));
    if (file_.valid()) (void)::ftruncate(file_.get(), static_cast<off_t>(start));  // give the space back
    file_failed_ = true;
    return false;
  }
  batch_ends_.push_back(start + e.data().size());
  return true;
}

std::vector<FileEntry> SpilledEntries::read_batch(size_t batch) const {
  uint64_t start = batch == 0 ? 0 : batch_ends_[batch - 1];
  std::string coded(batch_ends_[batch] - start, '\0');
  ssize_t got = pread_full(file_.get(), coded.data(), coded.size(), start);
  if (got != static_cast<ssize_t>(coded.size())) {
    throw std::runtime_error(std::string("cannot read back a list kept for the end of the run: ") +
                             (got < 0 ? ::strerror(errno) : "the temporary file is short"));
  }
  std::vector<FileEntry> entries;
  Decoder d(coded);
  EntryDecoder codec;
  while (!d.at_end()) entries.push_back(codec.decode(d));
  return entries;
}

void SpilledEntries::visit_newest_first(const std::function<void(const FileEntry&)>& visit) const {
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) visit(*it);
  for (size_t batch = batch_ends_.size(); batch-- > 0;) {
    std::vector<FileEntry> entries = read_batch(batch);
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) visit(*it);
  }
}

}  // namespace ferry
