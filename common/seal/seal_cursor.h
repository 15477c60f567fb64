// Finds a seal's records by path for a caller that walks a tree in list order (the receiver
// merging the previous seal into the new one, a restoring sender, verify): one pass over the
// file, one record held at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "seal/seal_file.h"
#include "seal/seal_record.h"
#include "seal/seal_tree.h"

namespace ferry {

class SealCursor {
 public:
  SealCursor() = default;  // finds nothing
  explicit SealCursor(std::unique_ptr<SealReader> reader) : reader_(std::move(reader)) {}

  // Opens `name` in the folder `dir`; a missing file gives a cursor that finds nothing.
  static SealCursor open(int dir, const std::string& name, const std::string& shown);

  // The record at `path`, or null. Paths must come in increasing list order. A damaged seal
  // finds nothing from the damage on; problem() then says what was wrong.
  const SealRecord* find(std::string_view path);
  const std::string& problem() const { return problem_; }
  // Whether there is a seal to read (or was one that could not be read).
  bool exists() const { return reader_ != nullptr || !problem_.empty(); }
  // The body of the record find() last returned.
  const std::string& body() const { return body_; }
  // Reads to the end: how many records were never found, and the seal's header and trailer.
  // False when the seal cannot be read to its end, or its records do not give its stored root.
  bool drain(uint64_t* unfound, SealSummary* summary);

 private:
  bool advance();

  std::unique_ptr<SealReader> reader_;
  std::optional<SealRecord> current_;
  bool started_ = false;
  bool found_current_ = false;  // find() returned current_
  uint64_t passed_ = 0;         // records advanced over without being found
  SealSummary summary_;         // the trailer, once read
  bool complete_ = false;       // read to its end without a problem
  SealTree tree_;               // every record read, to check the stored root
  std::string problem_;
  std::string body_;
};

}  // namespace ferry
