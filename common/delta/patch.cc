#include "delta/patch.h"

#include <string>

#include "base/bytes.h"
#include "base/error.h"
#include "delta/delta.h"
#include "protocol/wire.h"

namespace ferry {

void apply_delta(Decoder& ops, uint64_t basis_size, uint32_t block_size, uint64_t index, PatchSink& sink) {
  while (!ops.at_end()) {
    uint8_t op = ops.u8("op");
    if (op == wire::kOpLiteral) {
      sink.literal(ops.bytes("literal", wire::kMaxFramePayload));
    } else if (op == wire::kOpCopy) {
      uint64_t first = ops.varint("first");
      uint64_t count = ops.varint("count");
      uint64_t offset, length;
      if (!copy_extent(basis_size, block_size, first, count, &offset, &length)) {
        throw ProtocolError("copy of blocks " + std::to_string(first) + "+" + std::to_string(count) +
                            " outside the basis of entry " + std::to_string(index));
      }
      sink.copy(offset, length);
    } else {
      throw ProtocolError("unknown delta operation " + std::to_string(op));
    }
  }
}

}  // namespace ferry
