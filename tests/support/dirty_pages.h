// How much of a file's cached data the kernel has not yet written to disk, read from the page
// flags the kernel keeps for every page (/proc/self/pagemap and /proc/kpageflags). This is how
// the tests see whether a run left its data on disk or only in memory.
#pragma once

#include <optional>
#include <string>

namespace ferry::test {

// The number of the file's pages that are in memory and dirty, or nothing when the kernel
// does not tell us (not root, or no /proc/kpageflags).
std::optional<long> dirty_pages(const std::string& path);

}  // namespace ferry::test
