// parse_package over any text, as ferry-agent install-credentials reads a file a user handed
// it. A package it accepts must format and parse back to the same fields.
#include "keys/credentials_package.h"

#include "base/error.h"
#include "fuzz_input.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CredentialsPackage p;
  try {
    p = parse_package(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const FatalError&) {
    return 0;
  }
  CredentialsPackage q = parse_package(format_package(p));
  if (q.name != p.name || q.host != p.host || q.created != p.created || q.key_type != p.key_type ||
      q.key_base64 != p.key_base64 || q.fingerprint != p.fingerprint) {
    fuzz::property_failed();
  }
  return 0;
}
