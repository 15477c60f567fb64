#include "cli/cli_docs.h"

#include <algorithm>
#include <cstdint>
#include <sstream>

#include <fmt/core.h>

namespace ferry {
namespace {

// Commands a user sees: CLI11 hides those put in the group "" (the scheduler's `task failed`,
// `docs` itself).
std::vector<const CLI::App*> visible_commands(const CLI::App& app) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); })) {
    out.push_back(sub);
  }
  return out;
}

bool is_positional(const CLI::Option& option) { return option.get_lnames().empty() && option.get_snames().empty(); }

// What follows an option's names in --help: its own text ("[auto]") or its value's type.
std::string value_text(const CLI::Option& option) {
  if (!option.get_option_text().empty()) return option.get_option_text();
  if (option.get_expected_max() == 0) return "";
  std::string type = option.get_type_name();
  return type.substr(0, type.find(':'));
}

// roff: a backslash is \e, a line may not start with '.' or '\'', and '-' in an option's name
// is \- (a real hyphen-minus, which a reader can copy and paste).
std::string roff_text(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\e";
    } else if (c >= 0xC0 && c < 0xF8) {
      // Beyond ASCII: groff's \[uXXXX], since troff reads bytes, not UTF-8.
      int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
      uint32_t code = c & (0x3F >> extra);
      for (int k = 0; k < extra && i + 1 < text.size(); ++k) code = (code << 6) | (static_cast<unsigned char>(text[++i]) & 0x3F);
      out += fmt::format("\\[u{:04X}]", code);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    }
  }
  std::string lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && (line[0] == '.' || line[0] == '\'')) line = "\\&" + line;
    lines += line + "\n";
  }
  return lines;
}

std::string roff_option_name(const std::string& name) {
  std::string out;
  for (char c : name) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

void man_command(const CLI::App& cmd, const std::string& path, std::string* out) {
  std::string usage = path;
  bool any_option = false;
  for (const CLI::Option* option : cmd.get_options()) {
    if (is_positional(*option)) usage += " " + option->get_name();
    else any_option = true;
  }
  if (any_option) usage = path + " [OPTIONS]" + usage.substr(path.size());
  if (!visible_commands(cmd).empty()) usage += " COMMAND";
  *out += ".SS \"" + usage + "\"\n";
  if (path.find(' ') != std::string::npos) *out += roff_text(cmd.get_description());  // NAME says the program's
  for (const CLI::Option* option : cmd.get_options()) {
    std::string names;
    for (const std::string& s : option->get_snames()) names += (names.empty() ? "" : ", ") + std::string("\\fB\\-") + s + "\\fR";
    for (const std::string& l : option->get_lnames()) {
      names += (names.empty() ? "" : ", ") + std::string("\\fB\\-\\-") + roff_option_name(l) + "\\fR";
    }
    if (names.empty()) names = "\\fI" + option->get_name() + "\\fR";
    std::string value = is_positional(*option) ? "" : value_text(*option);
    *out += ".TP\n" + names + (value.empty() ? "" : " \\fI" + roff_text(value).substr(0, roff_text(value).size() - 1) + "\\fR") +
            "\n" + roff_text(option->get_description().empty() ? "(no description)" : option->get_description());
  }
  for (const CLI::App* sub : visible_commands(cmd)) man_command(*sub, path + " " + sub->get_name(), out);
}

// Each command path ("ferry task add") with its subcommands and its options, for completion.
struct CompletionLevel {
  std::string path;
  std::vector<std::string> commands;
  std::vector<std::string> options;
};

void completion_levels(const CLI::App& cmd, const std::string& path, std::vector<CompletionLevel>* out) {
  CompletionLevel level{path, {}, {}};
  for (const CLI::App* sub : visible_commands(cmd)) level.commands.push_back(sub->get_name());
  for (const CLI::Option* option : cmd.get_options()) {
    for (const std::string& l : option->get_lnames()) level.options.push_back("--" + l);
    for (const std::string& s : option->get_snames()) level.options.push_back("-" + s);
  }
  out->push_back(level);
  for (const CLI::App* sub : visible_commands(cmd)) completion_levels(*sub, path + " " + sub->get_name(), out);
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

std::string completion_function(const std::string& program) {
  std::string fn = "_" + program + "_complete";
  std::replace(fn.begin(), fn.end(), '-', '_');
  return fn;
}

std::string bash_function(const CLI::App& app, const std::string& program) {
  std::vector<CompletionLevel> levels;
  completion_levels(app, program, &levels);
  std::string fn = completion_function(program);
  std::string command_paths, commands, options;
  for (const CompletionLevel& level : levels) {
    if (level.path != program) command_paths += (command_paths.empty() ? "" : "|") + ("\"" + level.path + "\"");
    commands += fmt::format("    \"{}\") commands=\"{}\" ;;\n", level.path, joined(level.commands));
    options += fmt::format("    \"{}\") options=\"{}\" ;;\n", level.path, joined(level.options));
  }
  return fmt::format(
      "{0}() {{\n"
      "  local cur=${{COMP_WORDS[COMP_CWORD]}} path={1} i commands options\n"
      "  # The command path typed so far: each word that names a command one level down.\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case \"$path ${{COMP_WORDS[i]}}\" in\n"
      "      {2}) path=\"$path ${{COMP_WORDS[i]}}\" ;;\n"
      "    esac\n"
      "  done\n"
      "  case \"$path\" in\n{3}  esac\n"
      "  case \"$path\" in\n{4}  esac\n"
      "  if [[ $cur == -* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$options\" -- \"$cur\"))\n"
      "  elif [[ -n $commands ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$commands\" -- \"$cur\"))\n"
      "  else\n"
      "    COMPREPLY=()  # files and folders: bash's own completion (-o default)\n"
      "  fi\n"
      "}}\n"
      "complete -o default -F {0} {1}\n",
      fn, program, command_paths, commands, options);
}

}  // namespace

std::string man_page(const CLI::App& app, const std::string& program, const std::string& version,
                     const std::vector<ManSection>& extra) {
  std::string upper = program;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  std::string description = app.get_description();
  if (description.starts_with(program + ": ")) description = description.substr(program.size() + 2);
  std::string out = fmt::format(".\\\" Written by `{0} docs man` from the options {0} --help shows.\n", program);
  out += fmt::format(".TH {} 1 \"\" \"{} {}\" \"User Commands\"\n", upper, program, version);
  out += ".SH NAME\n" + roff_option_name(program) + " \\- " + roff_text(description);
  out += ".SH SYNOPSIS\n.B " + roff_option_name(program) + "\n.I COMMAND\n[OPTIONS] [ARGUMENTS]\n";
  out += ".SH COMMANDS\n";
  man_command(app, program, &out);
  for (const ManSection& section : extra) {
    out += ".SH " + section.title + "\n";
    std::istringstream paragraphs(section.text);
    std::string paragraph, line;
    while (std::getline(paragraphs, line)) {
      if (line.empty()) {
        if (!paragraph.empty()) out += ".PP\n" + roff_text(paragraph);
        paragraph.clear();
      } else {
        paragraph += line + "\n";
      }
    }
    if (!paragraph.empty()) out += ".PP\n" + roff_text(paragraph);
  }
  return out;
}

std::string bash_completion(const CLI::App& app, const std::string& program) {
  return fmt::format("# bash completion for {0}; written by `{0} docs bash` from its own options.\n", program) +
         bash_function(app, program);
}

std::string zsh_completion(const CLI::App& app, const std::string& program) {
  // zsh runs bash's completion functions through bashcompinit: one generator, both shells.
  // The first Tab runs this file as the function _PROGRAM: it defines and registers the bash
  // function, then answers that first Tab itself.
  return fmt::format("#compdef {0}\n# zsh completion for {0}; written by `{0} docs zsh` from its own options.\n"
                     "autoload -U +X bashcompinit && bashcompinit\n",
                     program) +
         bash_function(app, program) + "_bash_complete -o default -F " + completion_function(program) + "\n";
}

void add_docs_command(CLI::App* app, DocsCommand* docs) {
  docs->command = app->add_subcommand("docs", "print the manual page (man) or shell completion (bash, zsh)")->group("");
  docs->command->add_option("WHAT", docs->what, "man, bash or zsh")->required()->check(CLI::IsMember({"man", "bash", "zsh"}));
}

}  // namespace ferry
