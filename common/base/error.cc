#include "base/error.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ferry {

std::string errno_message(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "ferry: internal error: check failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace ferry
