#include "fs/retention.h"

#include <array>
#include <charconv>
#include <functional>

namespace ferry {

namespace {

constexpr uint32_t kMaxCount = 1'000'000;
constexpr uint64_t kMaxWithin = 1000ull * 366 * 86400;

struct CountRule {
  const char* name;
  uint32_t KeepRules::*count;
  // The period a time falls in (local time): snapshots of one period share it.
  std::function<long(const std::tm&)> period;
};

const std::array<CountRule, 5>& period_rules() {
  static const std::array<CountRule, 5> rules = {{
      {"hourly", &KeepRules::hourly,
       [](const std::tm& t) { return ((t.tm_year * 400L + t.tm_yday) * 24 + t.tm_hour); }},
      {"daily", &KeepRules::daily, [](const std::tm& t) { return t.tm_year * 400L + t.tm_yday; }},
      {"weekly", &KeepRules::weekly,
       [](const std::tm& t) {
         char week[16];
         std::strftime(week, sizeof week, "%G%V", &t);  // ISO year and week
         return std::stol(week);
       }},
      {"monthly", &KeepRules::monthly, [](const std::tm& t) { return t.tm_year * 12L + t.tm_mon; }},
      {"yearly", &KeepRules::yearly, [](const std::tm& t) { return static_cast<long>(t.tm_year); }},
  }};
  return rules;
}

}  // namespace

std::string KeepRules::serialize() const {
  std::string out;
  auto add = [&](const char* name, uint64_t value) {
    if (value == 0) return;
    out += (out.empty() ? "" : " ") + std::string(name) + "=" + std::to_string(value);
  };
  add("last", last);
  for (const CountRule& rule : period_rules()) add(rule.name, this->*rule.count);
  add("within", within_s);
  return out;
}

KeepRules KeepRules::parse(std::string_view text, std::string* error) {
  KeepRules rules;
  error->clear();
  std::vector<std::string> seen;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    size_t eq = word.find('=');
    std::string name(word.substr(0, eq));
    uint64_t value = 0;
    std::string_view number = eq == std::string_view::npos ? std::string_view() : word.substr(eq + 1);
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() || value == 0) {
      *error = "bad keep rule \"" + std::string(word) + "\"";
      return {};
    }
    for (const std::string& s : seen) {
      if (s == name) {
        *error = "keep rule \"" + name + "\" given twice";
        return {};
      }
    }
    seen.push_back(name);
    if (name == "within") {
      if (value > kMaxWithin) {
        *error = "keep rule within=" + std::to_string(value) + " is out of range";
        return {};
      }
      rules.within_s = value;
      continue;
    }
    if (value > kMaxCount) {
      *error = "keep rule " + name + "=" + std::to_string(value) + " is out of range";
      return {};
    }
    if (name == "last") {
      rules.last = static_cast<uint32_t>(value);
      continue;
    }
    bool known = false;
    for (const CountRule& rule : period_rules()) {
      if (name == rule.name) {
        rules.*rule.count = static_cast<uint32_t>(value);
        known = true;
      }
    }
    if (!known) {
      *error = "unknown keep rule \"" + name + "\"";
      return {};
    }
  }
  return rules;
}

std::vector<std::string> apply_keep_rules(const std::vector<std::time_t>& times, const KeepRules& rules) {
  std::vector<std::string> reasons(times.size());
  if (times.empty()) return reasons;
  auto keep = [&](size_t i, const char* why) { reasons[i] += (reasons[i].empty() ? "" : ", ") + std::string(why); };
  std::time_t newest = times.back();
  uint32_t last = rules.last;
  struct Counter {
    uint32_t left;
    long previous = -1;
    bool started = false;
  };
  std::vector<Counter> counters;
  for (const CountRule& rule : period_rules()) counters.push_back({rules.*rule.count});
  // Newest first: the first snapshot met in a period is that period's newest.
  for (size_t n = times.size(); n-- > 0;) {
    if (last > 0) {
      keep(n, "last");
      --last;
    }
    std::tm local {};
    ::localtime_r(&times[n], &local);
    for (size_t r = 0; r < counters.size(); ++r) {
      Counter& c = counters[r];
      long period = period_rules()[r].period(local);
      if (c.left == 0 || (c.started && period == c.previous)) continue;
      keep(n, period_rules()[r].name);
      c.previous = period;
      c.started = true;
      --c.left;
    }
    if (rules.within_s != 0 && static_cast<uint64_t>(newest - times[n]) < rules.within_s) keep(n, "within");
  }
  if (reasons.back().empty()) reasons.back() = "newest";
  return reasons;
}

}  // namespace ferry
