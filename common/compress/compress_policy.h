// Which file data is worth compressing, decided per file and, with --compress=auto, by
// measuring the link.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// File name suffixes whose data is already compressed (images, audio, video, archives,
// packages, disk images). Matched case-insensitively against the last extension.
class SkipCompressList {
 public:
  // The default list.
  SkipCompressList();
  // A slash-separated list of suffixes without dots, as rsync's --skip-compress takes:
  // "gz/jpg/mp[34]" is not supported, "gz/jpg/mp3/mp4" is. An empty string skips nothing.
  static SkipCompressList parse(std::string_view list);

  bool skips(std::string_view path) const;
  // The list in its slash-separated form, for the Open message.
  std::string to_string() const;

 private:
  explicit SkipCompressList(std::vector<std::string> suffixes) : suffixes_(std::move(suffixes)) {}
  std::vector<std::string> suffixes_;  // lowercase, sorted
};

// The cheap per-file test: once the first chunks of a file have been compressed, stop if they
// did not shrink. Returns whether to keep compressing this file.
bool worth_compressing(uint64_t raw_bytes, uint64_t compressed_bytes);

// --compress=auto. Compression helps when the link, not the CPU, is what limits a transfer:
// sending data compressed takes max(compress time, compressed size / link rate), sending it
// raw takes size / link rate. Rather than model the link, this measures both: it alternates
// windows of file data sent with and without compression, and keeps whichever moved more input
// bytes per second, re-testing the other choice now and then in case the link changed.
class AutoCompressPolicy {
 public:
  static constexpr uint64_t kWindowBytes = 8 * 1024 * 1024;
  static constexpr int kWindowsBetweenProbes = 16;

  // Whether the next chunk of file data should be compressed.
  bool compress_next() const { return compressing_; }
  // Records `bytes` of file data sent in `seconds` in the current mode.
  void record(uint64_t bytes, double seconds);

 private:
  void end_window();

  bool compressing_ = true;  // start by measuring compression
  uint64_t window_bytes_ = 0;
  double window_seconds_ = 0;
  double rate_on_ = -1;   // input bytes per second, last measured; -1 = not yet
  double rate_off_ = -1;
  int windows_since_probe_ = 0;
};

}  // namespace ferry
