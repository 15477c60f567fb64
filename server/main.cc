// ferry-agent: the remote end of Ferry.
//   serve                  speak the protocol on stdin/stdout (ferry starts this over SSH)
//   join                   one more channel of a `serve --streams N` session (transport/stripes.h)
//   forced                 the forced command of a restricted key: checks SSH_ORIGINAL_COMMAND,
//                          then serves confined to --root and --allow
//   install-credentials    let a client's key in, restricted (see keys/authorized_keys.h)
//   list-credentials, revoke-credentials
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "base/log.h"
#include "cli/cli_docs.h"
#include "platform/platform.h"
#include "server/agent_session.h"
#include "server/credentials_commands.h"
#include "server/stripe_rendezvous.h"

namespace {

void add_target_options(CLI::App* cmd, ferry::CredentialsTarget* t) {
  cmd->add_option("--user", t->user, "whose ~/.ssh/authorized_keys (default: the user running this)");
  cmd->add_option("--authorized-keys", t->authorized_keys,
                  "edit this file instead (for sshd setups with a custom AuthorizedKeysFile)");
}

std::vector<ferry::ManSection> agent_manual_sections() {
  return {
      {"DESCRIPTION",
       "ferry-agent runs on the backup machine. ferry starts it over SSH (or beside itself for a local folder) "
       "and speaks Ferry's protocol with it on stdin and stdout; nobody runs `serve` by hand.\n\n"
       "install-credentials lets a client's key in: it adds the key to the user's authorized_keys with a forced "
       "command that runs `ferry-agent forced`, confined to one folder (--root), to backups, restores or both, "
       "and optionally append-only. The key's forced command names this program by its absolute path: "
       "moving it breaks the key until install-credentials runs again."},
      {"EXIT STATUS", "0 success; 1 the session stopped (the message says why); 2 usage error."},
      {"SEE ALSO", "ferry(1), sshd(8), authorized_keys in sshd(8)."},
  };
}

}  // namespace

int main(int argc, char** argv) {
  ferry::platform::remember_program_path(argv[0]);
  CLI::App app{"ferry-agent: the remote end of ferry"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ferry-agent ") + FERRY_VERSION);
  ferry::AgentOptions options;
  std::string log_file;
  CLI::App* serve = app.add_subcommand("serve", "speak Ferry's protocol on stdin/stdout (started by ferry)");
  CLI::App* forced = app.add_subcommand("forced", "the forced command of a key installed by install-credentials");
  CLI::App* join = app.add_subcommand("join", "hand this channel to the `serve --streams N` of its session (started by ferry)");
  for (CLI::App* cmd : {serve, forced, join}) {
    cmd->add_option("--log", log_file, "also write a debug log to this file");
    cmd->add_flag("-v,--verbose", options.verbosity, "log more to stderr");
  }
  serve->add_option("--streams", options.streams, "the client spreads its stream over this many SSH channels")
      ->check(CLI::Range(1, ferry::kMaxStripes));
  std::string allow_text = "both";
  forced->add_option("--root", options.confinement.root, "the folder backups and restores must stay in")->required();
  forced->add_option("--allow", allow_text, "backup, restore or both")->check(CLI::IsMember({"backup", "restore", "both"}));
  forced->add_flag("--append-only", options.confinement.append_only,
                   "backups keep what they delete or replace in the safety net, and cannot prune it");

  ferry::InstallOptions install;
  std::string package;
  CLI::App* inst = app.add_subcommand("install-credentials", "let a client's key in, confined to one folder");
  inst->add_option("PACKAGE", package, "the .ferrycreds file made by `ferry keys create`")->required();
  add_target_options(inst, &install.target);
  inst->add_option("--root", install.root, "the folder the key may back up to and restore from (default ~USER/FerryBackups)");
  std::string install_allow = "both";
  inst->add_option("--allow", install_allow, "backup, restore or both (default both)")
      ->check(CLI::IsMember({"backup", "restore", "both"}));
  inst->add_flag("--append-only", install.append_only,
                 "backups through this key never destroy data: what they delete or replace is kept in the safety "
                 "net, which they cannot prune (a stolen client key cannot wipe the history)");
  inst->add_option("--agent-path", install.agent_path, "the ferry-agent the key runs (default: this one)");
  inst->add_option("--log", install.log_file, "have the agent write a debug log of this key's sessions to FILE");
  inst->add_option("--host-key-dir", install.host_key_dir, "where this machine's SSH host keys are (default /etc/ssh)");

  ferry::CredentialsTarget list_target, revoke_target;
  CLI::App* list = app.add_subcommand("list-credentials", "show the Ferry keys installed for a user");
  add_target_options(list, &list_target);
  std::string who;
  CLI::App* revoke = app.add_subcommand("revoke-credentials", "remove a client's key");
  revoke->add_option("WHO", who, "the key's name, name@host, or its SHA256: fingerprint")->required();
  add_target_options(revoke, &revoke_target);

  ferry::DocsCommand docs;
  ferry::add_docs_command(&app, &docs);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(ferry::ExitCode::kUsage);
  }
  if (docs.command->parsed()) {
    std::string text = docs.what == "man"    ? ferry::man_page(app, "ferry-agent", FERRY_VERSION, agent_manual_sections())
                       : docs.what == "bash" ? ferry::bash_completion(app, "ferry-agent")
                                             : ferry::zsh_completion(app, "ferry-agent");
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  // A peer that hangs up must surface as EPIPE and a clear message, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  // stdout carries protocol frames only: everything human goes to stderr (or --log).
  ferry::init_logging("ferry-agent", options.verbosity);
  if (!log_file.empty()) {
    try {
      ferry::add_log_file(log_file);
    } catch (const std::exception& e) {
      spdlog::error("cannot open log file {}: {}", log_file, e.what());
    }
  }
  int code = 0;
  try {
    if (forced->parsed()) {
      const char* original = std::getenv("SSH_ORIGINAL_COMMAND");
      ferry::ForcedCommand asked = ferry::check_forced_command(original != nullptr ? original : "");
      options.verbosity += asked.verbosity;
      options.streams = asked.streams;
      options.confinement.allow_backup = allow_text != "restore";
      options.confinement.allow_restore = allow_text != "backup";
      if (asked.join) {
        // Moves bytes only, into the confined session that shows the same token.
        ferry::join_stripe(STDIN_FILENO, ferry::kJoinLimit);
      } else {
        spdlog::debug("forced command: confined to {}, allow {}{}", options.confinement.root, allow_text,
                      options.confinement.append_only ? ", append-only" : "");
        code = static_cast<int>(ferry::serve(options));
      }
    } else if (serve->parsed()) {
      code = static_cast<int>(ferry::serve(options));
    } else if (join->parsed()) {
      ferry::join_stripe(STDIN_FILENO, ferry::kJoinLimit);
    } else if (inst->parsed()) {
      ferry::parse_allow(install_allow, &install.allow);
      code = static_cast<int>(ferry::install_credentials(package, install));
    } else if (list->parsed()) {
      code = static_cast<int>(ferry::list_credentials(list_target));
    } else {
      code = static_cast<int>(ferry::revoke_credentials(who, revoke_target));
    }
  } catch (const ferry::FatalError& e) {
    spdlog::error("{}", e.what());
    code = static_cast<int>(e.code());
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    code = static_cast<int>(ferry::ExitCode::kFatal);
  } catch (...) {
    spdlog::error("failed with an unknown error");
    code = static_cast<int>(ferry::ExitCode::kFatal);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(code);
}
