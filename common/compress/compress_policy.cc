#include "compress/compress_policy.h"

#include <algorithm>
#include <cctype>

namespace ferry {

namespace {

// Formats whose data is already compressed; trying zstd on them costs CPU for nothing.
constexpr std::string_view kDefaultSkip =
    "3g2/3gp/7z/aac/ace/apk/avi/avif/bz2/cab/crx/deb/dmg/docx/dsk/epub/flac/flv/gif/gpg/gz/heic/"
    "heif/iso/jar/jpeg/jpg/lrz/lz/lz4/lzma/lzo/m1a/m1v/m2a/m2ts/m2v/m4a/m4b/m4p/m4r/m4v/mka/mkv/"
    "mov/mp1/mp2/mp3/mp4/mpa/mpeg/mpg/mpv/mts/odg/odp/ods/odt/oga/ogg/ogm/ogv/ogx/opus/otg/otp/"
    "ots/ott/oxt/pkg/png/pptx/qt/rar/rpm/rz/rzip/sparsebundle/spx/squashfs/svgz/tbz/tgz/tlz/txz/"
    "vob/webm/webp/wim/wma/wmv/xlsx/xz/z/zip/zst";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

SkipCompressList::SkipCompressList() : SkipCompressList(parse(kDefaultSkip)) {}

SkipCompressList SkipCompressList::parse(std::string_view list) {
  SkipCompressList result{std::vector<std::string>()};
  while (!list.empty()) {
    size_t slash = list.find('/');
    std::string_view item = list.substr(0, slash);
    while (!item.empty() && item.front() == '.') item.remove_prefix(1);
    if (!item.empty()) result.suffixes_.push_back(lower(item));
    if (slash == std::string_view::npos) break;
    list.remove_prefix(slash + 1);
  }
  std::sort(result.suffixes_.begin(), result.suffixes_.end());
  result.suffixes_.erase(std::unique(result.suffixes_.begin(), result.suffixes_.end()), result.suffixes_.end());
  return result;
}

bool SkipCompressList::skips(std::string_view path) const {
  size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return false;
  return std::binary_search(suffixes_.begin(), suffixes_.end(), lower(name.substr(dot + 1)));
}

std::string SkipCompressList::to_string() const {
  std::string out;
  for (const std::string& s : suffixes_) {
    if (!out.empty()) out += '/';
    out += s;
  }
  return out;
}

bool worth_compressing(uint64_t raw_bytes, uint64_t compressed_bytes) {
  // Less than 5 % saved is not worth the CPU on either end.
  return compressed_bytes * 100 < raw_bytes * 95;
}

void AutoCompressPolicy::record(uint64_t bytes, double seconds) {
  window_bytes_ += bytes;
  window_seconds_ += seconds;
  if (window_bytes_ >= kWindowBytes) end_window();
}

void AutoCompressPolicy::end_window() {
  double rate = window_seconds_ > 0 ? static_cast<double>(window_bytes_) / window_seconds_ : 1e18;
  (compressing_ ? rate_on_ : rate_off_) = rate;
  window_bytes_ = 0;
  window_seconds_ = 0;
  if (rate_on_ < 0 || rate_off_ < 0) {
    compressing_ = rate_on_ < 0;  // measure the mode not yet measured
    return;
  }
  if (++windows_since_probe_ >= kWindowsBetweenProbes) {
    windows_since_probe_ = 0;
    compressing_ = !compressing_;  // re-measure the mode we are not using
    return;
  }
  compressing_ = rate_on_ > rate_off_;
}

}  // namespace ferry
