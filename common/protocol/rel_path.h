// Relative paths as they travel on the wire, and the rules every receiver enforces on them.
//
// A valid path is either empty (the transfer root) or '/'-separated components, each non-empty,
// at most kMaxNameBytes, none "." or "..", no NUL anywhere, no leading or trailing '/'.
// Names are otherwise arbitrary bytes: newlines, invalid UTF-8, leading dashes are all fine.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry {

inline constexpr size_t kMaxNameBytes = 255;   // NAME_MAX on Linux and macOS
inline constexpr size_t kMaxPathBytes = 4095;  // PATH_MAX minus the terminating NUL

// Returns an empty string if `path` is valid, else the reason it is not.
std::string rel_path_problem(std::string_view path);

// Throws ProtocolError naming the (printable) path if it is not valid.
void check_rel_path(std::string_view path);

// Orders paths component by component, which is the order a depth-first walk with sorted
// children produces: "a" < "a/b" < "a-b" (because '/' sorts before every other byte here).
// Returns <0, 0, >0.
int compare_paths(std::string_view a, std::string_view b);

std::string_view parent_of(std::string_view path);  // "" for top-level names
std::string_view leaf_of(std::string_view path);
// The relative path of `leaf` inside `parent` ("" = the root): the inverse of the two above.
std::string child_path(std::string_view parent, std::string_view leaf);

// Joins root (a local path) and a relative path for messages.
std::string join_path(std::string_view root, std::string_view rel);

}  // namespace ferry
