// Writing tasks.toml from the command line: `ferry task add` and `ferry task remove` change
// one table and leave every other line of a hand-edited file as it was.
#pragma once

#include <string>
#include <vector>

namespace ferry {

// The text of a [tasks.NAME] table for a task given on the command line: `words` are SRC, DEST
// and the options as `ferry backup` takes them, in any order. Local paths (SRC, DEST, the
// files of --exclude-from, --identity, ...) are made absolute, since a scheduled run starts
// elsewhere; keys keep the order of the command line. Throws FatalError(kUsage) for what the
// backup command would refuse, and for a schedule that is not one.
std::string task_table_text(const std::string& name, const std::vector<std::string>& words,
                            const std::string& schedule, const std::string& on_failure,
                            const std::string& on_success);

// Appends a table to the file, or removes one, leaving every other line as it was (comments
// and hand-made layout included). The new text is checked before it replaces the old file
// (atomically, through a symlink to where the file really lives).
void append_task(const std::string& path, const std::string& name, const std::string& table_text);
void remove_task(const std::string& path, const std::string& name);

}  // namespace ferry
