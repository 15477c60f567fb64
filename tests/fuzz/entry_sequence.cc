// A file list as the receiver decodes it: one EntryDecoder over a sequence of entries, each
// coded against the one before. What it accepts must come back unchanged through an
// EntryEncoder and a fresh EntryDecoder (the codecs agree on the list's running state).
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "fuzz_input.h"
#include "protocol/messages.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<FileEntry> entries;
  try {
    Decoder d(std::string_view(reinterpret_cast<const char*>(data), size));
    EntryDecoder list;
    while (!d.at_end()) entries.push_back(list.decode(d));
  } catch (const ProtocolError&) {
    // Entries before the bad one were accepted: check those.
  }
  Encoder e;
  EntryEncoder encoder;
  for (const FileEntry& entry : entries) encoder.encode(entry, e);
  Decoder d(e.data());
  EntryDecoder again;
  for (const FileEntry& entry : entries) {
    if (!(again.decode(d) == entry)) fuzz::property_failed();
  }
  if (!d.at_end()) fuzz::property_failed();
  return 0;
}
