// A seal file as the backup machine might hold it after rot or tampering: the reader and the
// tree must refuse it with a SealFormatError (or a FatalError for a read error), never crash,
// hang or allocate what a length field asks for. A record it accepts must survive its own
// round trip.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "base/error.h"
#include "fs/unique_fd.h"
#include "fuzz_input.h"
#include "seal/seal_error.h"
#include "seal/seal_file.h"
#include "seal/seal_record.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    SealRecord record = decode_seal_record(bytes);
    if (decode_seal_record(encode_seal_record(record)).entry != record.entry) fuzz::property_failed();
  } catch (const SealFormatError&) {
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/ferry-fuzz-seal-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) return 0;
  ::unlink(path.c_str());
  if (::write(fd, data, size) != static_cast<ssize_t>(size) || ::lseek(fd, 0, SEEK_SET) != 0) {
    ::close(fd);
    return 0;
  }
  try {
    check_seal_file(UniqueFd(fd), "fuzzed.seal");
  } catch (const FatalError&) {
  }
  return 0;
}
