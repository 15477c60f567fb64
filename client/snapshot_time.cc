#include "client/snapshot_time.h"

#include <map>
#include <regex>

#include "fs/snapshot_store.h"

namespace ferry {

namespace {

std::string at_or_before(std::time_t t) { return "<=" + snapshot_id_at(t); }

// A local time from its fields, or -1 when they do not name one (2026-02-30).
std::time_t local_time(int year, int month, int day, int hour, int minute, int second) {
  std::tm fields {};
  fields.tm_year = year - 1900;
  fields.tm_mon = month - 1;
  fields.tm_mday = day;
  fields.tm_hour = hour;
  fields.tm_min = minute;
  fields.tm_sec = second;
  fields.tm_isdst = -1;
  std::tm asked = fields;
  std::time_t t = std::mktime(&fields);
  if (t == -1 || fields.tm_year != asked.tm_year || fields.tm_mon != asked.tm_mon || fields.tm_mday != asked.tm_mday) {
    return -1;
  }
  return t;
}

}  // namespace

std::string snapshot_at_from_text(std::string_view text, std::time_t now, std::string* error) {
  error->clear();
  std::string s(text);
  if (s == "latest") return s;
  if (is_snapshot_id(s)) return s;
  std::smatch m;
  static const std::regex kDate(R"((\d{4})-(\d{2})-(\d{2}))");
  static const std::regex kDateTime(R"((\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?)");
  static const std::regex kAgo(R"((\d{1,6}) (minute|hour|day|week)s? ago)");
  auto number = [&](size_t i) { return m[i].matched ? std::stoi(m[i].str()) : 0; };
  if (std::regex_match(s, m, kDate)) {
    std::time_t end_of_day = local_time(number(1), number(2), number(3), 23, 59, 59);
    if (end_of_day != -1) return at_or_before(end_of_day);
  } else if (std::regex_match(s, m, kDateTime) && number(4) < 24 && number(5) < 60 && number(6) < 60) {
    std::time_t t = local_time(number(1), number(2), number(3), number(4), number(5), number(6));
    if (t != -1) return at_or_before(t);
  } else if (std::regex_match(s, m, kAgo)) {
    static const std::map<std::string, long> kSeconds = {{"minute", 60}, {"hour", 3600}, {"day", 86400},
                                                         {"week", 7 * 86400}};
    return at_or_before(now - number(1) * kSeconds.at(m[2].str()));
  }
  *error = "\"" + s + "\" is not a snapshot or a time: use latest, a snapshot ID (2026-12-02T03-15-00Z), a date "
           "(2026-11-30), a date and time (\"2026-11-30 14:05\") or \"N days ago\" (minutes, hours, days, weeks)";
  return "";
}

uint64_t parse_age(std::string_view text, std::string* error) {
  error->clear();
  static const std::regex kPart(R"((\d{1,6})([ymwdh]))");
  std::string s(text);
  uint64_t seconds = 0;
  auto begin = std::sregex_iterator(s.begin(), s.end(), kPart);
  size_t covered = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    if (static_cast<size_t>(it->position()) != covered) break;
    covered += static_cast<size_t>(it->length());
    static const std::map<char, uint64_t> kUnit = {
        {'y', 365 * 86400ull}, {'m', 30 * 86400ull}, {'w', 7 * 86400ull}, {'d', 86400ull}, {'h', 3600ull}};
    seconds += std::stoull((*it)[1].str()) * kUnit.at((*it)[2].str()[0]);
  }
  if (s.empty() || covered != s.size() || seconds == 0) {
    *error = "\"" + s + "\" is not an age: use e.g. 30d, 2w, 6m, 1y, 12h, or several together (1y6m)";
    return 0;
  }
  return seconds;
}

}  // namespace ferry
