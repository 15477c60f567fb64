// Filter rules as a receiver takes them from Open, and the matcher over them: the input is the
// rules' wire text (up to the first NUL), then paths separated by newlines. Rules parse() accepts
// must serialize and parse back to the same rules, and both copies must decide every path alike.
#include "fs/filter.h"

#include <string>

#include "fuzz_input.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  std::string_view text = in.take_until('\0');
  FilterRules rules;
  if (!FilterRules::parse(text, &rules).empty()) {
    FilterRules lines;  // the same text read as an --exclude-from file instead
    (void)lines.add_file_lines(text);
    return 0;
  }
  FilterRules again;
  if (!FilterRules::parse(rules.serialize(), &again).empty() || again.serialize() != rules.serialize()) {
    fuzz::property_failed();
  }
  while (!in.empty()) {
    std::string_view path = in.take_until('\n');
    if (path.empty()) continue;
    for (bool is_dir : {false, true}) {
      if (rules.excluded(path, is_dir) != again.excluded(path, is_dir)) fuzz::property_failed();
    }
  }
  return 0;
}
