// The options of Ferry's commands. Shared by the command line and by tasks: a task's options
// are the backup command's long options, checked by parsing them as that command line.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/transfer_job.h"
#include "fs/retention.h"

namespace ferry {

// How to reach the agent: backup, restore, doctor and the snapshot commands.
void add_connection_options(CLI::App* cmd, TransferOptions* o);
// SRC, DEST and everything a backup or restore run takes.
void add_transfer_options(CLI::App* cmd, TransferOptions* o, std::string* src, std::string* dst);
// The retention rules of `forget` and `backup --snapshot`.
void add_keep_options(CLI::App* cmd, KeepRules* keep);
// `backup` with all its options, as a subcommand of `app`.
CLI::App* add_backup_command(CLI::App* app, TransferOptions* options, std::string* src, std::string* dst,
                             KeepRules* keep, int* verbosity);

// `-z auto` and `--compress auto` as `--compress=auto`: -z is a flag that may take a value,
// which CLI11 only reads after '='. A folder named "auto" right after -z is written ./auto.
std::vector<std::string> join_flag_values(std::vector<std::string> args);

}  // namespace ferry
