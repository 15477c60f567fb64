// ferry: back up a folder to another machine over SSH (or to a local disk) and restore it.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "base/error.h"
#include "base/log.h"
#include "cli/cli_docs.h"
#include "client/doctor.h"
#include "client/ferry_home.h"
#include "client/key_store.h"
#include "client/manual.h"
#include "client/store_commands.h"
#include "client/task_cli.h"
#include "client/summary.h"
#include "client/snapshot_time.h"
#include "client/transfer_job.h"
#include "client/usage_hints.h"
#include "client/verify_command.h"
#include "client/cli_options.h"
#include "compress/zstd_stream.h"
#include "platform/platform.h"
#include "transport/throttle.h"

namespace {

// Ctrl-C (or a TERM from a scheduler) ends the run at once, as a kill would: nothing is ever
// half-written under a real name (files are renamed into place only once complete), and a
// cut-off file waits in .ferry-state/tmp for the next run to resume. What this adds is the
// user's answer: a message, and rsync's exit status (128 + the signal: 130 for Ctrl-C).
extern "C" void on_interrupt(int signal_number) {
  static const char kMessage[] =
      "\nferry: interrupted; every file already copied is complete, nothing is left half-written under its "
      "name, and the next run resumes where this one stopped\n";
  (void)!::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  ::_exit(128 + signal_number);
}

// For a command line that did not parse: the first argument that is not an option of the
// command it was given to, named alone (CLI11 lists it with the arguments after it), with
// Ferry's answer if it is an rsync habit and the nearest real option otherwise.
std::string usage_hint(CLI::App& app, int argc, char** argv) {
  CLI::App* cmd = &app;
  for (CLI::App* sub : app.get_subcommands()) {
    cmd = sub;
    for (CLI::App* inner : sub->get_subcommands()) cmd = inner;
  }
  std::vector<std::string> known;
  for (const CLI::App* scope : {static_cast<const CLI::App*>(&app), static_cast<const CLI::App*>(cmd)}) {
    for (const CLI::Option* option : scope->get_options()) {
      for (const std::string& name : option->get_lnames()) known.push_back("--" + name);
      for (const std::string& name : option->get_snames()) known.push_back("-" + name);
    }
  }
  std::string where = cmd == &app ? "ferry" : "ferry " + cmd->get_name();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    std::string name = arg.substr(0, arg.find('='));
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    if (name.size() > 2 && name[1] != '-') {
      // Bundled short flags (-vz): fine if each is one of ours.
      bool all_known = true;
      for (char c : name.substr(1)) {
        all_known = all_known && std::find(known.begin(), known.end(), std::string("-") + c) != known.end();
      }
      if (all_known) continue;
    }
    if (std::string rsync = ferry::rsync_option_hint(arg); !rsync.empty()) return rsync;
    std::string guess = name.starts_with("--") ? ferry::nearest(name, known) : "";
    return "unknown option " + name + " for `" + where + "`" +
           (guess.empty() ? "" : "; did you mean " + guess + "?") + " (`" + where + " --help` lists them)";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  ferry::platform::remember_program_path(argv[0]);
  std::vector<std::string> arg_text = ferry::join_flag_values(std::vector<std::string>(argv, argv + argc));
  std::vector<char*> arg_pointers;
  for (std::string& arg : arg_text) arg_pointers.push_back(arg.data());
  arg_pointers.push_back(nullptr);
  argc = static_cast<int>(arg_text.size());
  argv = arg_pointers.data();
  CLI::App app{"ferry: back up folders to another machine over SSH, and restore them", "ferry"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ferry ") + FERRY_VERSION);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "more output; repeat for more (-vvv logs the SSH conversation)");

  ferry::TransferOptions options;
  std::string src, dst;
  ferry::KeepRules backup_keep;
  CLI::App* backup = ferry::add_backup_command(&app, &options, &src, &dst, &backup_keep, &verbosity);
  CLI::App* restore = app.add_subcommand("restore", "copy SRC (a backup, or a folder inside one) to the local folder DEST");
  add_transfer_options(restore, &options, &src, &dst);
  restore->add_flag("-v,--verbose", verbosity, "more output; repeat for more");
  bool quiet = false;
  for (CLI::App* cmd : {&app, backup, restore}) {
    cmd->add_flag("-q,--quiet", quiet, "say nothing but errors (and what --json or --stats ask for)");
  }
  restore->add_option_function<std::string>(
      "--at",
      [&options](const std::string& text) {
        std::string error;
        options.at = ferry::snapshot_at_from_text(text, ::time(nullptr), &error);
        if (!error.empty()) throw CLI::ValidationError("--at", error);
      },
      "from a snapshot store: the snapshot to restore (latest, an ID, a date 2026-11-30, \"2026-11-30 14:05\" "
      "or \"2 days ago\": the newest at or before it); default latest");
  // Snapshot stores: their snapshots, the entries of one, and retention.
  ferry::StoreQuery query;
  std::string ls_at;
  CLI::App* snapshots = app.add_subcommand("snapshots", "list the snapshots of DEST with their sizes");
  CLI::App* ls = app.add_subcommand("ls", "list the entries of DEST[/PATH] in a snapshot (default: the newest)");
  ferry::KeepRules forget_keep;
  bool forget_dry_run = false;
  CLI::App* forget = app.add_subcommand("forget", "remove the snapshots of DEST that the --keep rules do not keep");
  for (CLI::App* cmd : {snapshots, ls, forget}) {
    cmd->add_option("DEST", query.destination, "[user@]host:/path, ssh://..., or a local folder")->required();
    add_connection_options(cmd, &options);
    cmd->add_flag("--json", query.json, "print JSON (ls: one object per line)");
    cmd->add_flag("-v,--verbose", verbosity, "more output; repeat for more");
  }
  ls->add_option_function<std::string>(
      "--at",
      [&ls_at](const std::string& text) {
        std::string error;
        ls_at = ferry::snapshot_at_from_text(text, ::time(nullptr), &error);
        if (!error.empty()) throw CLI::ValidationError("--at", error);
      },
      "the snapshot to list (latest, an ID, a date, \"2 days ago\"); default latest");
  add_keep_options(forget, &forget_keep);
  forget->add_flag("-n,--dry-run", forget_dry_run, "say what would be removed, remove nothing");

  ferry::VerifyRequest verify_request;
  CLI::App* verify = app.add_subcommand(
      "verify", "check a backup against its seal: the backup machine re-reads its files and sends back hashes, not data");
  verify->add_option("DEST", verify_request.destination, "[user@]host:/path, ssh://..., or a local folder")->required();
  add_connection_options(verify, &options);
  CLI::Option* verify_at = verify->add_option_function<std::string>(
      "--at",
      [&verify_request](const std::string& text) {
        std::string error;
        verify_request.at = ferry::snapshot_at_from_text(text, ::time(nullptr), &error);
        if (!error.empty()) throw CLI::ValidationError("--at", error);
      },
      "a snapshot store's snapshot to verify (latest, an ID, a date, \"2 days ago\"); default latest");
  verify->add_flag("--all", verify_request.all, "every snapshot of a snapshot store")->excludes(verify_at);
  verify->add_option("--sample", verify_request.sample_percent,
                     "read the content of only this share of the files, chosen at random (checks metadata of all)")
      ->check(CLI::Range(1, 100))
      ->type_name("PERCENT");
  verify->add_flag("--json", verify_request.json, "print one JSON object per seal");
  verify->add_flag("-v,--verbose", verbosity, "more output; repeat for more");

  std::string doctor_dest;
  bool doctor_json = false;
  CLI::App* doctor = app.add_subcommand("doctor", "check, step by step, that backups to DEST can work, and say what to fix");
  doctor->add_option("DEST", doctor_dest, "[user@]host:/path, ssh://..., or a local folder")->required();
  add_connection_options(doctor, &options);
  doctor->add_flag("--json", doctor_json, "print the steps as one JSON object");
  doctor->add_flag("-v,--verbose", verbosity, "more output; repeat for more");

  CLI::App* keys = app.add_subcommand("keys", "manage the keys in FERRY_HOME and make credentials packages");
  keys->require_subcommand(1);
  ferry::NewKey new_key;
  std::string package_out;
  CLI::App* create = keys->add_subcommand("create", "make a key pair and a credentials package (NAME.ferrycreds)");
  create->add_option("--name", new_key.name, "the key's name (default: default)");
  CLI::Option* key_type = create->add_option("--type", new_key.type, "rsa (default; ed25519 with --passphrase) or ed25519")
                              ->check(CLI::IsMember({"rsa", "ed25519"}));
  create->add_option("--bits", new_key.bits, "RSA key size (default 4096)")->check(CLI::Range(2048, 16384));
  create->add_option("--out", package_out, "where to write the package (default: ./NAME.ferrycreds)");
  create->add_flag("--replace", new_key.replace, "replace an existing key of the same name");
  create->add_flag("--passphrase", new_key.passphrase,
                   "protect the private key with a passphrase (asked here; every run then asks for it, or an "
                   "ssh-agent holds it): for keys used by hand, not by scheduled tasks");
  CLI::App* list = keys->add_subcommand("list", "show the keys in FERRY_HOME with their fingerprints");
  std::string remove_name;
  CLI::App* remove = keys->add_subcommand("remove", "delete a key from FERRY_HOME");
  remove->add_option("NAME", remove_name, "the key to delete")->required();

  ferry::TaskCommandLine task_line;
  ferry::add_task_commands(&app, &task_line);
  ferry::DocsCommand docs;
  ferry::add_docs_command(&app, &docs);

  // `ferry`, `ferry help` and a misspelt command get the list of commands, not a parse error.
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    commands.push_back(sub->get_name());
  }
  if (argc == 1 || (argc == 2 && std::string_view(argv[1]) == "help")) {
    fmt::print(argc == 1 ? stderr : stdout, "{}", app.help());
    return argc == 1 ? static_cast<int>(ferry::ExitCode::kUsage) : 0;
  }
  // The top level's options are all flags (-v, -q, -h, --version), so the first word that is not
  // one names the command.
  int at = 1;
  while (at < argc && argv[at][0] == '-') ++at;
  if (at < argc && std::find(commands.begin(), commands.end(), argv[at]) == commands.end()) {
    std::string guess = ferry::nearest(argv[at], commands);
    fmt::print(stderr, "ferry: \"{}\" is not a ferry command{}\n\n{}", argv[at],
               guess.empty() ? "" : "; did you mean \"" + guess + "\"?", app.help());
    return static_cast<int>(ferry::ExitCode::kUsage);
  }
  // The same one level down: `ferry keys lst`, `ferry task rn`.
  if (at + 1 < argc && argv[at + 1][0] != '-') {
    CLI::App* command = app.get_subcommand(argv[at]);
    std::vector<std::string> inner, shown;  // hidden ones (task failed) run, but are never offered
    for (const CLI::App* sub : command->get_subcommands([](const CLI::App*) { return true; })) {
      inner.push_back(sub->get_name());
      if (!sub->get_group().empty()) shown.push_back(sub->get_name());
    }
    if (command->get_require_subcommand_min() > 0 && std::find(inner.begin(), inner.end(), argv[at + 1]) == inner.end()) {
      std::string guess = ferry::nearest(argv[at + 1], shown);
      fmt::print(stderr, "ferry: \"{}\" is not a `ferry {}` command{}\n\n{}", argv[at + 1], argv[at],
                 guess.empty() ? "" : "; did you mean \"" + guess + "\"?", command->help());
      return static_cast<int>(ferry::ExitCode::kUsage);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::string hint = dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr ? usage_hint(app, argc, argv) : "";
    if (!hint.empty()) {
      fmt::print(stderr, "ferry: {}\n", hint);
      return static_cast<int>(ferry::ExitCode::kUsage);
    }
    int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(ferry::ExitCode::kUsage);
  }
  // A peer that hangs up must surface as EPIPE and a clear message, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  if (quiet) verbosity = -1;
  options.verbosity = verbosity;
  ferry::init_logging("ferry", verbosity);

  if (docs.command->parsed()) {
    if (docs.what == "man") fmt::print("{}", ferry::man_page(app, "ferry", FERRY_VERSION, ferry::ferry_manual_sections()));
    if (docs.what == "bash") fmt::print("{}", ferry::bash_completion(app, "ferry"));
    if (docs.what == "zsh") fmt::print("{}", ferry::zsh_completion(app, "ferry"));
    return 0;
  }
  try {
    if (keys->parsed()) {
      if (create->parsed()) {
        if (new_key.name.empty()) new_key.name = "default";
        // libssh 0.10 encrypts Ed25519 keys (OpenSSH format, bcrypt); not RSA ones.
        if (new_key.passphrase && key_type->count() == 0) new_key.type = "ed25519";
        if (new_key.passphrase && new_key.type != "ed25519") {
          throw ferry::FatalError("--passphrase makes Ed25519 keys (--type ed25519); to protect an RSA key, "
                                  "use ssh-keygen -p -f KEY after making it",
                                  ferry::ExitCode::kUsage);
        }
        ferry::CredentialsPackage package = ferry::create_key(new_key);
        std::string out = package_out.empty() ? new_key.name + ".ferrycreds" : package_out;
        ferry::write_package_file(out, package);
        fmt::print("Created key {} ({} {}) in {}/keys\n", package.name, package.key_type, package.fingerprint,
                   ferry::ferry_home());
        fmt::print("Credentials package: {}\n", out);
        fmt::print("Copy it to the backup machine (any way you like: it holds no secret) and run there:\n"
                   "  ferry-agent install-credentials {} --root /path/for/backups\n",
                   std::filesystem::path(out).filename().string());
      } else if (list->parsed()) {
        auto stored = ferry::list_keys();
        if (stored.empty()) fmt::print("No keys in {}/keys (make one with `ferry keys create`)\n", ferry::ferry_home());
        // The order backups try them in: "default" first, then by name (a host's last accepted
        // key goes before all of them for that host).
        for (const auto& k : stored) {
          std::printf("%s %-20s %-12s %s  %s\n", &k == &stored.front() ? "*" : " ", k.name.c_str(), k.type.c_str(),
                      k.fingerprint.c_str(), k.path.c_str());
        }
        if (stored.size() > 1) {
          std::printf("Backups try each key in this order (* first) until a host accepts one, and remember which it "
                      "was; -i FILE uses one key only.\n");
        }
      } else if (remove->parsed()) {
        ferry::remove_key(remove_name);
        std::printf("Removed key %s\n", remove_name.c_str());
      }
      std::fflush(stdout);
      std::_Exit(0);
    }
    if (std::optional<ferry::ExitCode> code = ferry::run_task_command(task_line)) {
      std::fflush(stdout);
      std::_Exit(static_cast<int>(*code));
    }
    if (doctor->parsed()) {
      int code = static_cast<int>(ferry::run_doctor(doctor_dest, options, doctor_json));
      std::fflush(stdout);
      std::_Exit(code);
    }
    if (verify->parsed()) {
      verify_request.connection = options;
      int code = static_cast<int>(ferry::run_verify(verify_request));
      std::fflush(stdout);
      std::_Exit(code);
    }
    if (snapshots->parsed() || ls->parsed() || forget->parsed()) {
      query.connection = options;
      ferry::ExitCode code = snapshots->parsed() ? ferry::show_snapshots(query)
                             : ls->parsed()      ? ferry::list_entries(query, ls_at)
                                                 : ferry::forget_snapshots(query, forget_keep, forget_dry_run);
      std::fflush(stdout);
      std::_Exit(static_cast<int>(code));
    }
    if (backup_keep.any() && !options.snapshot) {
      throw ferry::FatalError("--keep-* rules apply to snapshots: add --snapshot, or use `ferry forget` on a "
                              "snapshot store",
                              ferry::ExitCode::kUsage);
    }
    auto direction = backup->parsed() ? ferry::Direction::kBackup : ferry::Direction::kRestore;
    ferry::ExitCode result = ferry::run_transfer(direction, src, dst, options);
    if (backup_keep.any() && !options.dry_run &&
        (result == ferry::ExitCode::kOk || result == ferry::ExitCode::kVanished)) {
      // Retention after a successful snapshot only: a failed run must not thin the history.
      query.destination = dst;
      query.json = options.json;
      query.connection = options;
      ferry::ExitCode forgot = ferry::forget_snapshots(query, backup_keep, false);
      if (forgot != ferry::ExitCode::kOk) result = forgot;
    }
    int code = static_cast<int>(result);
    std::fflush(stdout);
    std::_Exit(code);
  } catch (const ferry::FatalError& e) {
    spdlog::error("{}", e.what());
    if (options.json && dynamic_cast<const ferry::SummarizedError*>(&e) == nullptr) {
      ferry::Summary s;
      s.operation = backup->parsed() ? "backup" : "restore";
      s.source = src;
      s.destination = dst;
      s.exit_code = static_cast<int>(e.code());
      s.error = e.what();
      ferry::print_json(s);
    }
    std::fflush(stdout);
    // Threads of a failed session (the SSH pump) may still be blocked on a dead link: leave now.
    std::_Exit(static_cast<int>(e.code()));
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    std::fflush(stdout);
    std::_Exit(static_cast<int>(ferry::ExitCode::kFatal));
  } catch (...) {
    spdlog::error("failed with an unknown error");
    std::fflush(stdout);
    std::_Exit(static_cast<int>(ferry::ExitCode::kFatal));
  }
}
