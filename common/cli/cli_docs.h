// Manual pages and shell completion, written from the same CLI11 definitions as --help, so the
// documentation a package installs can never describe options the program does not have.
// The build runs `ferry docs man|bash|zsh` and `ferry-agent docs man` to make the files.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace ferry {

struct ManSection {
  std::string title;  // "EXIT STATUS"
  std::string text;   // plain text; paragraphs separated by blank lines
};

// A roff man page (section 1) for `program`, listing every visible command and its options.
std::string man_page(const CLI::App& app, const std::string& program, const std::string& version,
                     const std::vector<ManSection>& extra);

// A bash completion script for `program`: commands, then each command's options; files and
// folders for the rest. zsh: the same function through bashcompinit.
std::string bash_completion(const CLI::App& app, const std::string& program);
std::string zsh_completion(const CLI::App& app, const std::string& program);

// Adds the hidden `docs` command (man, bash, zsh) that prints the above; returns it so that
// main can tell whether it ran.
struct DocsCommand {
  CLI::App* command = nullptr;
  std::string what;
};
void add_docs_command(CLI::App* app, DocsCommand* docs);

}  // namespace ferry
