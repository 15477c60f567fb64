// The receiver's half of the rsync algorithm: the operations of a FileDelta (wire::kOpCopy,
// wire::kOpLiteral), each checked against the basis it refers to and handed to a sink as a
// byte range. No IO: the sink reads the basis and writes the new file, so a test or a fuzzer
// drives this with bytes (librsync's patch, without its buffering).
#pragma once

#include <cstdint>
#include <string_view>

namespace ferry {

class Decoder;

class PatchSink {
 public:
  virtual ~PatchSink() = default;
  virtual void literal(std::string_view bytes) = 0;
  // Bytes [offset, offset + length) of the basis; always inside it, never empty.
  virtual void copy(uint64_t offset, uint64_t length) = 0;
};

// Applies every operation left in `ops` to the sink, in order, against a basis of basis_size
// bytes signed in blocks of block_size. Throws ProtocolError for an unknown or truncated
// operation and for a copy outside the basis, naming entry `index`; the sink has then seen the
// operations before it.
void apply_delta(Decoder& ops, uint64_t basis_size, uint32_t block_size, uint64_t index, PatchSink& sink);

}  // namespace ferry
