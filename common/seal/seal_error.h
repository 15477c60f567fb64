// A seal file or a seal stream that is not what Ferry writes: truncated, altered, out of order.
#pragma once

#include <string>

#include "base/error.h"

namespace ferry {

class SealFormatError : public FatalError {
 public:
  explicit SealFormatError(const std::string& message) : FatalError(message) {}
};

}  // namespace ferry
