// Schedules as tasks write them, when they fire next, and the history read from its end.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "client/schedule.h"
#include "client/task_history.h"
#include "support/temp_dir.h"

using namespace ferry;

namespace {

// Local time `y-m-d h:m` as Unix seconds, in the time zone the test fixes.
int64_t at(int y, int mo, int d, int h, int mi) {
  std::tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&t));
}

// Fixes the time zone for one test, and puts the process's back after it.
struct UtcZone {
  UtcZone() {
    if (const char* tz = std::getenv("TZ")) saved = tz, had = true;
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  ~UtcZone() {
    if (had) ::setenv("TZ", saved.c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
  }
  std::string saved;
  bool had = false;
};

}  // namespace

TEST_CASE("named schedules become calendar expressions and intervals; wrong times are refused") {
  std::string error;
  CHECK(parse_schedule("hourly", &error).interval_s == 3600);
  Schedule daily = parse_schedule("daily 02:30", &error);
  CHECK(error.empty());
  CHECK(daily.calendar == "*-*-* 02:30:00");
  CHECK(daily.interval_s == 86400);
  CHECK(parse_schedule("weekly", &error).interval_s == 7 * 86400);
  Schedule calendar = parse_schedule("Mon..Fri *-*-* 22:00", &error);
  CHECK(error.empty());
  CHECK(calendar.calendar == "Mon..Fri *-*-* 22:00");
  CHECK(calendar.interval_s == 0);
  for (const char* bad : {"daily 24:00", "daily 2:30", "daily 02:60", "daily 02:30x", ""}) {
    error.clear();
    parse_schedule(bad, &error);
    CHECK_MESSAGE(!error.empty(), bad);
  }
}

TEST_CASE("next_run: the next firing after now, never now itself") {
  UtcZone utc;
  std::string error;
  Schedule daily = parse_schedule("daily 02:30", &error);
  CHECK(next_run(daily, at(2026, 12, 5, 1, 0)) == at(2026, 12, 5, 2, 30));
  CHECK(next_run(daily, at(2026, 12, 5, 2, 30)) == at(2026, 12, 6, 2, 30));
  CHECK(next_run(daily, at(2026, 12, 31, 23, 0)) == at(2027, 1, 1, 2, 30));
  CHECK(next_run(parse_schedule("hourly", &error), at(2026, 12, 5, 1, 59)) == at(2026, 12, 5, 2, 0));
  // weekly is Monday 00:00, as systemd reads it. 2026-12-05 is a Saturday.
  Schedule weekly = parse_schedule("weekly", &error);
  CHECK(next_run(weekly, at(2026, 12, 5, 12, 0)) == at(2026, 12, 7, 0, 0));
  CHECK(next_run(weekly, at(2026, 12, 7, 0, 0)) == at(2026, 12, 14, 0, 0));
  CHECK(next_run(parse_schedule("Mon *-*-* 10:00", &error), at(2026, 12, 5, 12, 0)) == -1);
}

TEST_CASE("the newest run and the newest success are found from the end, across read blocks and torn lines") {
  ferry::test::TempDir dir;
  ::setenv("XDG_STATE_HOME", dir.path().c_str(), 1);
  // 3000 runs (about 600 KiB, many 64 KiB blocks): successes up to run 1000, failures after.
  for (int i = 0; i < 3000; ++i) {
    RunRecord run;
    run.start = 1000 + i;
    run.end = 1000 + i;
    run.exit_code = i < 1000 ? 0 : 3;
    run.first_error = i < 1000 ? "" : std::string(100, 'x');
    append_run("big", run);
  }
  std::ofstream(history_file("big"), std::ios::app) << "{\"start\":99";  // a crash mid-line
  LastRuns last = read_last_runs("big");
  REQUIRE(last.last);
  REQUIRE(last.last_success);
  CHECK(last.last->start == 1000 + 2999);
  CHECK(last.last_success->start == 1000 + 999);
  CHECK(last.torn_lines == 1);
  int torn = 0;
  CHECK(read_history("big", &torn).size() == 3000);
  CHECK(torn == 1);
  ::unsetenv("XDG_STATE_HOME");
}

TEST_CASE("a task keeps the logs and summaries of its newest 30 runs") {
  ferry::test::TempDir dir;
  ::setenv("XDG_STATE_HOME", dir.path().c_str(), 1);
  std::string folder = run_folder("chatty");
  char name[64];
  for (int day = 1; day <= 35; ++day) {
    std::snprintf(name, sizeof name, "/2026-11-%02dT02-30-00Z", day);
    std::ofstream(folder + name + ".log") << "log";
    std::ofstream(folder + name + ".json") << "{}";
  }
  prune_run_files("chatty");
  int logs = 0, summaries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    logs += entry.path().extension() == ".log";
    summaries += entry.path().extension() == ".json";
  }
  CHECK(logs == 30);
  CHECK(summaries == 30);
  CHECK_FALSE(std::filesystem::exists(folder + "/2026-11-05T02-30-00Z.log"));  // the oldest five went
  CHECK(std::filesystem::exists(folder + "/2026-11-06T02-30-00Z.log"));
  ::unsetenv("XDG_STATE_HOME");
}

TEST_CASE("runs started in the same second sort after the first, so pruning keeps the newest") {
  ferry::test::TempDir dir;
  ::setenv("XDG_STATE_HOME", dir.path().c_str(), 1);
  std::string folder = run_folder("quick");
  for (const char* name : {"/2026-11-01T02-30-00Z", "/2026-11-01T02-30-00Z_002", "/2026-11-01T02-30-00Z_010"}) {
    std::ofstream(folder + name + ".log") << "log";
  }
  prune_run_files("quick", 1);
  CHECK(std::filesystem::exists(folder + "/2026-11-01T02-30-00Z_010.log"));
  CHECK_FALSE(std::filesystem::exists(folder + "/2026-11-01T02-30-00Z_002.log"));
  CHECK_FALSE(std::filesystem::exists(folder + "/2026-11-01T02-30-00Z.log"));
  ::unsetenv("XDG_STATE_HOME");
}

TEST_CASE("a calendar expression's next run and longest gap are systemd's own answer") {
  if (std::system("systemd-analyze --version >/dev/null 2>&1") != 0) {
    MESSAGE("systemd-analyze is not installed: skipped");
    return;
  }
  UtcZone utc;
  int64_t now = static_cast<int64_t>(::time(nullptr));
  CalendarForecast workdays = forecast_calendar("Mon..Fri *-*-* 22:00");
  CHECK(workdays.next > now);
  CHECK(workdays.next <= now + 3 * 86400 + 60);
  CHECK(workdays.next % 86400 == 22 * 3600);
  CHECK(workdays.longest_gap_s == 3 * 86400);  // Friday to Monday
  CalendarForecast half_hourly = forecast_calendar("*:0/30");
  CHECK(half_hourly.longest_gap_s == 1800);
  CHECK(forecast_calendar("Mon..Fry 25:00").next == -1);
}

TEST_CASE("unit files keep a task's text on its line: no newline, specifier or continuation reaches systemd") {
  Task task;
  task.name = "evil";
  task.source = "/home/a\nExecStartPre=/bin/touch /tmp/owned %h\\";
  task.on_failure = "true";
  std::string saved = std::getenv("FERRY_HOME") ? std::getenv("FERRY_HOME") : "";
  ::setenv("FERRY_HOME", "/tmp/a\nExecStartPre=/bin/touch /tmp/owned", 1);
  std::string unit = systemd_service_unit(task, "/usr/bin/ferry");
  std::string failure = systemd_failure_unit(task, "/usr/bin/ferry");
  if (saved.empty()) ::unsetenv("FERRY_HOME");
  else ::setenv("FERRY_HOME", saved.c_str(), 1);
  for (const std::string& text : {unit, failure}) {
    CHECK(text.find("\nExecStartPre") == std::string::npos);
    CHECK(text.find(" %h") == std::string::npos);  // a specifier systemd would expand
  }
  CHECK(unit.find("owned %%h\n") != std::string::npos);  // as text, and the backslash gone
  CHECK(unit.find("Environment=\"FERRY_HOME=/tmp/a\\x0aExecStartPre=/bin/touch /tmp/owned\"") != std::string::npos);
  CHECK(unit.find("ExecStart=\"/usr/bin/ferry\" task run -- evil\n") != std::string::npos);
}

TEST_CASE("a relative FERRY_HOME goes into the units absolute: the scheduler starts elsewhere") {
  std::string saved = std::getenv("FERRY_HOME") ? std::getenv("FERRY_HOME") : "";
  ::setenv("FERRY_HOME", "relhome", 1);
  Task task;
  task.name = "rel";
  task.source = "/s";
  std::string unit = systemd_service_unit(task, "/usr/bin/ferry");
  if (saved.empty()) ::unsetenv("FERRY_HOME");
  else ::setenv("FERRY_HOME", saved.c_str(), 1);
  CHECK(unit.find("Environment=\"FERRY_HOME=" + (std::filesystem::current_path() / "relhome").string() + "\"") !=
        std::string::npos);
}
