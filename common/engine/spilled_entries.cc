#include "engine/spilled_entries.h"

#include <algorithm>
#include <utility>

#include "base/bytes.h"
#include "protocol/messages.h"

namespace ferry {

SpilledEntries::SpilledEntries(size_t batch_entries, int spill_dir)
    : batch_entries_(std::max<size_t>(batch_entries, 1)), file_(spill_dir) {}

void SpilledEntries::add(FileEntry entry) {
  held_.push_back(std::move(entry));
  ++count_;
  if (held_.size() >= batch_entries_ && !file_failed_ && spill()) held_.clear();
}

bool SpilledEntries::spill() {
  Encoder e;
  EntryEncoder codec;  // each batch coded on its own, so that it decodes on its own
  for (const FileEntry& entry : held_) codec.encode(entry, e);
  if (!file_.append(e.data())) {
    file_failed_ = true;
    return false;
  }
  batch_ends_.push_back(file_.size());
  return true;
}

std::vector<FileEntry> SpilledEntries::read_batch(size_t batch) const {
  uint64_t start = batch == 0 ? 0 : batch_ends_[batch - 1];
  std::string coded = file_.read(start, batch_ends_[batch] - start);
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
