// What the user sees of a transfer besides errors and progress (client/progress.h): the --stats
// table and the --json object.
#pragma once

#include <cstdint>
#include <string>

#include "engine/reporter.h"
#include "protocol/messages.h"
#include "seal/sha256.h"

namespace ferry {

struct Summary {
  std::string operation;
  std::string source;
  std::string destination;
  bool dry_run = false;
  uint64_t files_total = 0;
  uint64_t files_transferred = 0;
  uint64_t bytes_total = 0;
  uint64_t bytes_literal = 0;
  uint64_t bytes_matched = 0;
  uint64_t bytes_compressed_raw = 0;
  uint64_t bytes_compressed_wire = 0;
  uint64_t bytes_wire_sent = 0;
  uint64_t bytes_wire_received = 0;
  uint64_t errors = 0;
  uint64_t vanished = 0;  // source files that vanished or kept changing (not errors: exit 24)
  uint64_t deleted = 0;
  uint64_t kept_in_safety_net = 0;
  double elapsed_s = 0;
  int exit_code = 0;
  std::string error;  // the fatal error, if the run stopped
  std::string seal_id;    // a sealed backup's seal
  std::string seal_root;  // ... and its root, in hex

  // Takes the receiver's account of what it did.
  void take(const Done& done) {
    files_transferred = done.files_transferred;
    bytes_literal = done.bytes_literal;
    bytes_matched = done.bytes_matched;
    bytes_compressed_raw = done.bytes_compressed_raw;
    bytes_compressed_wire = done.bytes_compressed_wire;
    deleted = done.deleted;
    kept_in_safety_net = done.kept_in_safety_net;
    seal_id = done.seal_id;
    if (!seal_id.empty()) seal_root = hex_of(done.seal_root);
  }
  // File bytes covered per byte on the wire, as rsync's "speedup".
  double speedup() const;
};

void print_stats(const Summary& s);  // human-readable, on stdout
void print_json(const Summary& s);   // one JSON object, on stdout

std::string human_bytes(uint64_t bytes);

}  // namespace ferry
