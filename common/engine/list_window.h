// What the sender remembers of the entries it has listed, and how far ahead of the receiver it
// may list (PROTOCOL.md §7a). The receiver's Settled says below which index it will ask for
// nothing more; everything below that is forgotten here, and the listing waits while it is
// kListWindow entries ahead. So the sender holds a window of entries, not the tree, and the
// receiver never has more than a window of entries waiting for their data.
//
// Not thread-safe: the sending session holds its mutex around every call.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <string>

namespace ferry {

// What the sender remembers of each listed entry until the receiver has settled it.
struct Listed {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
  bool sendable = false;  // a regular file that is not a follower in a hardlink group
  uint64_t size = 0;      // as listed, for the progress line's total
  int wants = 0;          // a second Want is allowed once, as a retry
  int change_retries = 0;  // times we told the receiver we would send it again (each allows a Want)
};

class ListWindow {
 public:
  explicit ListWindow(uint64_t width) : width_(width) {}

  // Entry number `count()`, just listed.
  void add(Listed listed) { entries_.push_back(std::move(listed)); }
  uint64_t count() const { return settled_ + entries_.size(); }

  // Whether one more entry may be listed now.
  bool has_room() const { return entries_.size() < width_; }

  // Entry `index`, or null when it was never listed or has been settled.
  Listed* find(uint64_t index);
  bool was_settled(uint64_t index) const { return index < settled_; }

  // The receiver's Settled. Returns what is wrong with it ("" when nothing): it may not go
  // back, nor past what was listed.
  std::string settle(uint64_t below);

 private:
  uint64_t width_;
  uint64_t settled_ = 0;        // the index of entries_.front()
  std::deque<Listed> entries_;  // listed, not yet settled
};

}  // namespace ferry
