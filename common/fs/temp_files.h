// The temporary files a receiver writes beside their destination before renaming them into
// place, and the sweep that removes those a killed run left behind.
//
// A name is ".ferry-<pid>-<n>.tmp": the pid of the process writing it. A file whose process no
// longer exists will never be renamed, so it is stale. A process that still exists may be a
// second run writing into the same folder right now; its files are left alone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

// The n-th temporary name of this process.
std::string temp_file_name(uint64_t n);

// The pid in a temporary name, or nothing if `leaf` is not one.
std::optional<pid_t> temp_file_owner(std::string_view leaf);

// Removes the stale temporary files directly in `dir_fd`, except those `keep` says are real
// entries of the tree (a user may have a file with such a name). `remove`, if given, does the
// removing instead of unlinkat (the safety net moves them) and says whether it did. Returns how
// many it removed.
size_t remove_stale_temp_files(int dir_fd, const std::function<bool(std::string_view leaf)>& keep,
                               const std::function<bool(const std::string& leaf)>& remove = nullptr);

}  // namespace ferry
