#include "server/confinement.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "fs/confined_root.h"
#include "transport/stripes.h"

namespace ferry {

namespace {

bool is_within(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

// The real path of the longest prefix of `path` that exists, with the rest appended.
std::string resolve_existing(const std::filesystem::path& path) {
  std::filesystem::path existing = path;
  std::filesystem::path rest;
  std::error_code ec;
  while (!std::filesystem::exists(existing, ec) && existing.has_relative_path()) {
    rest = existing.filename() / rest;
    existing = existing.parent_path();
  }
  std::filesystem::path real = std::filesystem::canonical(existing, ec);
  if (ec) return "";
  std::string out = (rest.empty() ? real : real / rest).lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

void resolve_relative_path(Open* open, const Confinement& rules) {
  if (open->path.starts_with("/")) return;
  std::string base = rules.root;
  if (base.empty()) {
    const char* home = std::getenv("HOME");
    const passwd* pw = home != nullptr && *home == '/' ? nullptr : ::getpwuid(::geteuid());
    base = home != nullptr && *home == '/' ? home : pw != nullptr ? pw->pw_dir : "";
    if (base.empty()) throw FatalError("the path " + printable(open->path) + " is relative, and this account has no home folder to find it in: give an absolute path");
  }
  // Joined as written: ".." stays in the path for check_confinement to see.
  open->path = open->path == "." ? base : (base == "/" ? "" : base) + "/" + open->path;
}

void check_confinement(const Open& open, const Confinement& rules) {
  using wire::Operation;
  bool forget = open.operation == Operation::kForget;
  bool writes = open.operation == Operation::kBackup || forget;
  // doctor and verify may look at any path the key may use, for either purpose: verify sends
  // back names, metadata and hashes, never data.
  bool probe = open.operation == Operation::kProbe || open.operation == Operation::kVerify;
  const char* what = forget                                    ? "forget"
                     : open.operation == Operation::kBackup    ? "backup"
                     : open.operation == Operation::kRestore   ? "restore"
                                                               : "listing";
  if (probe) {
  } else if (writes && !rules.allow_backup) {
    throw FatalError(std::string("this key may only restore (it was installed with --allow restore): ") + what +
                     " refused");
  } else if (!writes && !rules.allow_restore) {
    throw FatalError(std::string("this key may only make backups (it was installed with --allow backup): ") + what +
                     " refused. A backup-only key cannot read data back or list it; use a key installed with "
                     "--allow restore or both");
  }
  if (forget && rules.append_only) {
    throw FatalError("this key is append-only: it cannot forget snapshots (that would remove backed-up data); "
                     "run forget on the backup machine, or with a key installed without --append-only");
  }
  if (rules.root.empty()) return;
  std::filesystem::path asked(open.path);
  for (const auto& part : asked) {
    if (part == "..") throw FatalError("the path " + open.path + " contains \"..\"; this key is confined to " + rules.root);
  }
  std::string lexical = asked.lexically_normal().string();
  if (lexical.size() > 1 && lexical.back() == '/') lexical.pop_back();
  std::string real_root = resolve_existing(rules.root);
  std::string real = resolve_existing(lexical);
  if (!is_within(lexical, rules.root) || real.empty() || real_root.empty() || !is_within(real, real_root)) {
    throw FatalError(open.path + " is outside the folder this key is confined to (" + rules.root +
                     "); use a path under it");
  }
}

UniqueFd open_confined(const Open& open, const Confinement& rules, bool create) {
  if (rules.root.empty()) return UniqueFd();
  // The root itself is the administrator's choice (install-credentials --root), trusted as
  // written; what lies beneath it is the client's, and is walked without following links.
  UniqueFd root(::open(rules.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    throw FatalError(errno_message("cannot open " + rules.root + ", the folder this key is confined to", errno));
  }
  std::string lexical = std::filesystem::path(open.path).lexically_normal().string();
  std::string top = std::filesystem::path(rules.root).lexically_normal().string();
  while (lexical.size() > 1 && lexical.back() == '/') lexical.pop_back();
  while (top.size() > 1 && top.back() == '/') top.pop_back();
  if (!is_within(lexical, top)) {
    throw FatalError(open.path + " is outside the folder this key is confined to (" + rules.root + ")");
  }
  std::string rel = lexical.size() == top.size() ? "" : lexical.substr(top == "/" ? 1 : top.size() + 1);
  return open_dir_beneath(root.get(), rel, create, open.path, " on the agent's machine");
}

std::string enforce_append_only(Open* open, const Confinement& rules) {
  if (!rules.append_only || open->operation != wire::Operation::kBackup) return "";
  // A snapshot run adds a snapshot and changes none: append-only as it is.
  if (open->flags & wire::kOpenSnapshot) return "";
  bool asked_otherwise = ((open->flags & wire::kOpenDelete) && !(open->flags & wire::kOpenSafetyNet)) ||
                         open->safety_net_keep_s != 0 || open->safety_net_keep_bytes != 0;
  open->flags |= wire::kOpenSafetyNet;
  open->safety_net_keep_s = 0;
  open->safety_net_keep_bytes = 0;
  return asked_otherwise ? "this key is append-only: what this backup deletes or replaces is kept in the safety "
                           "net, and the safety net is not pruned (--no-safety-net and --safety-net-keep are ignored)"
                         : "";
}

ForcedCommand check_forced_command(const std::string& command) {
  std::istringstream words(command);
  std::vector<std::string> argv;
  for (std::string w; words >> w;) argv.push_back(w);
  auto refuse = [&] {
    throw FatalError("this key may only run Ferry's agent (it is restricted by a forced command); refused: \"" +
                     printable(command.empty() ? std::string("an interactive login") : command) + "\"");
  };
  if (argv.size() < 2 || std::filesystem::path(argv[0]).filename() != "ferry-agent") refuse();
  ForcedCommand asked;
  if (argv[1] == "join" && argv.size() == 2) {
    asked.join = true;
    return asked;
  }
  if (argv[1] != "serve") refuse();
  for (size_t i = 2; i < argv.size(); ++i) {
    if (argv[i] == "-v" || argv[i] == "--verbose") {
      ++asked.verbosity;
    } else if (argv[i] == "--streams" && i + 1 < argv.size() && asked.streams == 1 && argv[i + 1].size() == 1 &&
               argv[i + 1][0] >= '2' && argv[i + 1][0] <= '0' + kMaxStripes) {
      asked.streams = argv[++i][0] - '0';
    } else {
      refuse();
    }
  }
  return asked;
}

}  // namespace ferry
