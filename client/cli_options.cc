// The options of Ferry's commands, shared by the command line and by tasks (which check a
// task's options by parsing them as a backup command line would be).
#include "client/cli_options.h"

#include <fstream>
#include <functional>
#include <sstream>

#include "client/snapshot_time.h"
#include "compress/zstd_stream.h"
#include "transport/stripes.h"
#include "transport/throttle.h"

namespace ferry {
namespace {

// A fingerprint as OpenSSH and install-credentials print it: "SHA256:" and 43 characters of
// unpadded base64. Anything else is a typo, not a host presenting another key.
CLI::Validator host_fingerprint_format() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        constexpr std::string_view kPrefix = "SHA256:";
        bool ok = text.size() == kPrefix.size() + 43 && text.starts_with(kPrefix) &&
                  text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                                         kPrefix.size()) == std::string::npos;
        return ok ? "" : "\"" + text + "\" is not a host key fingerprint: it looks like SHA256: followed by 43 "
                         "letters, digits, + or / (ferry-agent install-credentials prints it; so does "
                         "ssh-keygen -lf on the host's public key)";
      },
      "SHA256:…");
}

// --delete, the safety net and the filters. Filter options keep their command-line order:
// the first rule that matches a name decides.
// A repeatable option that acts on each value as soon as it is parsed, so in command-line order:
// the filter rules depend on it, since the first rule that matches a name decides.
void add_each_in_order(CLI::App* cmd, const std::string& name, const std::string& value_name,
                       std::function<void(const std::string&)> each, const std::string& help) {
  cmd->add_option_function<std::string>(name, std::move(each), help)
      ->type_name(value_name)
      ->trigger_on_parse()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_mirror_options(CLI::App* cmd, TransferOptions* o) {
  cmd->add_flag("--delete", o->delete_extraneous,
                "remove from DEST what SRC no longer has, once the new data is in place; what is deleted or "
                "replaced goes to DEST/.ferry-safetynet/<time>/");
  cmd->add_flag("--no-safety-net", o->no_safety_net, "with --delete, remove for good instead of keeping in the safety net");
  cmd->add_flag("--safety-net", o->safety_net, "keep the files a run replaces in the safety net, also without --delete");
  add_each_in_order(
      cmd, "--safety-net-keep", "AGE|SIZE",
      [o](const std::string& text) {
        std::string error = parse_safety_net_keep(text, &o->safety_net_keep_s, &o->safety_net_keep_bytes);
        if (!error.empty()) throw CLI::ValidationError("--safety-net-keep", error);
      },
      "prune the oldest safety-net folders: those older than an age (30d, 12h, 2w), or while all of them "
      "hold more than a size (50G); may be given twice, once of each");
  add_each_in_order(
      cmd, "--exclude", "PATTERN", [o](const std::string& pattern) { o->filters.exclude(pattern); },
      "leave out names matching PATTERN (rsync rules: see the README); repeatable");
  add_each_in_order(
      cmd, "--include", "PATTERN", [o](const std::string& pattern) { o->filters.include(pattern); },
      "keep names matching PATTERN even if a later --exclude matches them; repeatable");
  add_each_in_order(
      cmd, "--exclude-from", "FILE",
      [o](const std::string& file) {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw CLI::ValidationError("--exclude-from", "cannot read " + file);
        std::stringstream text;
        text << in.rdbuf();
        std::string error = o->filters.add_file_lines(text.str());
        if (!error.empty()) throw CLI::ValidationError("--exclude-from", file + ", " + error);
      },
      "read exclude patterns from FILE, one per line ('+ PATTERN' includes; '#' starts a comment)");
  cmd->add_flag("--delete-excluded", o->delete_excluded, "with --delete, also remove names the filters leave out");
  cmd->add_flag("--force", o->force,
                "with --delete, also into a folder that holds files and that Ferry never backed up into");
}

}  // namespace

// How to reach the agent: shared by backup, restore and doctor.
void add_connection_options(CLI::App* cmd, TransferOptions* o) {
  cmd->add_option("-i,--identity", o->identity, "private key to log in with (default: the key in FERRY_HOME)");
  cmd->add_option("--port", o->port, "SSH port of the remote (default 22)")->check(CLI::Range(1, 65535));
  cmd->add_option("--known-hosts", o->known_hosts, "known_hosts file (default: FERRY_HOME/known_hosts)");
  cmd->add_flag("--accept-new-host-key", o->accept_new_host_key, "trust and record an unknown host key");
  cmd->add_option("--host-fingerprint", o->host_fingerprint,
                  "trust an unknown host key only if its fingerprint is this (SHA256:…, as install-credentials prints)")
      ->check(host_fingerprint_format());
  cmd->add_option("--agent", o->agent, "command that starts the agent on the remote (default: ferry-agent)");
  cmd->add_option("--timeout", o->timeout_s, "give up when the peer is silent this many seconds (default 60)")
      ->check(CLI::Range(5, 86400));
}

void add_transfer_options(CLI::App* cmd, TransferOptions* o, std::string* src, std::string* dst) {
  cmd->add_option("SRC", *src, "what to copy from")->required();
  cmd->add_option("DEST", *dst, "where to copy to")->required();
  add_connection_options(cmd, o);
  cmd->add_flag("-n,--dry-run", o->dry_run, "show what would be copied, change nothing");
  cmd->add_flag("-c,--checksum", o->checksum,
                "decide what changed by whole-file hashes (reads every file on both sides) instead of size and mtime");
  cmd->add_flag("--no-sync", o->no_sync,
                "do not wait for the copy to reach the disk before reporting success (rsync's default: "
                "faster, but a power cut soon after can lose files reported as copied)");
  cmd->add_flag("--stats", o->stats, "print a summary of the transfer");
  cmd->add_flag("--json", o->json, "print one JSON summary object on stdout");
  cmd->add_flag("--progress", o->progress,
                "show a live progress line on the terminal: share done, rate, time left, the file under way");
  cmd->add_flag("--json-progress", o->json_progress,
                "print one JSON object a second on stdout as the run goes (for GUIs and wrappers)");
  // A flag that may take a value: -z alone is "on" (CLI11 gives a string flag "true").
  cmd->add_flag("-z,--compress", o->compress,
                "compress file data with zstd; -z auto (or --compress=auto) compresses only while it measures faster")
      ->option_text("[auto]")
      ->transform(CLI::Transformer({{"true", "on"}}))
      ->check(CLI::IsMember({"on", "auto"}));
  cmd->add_option("--compress-level", o->compress_level, "zstd level (default 3; negative is faster)")
      ->check(CLI::Range(min_compress_level(), max_compress_level()));
  cmd->add_option("--skip-compress", o->skip_compress,
                  "suffixes never compressed, slash-separated (default: a list of media, archives, packages)")
      ->each([o](const std::string&) { o->skip_compress_set = true; });
  cmd->add_option_function<std::string>(
      "--bwlimit",
      [o](const std::string& text) {
        std::string error;
        o->rate_limit = parse_rate(text, &error);
        if (!error.empty()) throw CLI::ValidationError("--bwlimit", error);
      },
      "cap the bytes written to the connection per second, in both directions: KiB as rsync reads a bare "
      "number, or 500K, 10M, 1G (powers of 1024); 0 = no limit");
  cmd->add_option("--streams", o->streams,
                  "spread what this side sends over N SSH channels (1-8, default 1): sshd lets each channel have "
                  "2 MiB in flight, so a backup over a link with a long round trip goes up to N times faster")
      ->check(CLI::Range(1, kMaxStripes));
  add_mirror_options(cmd, o);
}

// The retention rules of `forget` and `backup --snapshot`.
void add_keep_options(CLI::App* cmd, KeepRules* keep) {
  struct CountRule {
    const char* name;
    uint32_t KeepRules::*count;
    const char* help;
  };
  for (CountRule rule : {CountRule{"--keep-last", &KeepRules::last, "keep the N newest snapshots"},
                         CountRule{"--keep-hourly", &KeepRules::hourly, "keep the newest of each of the last N hours that have one"},
                         CountRule{"--keep-daily", &KeepRules::daily, "keep the newest of each of the last N days that have one"},
                         CountRule{"--keep-weekly", &KeepRules::weekly, "the same per week"},
                         CountRule{"--keep-monthly", &KeepRules::monthly, "the same per month"},
                         CountRule{"--keep-yearly", &KeepRules::yearly, "the same per year"}}) {
    cmd->add_option(rule.name, keep->*rule.count, rule.help)->type_name("N")->check(CLI::Range(1, 1'000'000));
  }
  cmd->add_option_function<std::string>(
      "--keep-within",
      [keep](const std::string& text) {
        std::string error;
        keep->within_s = parse_age(text, &error);
        if (!error.empty()) throw CLI::ValidationError("--keep-within", error);
      },
      "keep every snapshot younger than AGE (30d, 2w, 1y6m), counted from the newest")
      ->type_name("AGE");
}

CLI::App* add_backup_command(CLI::App* app, TransferOptions* options, std::string* src, std::string* dst,
                             KeepRules* keep, int* verbosity) {
  CLI::App* backup = app->add_subcommand("backup", "copy the local folder SRC to DEST ([user@]host:/path, ssh://... or a local folder)");
  add_transfer_options(backup, options, src, dst);
  backup->add_flag("-v,--verbose", *verbosity, "more output; repeat for more");
  backup->add_flag("--snapshot", options->snapshot,
                   "make a new point-in-time snapshot DEST/<time>/ (files unchanged since the last one are shared "
                   "with it, not stored again) instead of updating a mirror; DEST/latest names the newest");
  backup->add_flag("--accept-new-volume", options->accept_new_volume,
                   "DEST moved to another disk on purpose: back up there, and expect that disk from now on");
  backup->add_flag("--no-seal", options->no_seal,
                   "leave out the seal: the hash tree over what was sent that `ferry verify` checks the backup against");
  backup->add_option("--known-volumes", options->known_volumes,
                     "where the volume of each destination is remembered (default: FERRY_HOME/volumes)");

  add_keep_options(backup, keep);
  return backup;
}

}  // namespace ferry

namespace ferry {

std::vector<std::string> join_flag_values(std::vector<std::string> args) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      out.insert(out.end(), args.begin() + static_cast<long>(i), args.end());
      break;
    }
    bool compress = args[i] == "-z" || args[i] == "--compress";
    if (compress && i + 1 < args.size() && (args[i + 1] == "auto" || args[i + 1] == "on")) {
      out.push_back("--compress=" + args[++i]);
      continue;
    }
    out.push_back(args[i]);
  }
  return out;
}

}  // namespace ferry
