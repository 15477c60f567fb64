#include "client/summary.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace ferry {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

double Summary::speedup() const {
  uint64_t wire = bytes_wire_sent + bytes_wire_received;
  return wire > 0 ? static_cast<double>(bytes_total) / static_cast<double>(wire) : 0.0;
}

void print_stats(const Summary& s) {
  fmt::print("{}{}: {} -> {}\n", s.operation, s.dry_run ? " (dry run)" : "", s.source, s.destination);
  // A dry run changed nothing: its figures are what a real run would do.
  const char* would = s.dry_run ? "would be " : "";
  fmt::print("  files:        {} listed, {} {}transferred\n", s.files_total, s.files_transferred, would);
  fmt::print("  file bytes:   {} total, {} sent as data, {} matched from the old copies\n",
             human_bytes(s.bytes_total), human_bytes(s.bytes_literal), human_bytes(s.bytes_matched));
  if (s.bytes_compressed_raw > 0) {
    fmt::print("  compressed:   {} of data travelled as {}\n", human_bytes(s.bytes_compressed_raw),
               human_bytes(s.bytes_compressed_wire));
  }
  fmt::print("  wire bytes:   {} sent, {} received (speedup {:.2f})\n", human_bytes(s.bytes_wire_sent),
             human_bytes(s.bytes_wire_received), s.speedup());
  if (s.deleted > 0 || s.kept_in_safety_net > 0) {
    if (s.dry_run) {
      fmt::print("  would delete: {} ({} would be kept in the safety net)\n", s.deleted, s.kept_in_safety_net);
    } else {
      fmt::print("  deleted:      {} ({} kept in the safety net)\n", s.deleted, s.kept_in_safety_net);
    }
  }
  fmt::print("  errors:       {}\n", s.errors);
  if (s.vanished > 0) fmt::print("  vanished:     {} (changed or gone while read)\n", s.vanished);
  fmt::print("  elapsed:      {:.2f} s\n", s.elapsed_s);
  std::fflush(stdout);
}

void print_json(const Summary& s) {
  nlohmann::json j = {
      {"operation", s.operation},
      {"source", s.source},
      {"destination", s.destination},
      {"dry_run", s.dry_run},
      {"files_total", s.files_total},
      {"files_transferred", s.files_transferred},
      {"bytes_total", s.bytes_total},
      {"bytes_literal", s.bytes_literal},
      {"bytes_matched", s.bytes_matched},
      {"bytes_compressed_raw", s.bytes_compressed_raw},
      {"bytes_compressed_wire", s.bytes_compressed_wire},
      {"bytes_wire_sent", s.bytes_wire_sent},
      {"bytes_wire_received", s.bytes_wire_received},
      {"speedup", s.speedup()},
      {"errors", s.errors},
      {"vanished", s.vanished},
      {"deleted", s.deleted},
      {"kept_in_safety_net", s.kept_in_safety_net},
      {"elapsed_s", s.elapsed_s},
      {"exit_code", s.exit_code},
  };
  if (!s.error.empty()) j["error"] = s.error;
  if (!s.seal_id.empty()) j["seal"] = {{"id", s.seal_id}, {"root", s.seal_root}};
  // Names are arbitrary bytes; never let one make the JSON invalid.
  std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace ferry
