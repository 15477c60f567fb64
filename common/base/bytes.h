// Byte coding for the wire: LEB128 varints, zigzag for signed values, length-prefixed
// byte strings. Decoder never reads past its input and never allocates more than the caller's
// bound; every failure is a ProtocolError naming the field.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry {

// A digest's bytes (std::array<uint8_t, N>) as characters: for the wire, and to compare with
// bytes that arrived.
template <size_t N>
std::string_view as_chars(const std::array<uint8_t, N>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), N};
}

// Fixed-width little-endian integers, as seal files store them (the wire uses varints).
inline void append_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
// The caller has checked that `in` holds `bytes` bytes.
inline uint64_t read_le(std::string_view in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(in[i])} << (8 * i);
  return v;
}

class Encoder {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(uint64_t v);
  void svarint(int64_t v) { varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void bytes(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }
  void raw(std::string_view s) { out_.append(s); }

  const std::string& data() const { return out_; }
  std::string take() { return std::move(out_); }
  void clear() { out_.clear(); }

 private:
  std::string out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}

  uint8_t u8(const char* field);
  uint64_t varint(const char* field);
  // A varint that must be <= max; names the field and value otherwise.
  uint64_t varint_max(const char* field, uint64_t max);
  int64_t svarint(const char* field);
  // A length-prefixed byte string of at most max_len bytes. The view points into the input.
  std::string_view bytes(const char* field, size_t max_len);
  std::string_view raw(const char* field, size_t len);
  std::string_view rest() {
    std::string_view r = in_.substr(pos_);
    pos_ = in_.size();
    return r;
  }

  bool at_end() const { return pos_ == in_.size(); }
  // Throws unless every byte was consumed: trailing garbage is a protocol error too.
  void expect_end(const char* message_name) const;

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace ferry
