// What the ferry(1) manual page says beyond the options: exit status, environment, files.
#pragma once

#include <vector>

#include "cli/cli_docs.h"

namespace ferry {

std::vector<ManSection> ferry_manual_sections();

}  // namespace ferry
