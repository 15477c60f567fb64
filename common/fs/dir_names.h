// The names in an open directory, read through a fresh fd so the caller's fd (and its offset)
// is left alone. "." and ".." are left out; an unreadable directory gives an empty list.
#pragma once

#include <string>
#include <vector>

namespace ferry {

std::vector<std::string> dir_names(int dir_fd);

}  // namespace ferry
