// What every task run leaves behind, on this computer only: one JSON line per run in
// STATE/history/NAME.jsonl, and the run's log and --json summary in STATE/history/NAME/
// (the newest 30 kept). STATE is $XDG_STATE_HOME/ferry, by default ~/.local/state/ferry.
//
// A line is appended with one write(2) to an O_APPEND file, so concurrent writers never
// interleave and a crash can at worst leave a torn last line, which readers skip with a
// warning. Readers that only need the newest runs (`ferry status`) read the file from its end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ferry {

struct RunRecord {
  int64_t start = 0;  // Unix seconds
  int64_t end = 0;
  int exit_code = 0;
  uint64_t files = 0;   // files copied
  uint64_t bytes = 0;   // bytes of the files looked at
  uint64_t errors = 0;  // files that could not be copied
  std::string first_error;
  std::string log;      // the run's log file
  std::string summary;  // the run's --json summary
  std::string hook;     // "on_failure" / "on_success" when one ran
  int hook_exit_code = -1;
  std::string hook_error;  // why the hook failed, if it did

  bool succeeded() const { return exit_code == 0; }
};

std::string state_dir();                           // $XDG_STATE_HOME/ferry
std::string history_file(const std::string& task);  // STATE/history/NAME.jsonl
std::string run_folder(const std::string& task);     // STATE/history/NAME/, created on demand

void append_run(const std::string& task, const RunRecord& run);

// Every run, oldest first. `*torn_lines` counts lines that did not parse (skipped).
std::vector<RunRecord> read_history(const std::string& task, int* torn_lines);

// The newest run and the newest successful one, read from the end of the file.
struct LastRuns {
  std::optional<RunRecord> last;
  std::optional<RunRecord> last_success;
  int torn_lines = 0;
};
LastRuns read_last_runs(const std::string& task);

// Keeps the newest `keep` runs' logs and summaries in the task's run folder.
void prune_run_files(const std::string& task, size_t keep = 30);

// Times as history and status show them: `format` is strftime's, in the local time zone
// (utc: false) or in UTC; "-" for 0.
std::string time_text(int64_t when, const char* format, bool utc = false);

std::string record_to_json(const RunRecord& run);
std::optional<RunRecord> record_from_json(const std::string& line);

}  // namespace ferry
