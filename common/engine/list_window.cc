#include "engine/list_window.h"

namespace ferry {

Listed* ListWindow::find(uint64_t index) {
  if (index < settled_ || index - settled_ >= entries_.size()) return nullptr;
  return &entries_[index - settled_];
}

std::string ListWindow::settle(uint64_t below) {
  if (below < settled_) {
    return "Settled " + std::to_string(below) + " after Settled " + std::to_string(settled_) + ": it went back";
  }
  if (below > count()) {
    return "Settled " + std::to_string(below) + ", but only " + std::to_string(count()) + " entries were listed";
  }
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(below - settled_));
  settled_ = below;
  return "";
}

}  // namespace ferry
