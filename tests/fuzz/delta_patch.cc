// The delta patcher over a small basis: the input is the basis size and block size (varints),
// then a FileDelta's operations. Every copy the patcher lets through must lie inside the basis;
// the basis is real memory, so the sanitizers see a copy that does not.
#include <algorithm>
#include <cstring>
#include <string>

#include "base/bytes.h"
#include "base/error.h"
#include "delta/patch.h"
#include "fuzz_input.h"

using namespace ferry;

namespace {

// Small enough to allocate for every input; large enough for many blocks of the smallest size.
constexpr uint64_t kMaxBasis = 1 << 16;

class Rebuild : public PatchSink {
 public:
  explicit Rebuild(const std::string& basis) : basis_(basis) {}
  void literal(std::string_view bytes) override { out_.append(bytes); }
  void copy(uint64_t offset, uint64_t length) override {
    if (length == 0 || offset > basis_.size() || length > basis_.size() - offset) fuzz::property_failed();
    out_.append(basis_, offset, length);
  }

 private:
  const std::string& basis_;
  std::string out_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Decoder d(std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    uint64_t basis_size = d.varint("basis_size") % (kMaxBasis + 1);
    auto block_size = static_cast<uint32_t>(d.varint("block_size"));
    std::string basis(basis_size, '\0');
    for (size_t i = 0; i < basis.size(); ++i) basis[i] = static_cast<char>(i * 131 + (i >> 8));
    Rebuild sink(basis);
    apply_delta(d, basis_size, block_size, 1, sink);
  } catch (const ProtocolError&) {
  }
  return 0;
}
