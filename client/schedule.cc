#include "client/schedule.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <vector>

#include <fmt/core.h>

#include "base/error.h"
#include "client/child_process.h"
#include "client/ferry_home.h"
#include "client/task_history.h"

namespace ferry {
namespace {

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 24 * kHour;

// systemd's quoting for a word of ExecStart= and a value of Environment=: double quotes, with
// backslash, quote and the specifier '%' escaped, and control characters (a newline would end
// the line and start a directive of its own) as C escapes, which systemd unescapes there.
std::string systemd_quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '%') out += '%';
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// A free-text value (Description=) takes no quotes or escapes: keep it on its line, without
// specifiers, and without a trailing backslash (which would join the next line to it).
std::string systemd_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += '?';
    else if (c == '%') out += "%%";
    else out += c;
  }
  while (out.ends_with("\\")) out.pop_back();
  return out;
}

// "Mon 2026-12-07 22:00:00 UTC" -> Unix seconds; -1 when it is not that.
int64_t parse_utc_time(const std::string& text) {
  std::tm t{};
  char weekday[8];
  if (std::sscanf(text.c_str(), "%7s %d-%d-%d %d:%d:%d", weekday, &t.tm_year, &t.tm_mon, &t.tm_mday, &t.tm_hour,
                  &t.tm_min, &t.tm_sec) != 7) {
    return -1;
  }
  t.tm_year -= 1900;
  t.tm_mon -= 1;
  return static_cast<int64_t>(::timegm(&t));
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// The environment a scheduled run needs to find this user's tasks and history.
std::vector<std::pair<std::string, std::string>> run_environment() {
  // Absolute: the scheduler starts the run in another folder than the shell that installed it.
  std::error_code ec;
  std::filesystem::path home = std::filesystem::absolute(ferry_home(), ec);
  std::vector<std::pair<std::string, std::string>> env = {{"FERRY_HOME", ec ? ferry_home() : home.string()}};
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg == '/') {
    env.emplace_back("XDG_STATE_HOME", xdg);
  }
  return env;
}

}  // namespace

std::string unit_name(const std::string& task) { return "ferry-" + task; }
// A '.' no task name has: "ferry-x-failure" would be the unit of a task named "x-failure".
std::string failure_unit_name(const std::string& task) { return "ferry-" + task + ".on-failure"; }
std::string launchd_label(const std::string& task) { return "net.ferry.task." + task; }

Schedule parse_schedule(const std::string& text, std::string* error) {
  Schedule s;
  s.text = text;
  if (text == "hourly") {
    s.calendar = "hourly";
    s.interval_s = kHour;
    s.minute = 0;
  } else if (text == "daily" || text.starts_with("daily ")) {
    s.interval_s = kDay;
    s.hour = 0;
    s.minute = 0;
    if (text != "daily") {
      std::string time = text.substr(6);
      unsigned hour = 0, minute = 0;
      char extra = 0;
      if (std::sscanf(time.c_str(), "%2u:%2u%c", &hour, &minute, &extra) != 2 || hour > 23 || minute > 59 ||
          time.size() != 5) {
        *error = "schedule \"" + text + "\": the time of day is HH:MM, 00:00 to 23:59";
        return {};
      }
      s.hour = static_cast<int>(hour);
      s.minute = static_cast<int>(minute);
    }
    s.calendar = fmt::format("*-*-* {:02}:{:02}:00", s.hour, s.minute);
  } else if (text == "weekly") {
    s.calendar = "weekly";  // systemd: Monday 00:00
    s.interval_s = 7 * kDay;
    s.hour = 0;
    s.minute = 0;
    s.weekly = true;
  } else if (text.empty() || text.size() > 256 || text.find_first_of("\n\r") != std::string::npos) {
    *error = "schedule \"" + text + "\": hourly, daily, daily HH:MM, weekly, or a systemd calendar expression";
    return {};
  } else {
    s.calendar = text;  // checked by systemd-analyze when installed
  }
  return s;
}

int64_t next_run(const Schedule& schedule, int64_t now) {
  if (schedule.interval_s == 0) return -1;
  std::time_t t = static_cast<std::time_t>(now);
  std::tm local{};
  ::localtime_r(&t, &local);
  local.tm_sec = 0;
  if (schedule.interval_s == kHour) {
    local.tm_min = 0;
    local.tm_hour += 1;
    local.tm_isdst = -1;
    return static_cast<int64_t>(std::mktime(&local));
  }
  local.tm_hour = schedule.hour;
  local.tm_min = schedule.minute;
  if (schedule.weekly) local.tm_mday -= (local.tm_wday + 6) % 7;  // back to this week's Monday
  local.tm_isdst = -1;
  int64_t when = static_cast<int64_t>(std::mktime(&local));
  while (when <= now) {
    local.tm_mday += schedule.weekly ? 7 : 1;
    local.tm_isdst = -1;
    when = static_cast<int64_t>(std::mktime(&local));
  }
  return when;
}

CalendarForecast forecast_calendar(const std::string& expression, int runs) {
  std::string output;
  CalendarForecast forecast;
  if (run_program_output({"systemd-analyze", "calendar", "--iterations=" + std::to_string(runs), "--", expression},
                         &output) != 0) {
    return forecast;
  }
  // Each elapse is "Next elapse: <local time>" or "Iter. #N: <local time>", followed by
  // "(in UTC): <time>" unless the local zone is UTC.
  std::vector<int64_t> times;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string label = line.substr(0, colon), value = line.substr(colon + 2);
    label.erase(0, label.find_first_not_of(' '));
    if (label == "Next elapse" || label.starts_with("Iter. #")) times.push_back(parse_utc_time(value));
    else if (label == "(in UTC)" && !times.empty()) times.back() = parse_utc_time(value);
  }
  if (times.empty() || times.front() < 0) return forecast;
  forecast.next = times.front();
  for (size_t i = 1; i < times.size(); ++i) {
    if (times[i] > times[i - 1]) forecast.longest_gap_s = std::max(forecast.longest_gap_s, times[i] - times[i - 1]);
  }
  return forecast;
}

std::string systemd_service_unit(const Task& task, const std::string& ferry_path) {
  std::string unit = fmt::format(
      "# Written by `ferry schedule install {0}`; `ferry schedule remove {0}` removes it.\n"
      "[Unit]\n"
      "Description=Ferry task {0}: back up {1}\n"
      "Wants=network-online.target\n"
      "After=network-online.target\n",
      task.name, systemd_text(task.source));
  if (!task.on_failure.empty()) unit += "OnFailure=" + failure_unit_name(task.name) + ".service\n";
  unit += "\n[Service]\nType=oneshot\n";
  for (const auto& [name, value] : run_environment()) unit += "Environment=" + systemd_quote(name + "=" + value) + "\n";
  unit += "ExecStart=" + systemd_quote(ferry_path) + " task run -- " + task.name + "\n";
  // A backup should yield to whatever the person at the machine is doing.
  unit += "Nice=10\nIOSchedulingClass=idle\n";
  return unit;
}

std::string systemd_failure_unit(const Task& task, const std::string& ferry_path) {
  std::string unit = fmt::format(
      "# Written by `ferry schedule install {0}`. Runs the task's on_failure hook when a run ended\n"
      "# without recording itself (killed, out of memory); a run that recorded itself ran the hook.\n"
      "[Unit]\n"
      "Description=Ferry task {0}: report a run that did not finish\n"
      "\n[Service]\nType=oneshot\n",
      task.name);
  for (const auto& [name, value] : run_environment()) unit += "Environment=" + systemd_quote(name + "=" + value) + "\n";
  unit += "ExecStart=" + systemd_quote(ferry_path) + " task failed -- " + task.name + "\n";
  return unit;
}

std::string systemd_timer_unit(const Task& task, const Schedule& schedule) {
  // Many machines waking at 02:00 should not all reach one backup server at once.
  std::string delay = schedule.interval_s == kHour ? "2min" : "10min";
  return fmt::format(
      "# Written by `ferry schedule install {0}`; `ferry schedule remove {0}` removes it.\n"
      "[Unit]\n"
      "Description=Schedule of ferry task {0} ({1})\n"
      "\n[Timer]\n"
      "OnCalendar={2}\n"
      "Persistent=true\n"
      "RandomizedDelaySec={3}\n"
      "\n[Install]\n"
      "WantedBy=timers.target\n",
      task.name, systemd_text(schedule.text), schedule.calendar, delay);
}

std::string launchd_plist(const Task& task, const Schedule& schedule, const std::string& ferry_path) {
  if (schedule.interval_s == 0) {
    throw FatalError("schedule \"" + schedule.text + "\": launchd takes hourly, daily, daily HH:MM or weekly",
                     ExitCode::kUsage);
  }
  std::string calendar;
  if (schedule.weekly) calendar += "    <key>Weekday</key><integer>1</integer>\n";
  if (schedule.hour >= 0) calendar += fmt::format("    <key>Hour</key><integer>{}</integer>\n", schedule.hour);
  calendar += fmt::format("    <key>Minute</key><integer>{}</integer>\n", schedule.minute);
  // XML 1.0 has no way to write most control characters: a plist holding one would not load.
  auto has_control = [](const std::string& text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
      return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
    });
  };
  std::string env;
  for (const auto& [name, value] : run_environment()) {
    if (has_control(value) || has_control(ferry_path)) {
      throw FatalError(name + " or the ferry program's path holds a control character, which a launchd property "
                       "list cannot: move it to a folder whose name has none", ExitCode::kUsage);
    }
    env += "    <key>" + xml_escape(name) + "</key><string>" + xml_escape(value) + "</string>\n";
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
      "<!-- Written by `ferry schedule install {1}`; `ferry schedule remove {1}` removes it. -->\n"
      "<plist version=\"1.0\">\n"
      "<dict>\n"
      "  <key>Label</key><string>{0}</string>\n"
      "  <key>ProgramArguments</key>\n"
      "  <array><string>{2}</string><string>task</string><string>run</string><string>--</string><string>{1}</string></array>\n"
      "  <key>EnvironmentVariables</key>\n"
      "  <dict>\n{3}  </dict>\n"
      "  <!-- launchd runs a calendar job missed while the Mac slept once it wakes. -->\n"
      "  <key>StartCalendarInterval</key>\n"
      "  <dict>\n{4}  </dict>\n"
      "  <key>LowPriorityIO</key><true/>\n"
      "  <key>Nice</key><integer>10</integer>\n"
      "</dict>\n"
      "</plist>\n",
      xml_escape(launchd_label(task.name)), xml_escape(task.name), xml_escape(ferry_path), env, calendar);
}

}  // namespace ferry
