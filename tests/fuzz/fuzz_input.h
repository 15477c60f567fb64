// What the fuzz targets share: the libFuzzer entry point's declaration, and a reader that takes
// the choices a target makes (chunk sizes, which decoder, where one text ends) from the front
// of its input, so the fuzzer explores those choices as it explores the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ferry::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  // The next byte, or 0 once the input is used up.
  uint8_t take_byte() {
    if (rest_.empty()) return 0;
    auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Everything up to the next `separator` (consumed), or the rest if there is none.
  std::string_view take_until(char separator) {
    size_t at = rest_.find(separator);
    std::string_view piece = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return piece;
  }
  std::string_view take(size_t n) {
    std::string_view piece = rest_.substr(0, n);
    rest_.remove_prefix(piece.size());
    return piece;
  }
  std::string_view rest() const { return rest_; }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

// A property of the code under test failed: crash, so the fuzzer keeps the input.
[[noreturn]] inline void property_failed() { __builtin_trap(); }

}  // namespace ferry::fuzz
