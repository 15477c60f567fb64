// Retention (fs/retention.h): restic's rules, combined with OR, the newest always kept, and
// the rules' text form as Open carries it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>

#include "client/snapshot_time.h"
#include "fs/retention.h"
#include "fs/snapshot_store.h"

using namespace ferry;

namespace {

struct UtcZone {
  UtcZone() {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  ~UtcZone() {
    ::unsetenv("TZ");
    ::tzset();
  }
};

std::vector<std::time_t> times_of(std::initializer_list<const char*> ids) {
  std::vector<std::time_t> times;
  for (const char* id : ids) times.push_back(snapshot_id_time(id));
  return times;
}

}  // namespace

TEST_CASE("keep-last keeps the newest N; the rest go") {
  auto times = times_of({"2026-12-01T00-00-00Z", "2026-12-02T00-00-00Z", "2026-12-03T00-00-00Z", "2026-12-04T00-00-00Z"});
  KeepRules rules;
  rules.last = 2;
  CHECK(apply_keep_rules(times, rules) == std::vector<std::string>{"", "", "last", "last"});
}

TEST_CASE("keep-daily keeps the newest of each of the last N days that have one") {
  UtcZone utc;
  // Three on the 3rd, none on the 2nd, two on the 1st, one on Nov 30th.
  auto times = times_of({"2026-11-30T10-00-00Z", "2026-12-01T08-00-00Z", "2026-12-01T20-00-00Z",
                         "2026-12-03T01-00-00Z", "2026-12-03T09-00-00Z", "2026-12-03T23-00-00Z"});
  KeepRules rules;
  rules.daily = 2;
  CHECK(apply_keep_rules(times, rules) == std::vector<std::string>{"", "", "daily", "", "", "daily"});
  rules.daily = 5;  // more days than there are: every day's newest
  CHECK(apply_keep_rules(times, rules) == std::vector<std::string>{"daily", "", "daily", "", "", "daily"});
}

TEST_CASE("rules combine with OR, and each says why it keeps") {
  UtcZone utc;
  auto times = times_of({"2025-06-01T00-00-00Z", "2026-10-15T00-00-00Z", "2026-11-20T00-00-00Z",
                         "2026-12-01T00-00-00Z", "2026-12-02T00-00-00Z"});
  KeepRules rules;
  rules.last = 1;
  rules.monthly = 3;
  rules.yearly = 2;
  CHECK(apply_keep_rules(times, rules) ==
        std::vector<std::string>{"yearly", "monthly", "monthly", "", "last, monthly, yearly"});
  KeepRules weekly;
  weekly.weekly = 1;
  // Dec 1st (Tue) and Dec 2nd (Wed) 2026 share ISO week 49: only the newer is kept.
  CHECK(apply_keep_rules(times, weekly) == std::vector<std::string>{"", "", "", "", "weekly"});
}

TEST_CASE("keep-within keeps what is younger than the age, counted from the newest") {
  auto times = times_of({"2026-11-01T00-00-00Z", "2026-11-28T00-00-00Z", "2026-12-01T00-00-00Z"});
  KeepRules rules;
  rules.within_s = 7 * 86400;
  CHECK(apply_keep_rules(times, rules) == std::vector<std::string>{"", "within", "within"});
}

TEST_CASE("the newest snapshot is kept whatever the rules say") {
  auto times = times_of({"2026-11-01T00-00-00Z", "2026-12-01T00-00-00Z"});
  KeepRules rules;
  rules.within_s = 1;
  CHECK(apply_keep_rules(times, rules) == std::vector<std::string>{"", "within"});
  rules = KeepRules{};
  rules.hourly = 1;
  CHECK(apply_keep_rules({}, rules).empty());
}

TEST_CASE("keep rules travel as text, and nothing else passes for them") {
  KeepRules rules;
  rules.last = 2;
  rules.daily = 7;
  rules.within_s = 86400;
  CHECK(rules.serialize() == "last=2 daily=7 within=86400");
  std::string error;
  KeepRules back = KeepRules::parse(rules.serialize(), &error);
  CHECK(error.empty());
  CHECK(back.serialize() == rules.serialize());
  CHECK_FALSE(KeepRules{}.any());
  CHECK(KeepRules::parse("", &error).any() == false);
  for (const char* bad : {"last=0", "last=x", "last=2 last=3", "forever=1", "daily=99999999", "last=", "=2",
                          "last=2  daily=1", "within=999999999999"}) {
    CAPTURE(bad);
    KeepRules::parse(bad, &error);
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("--keep-within ages") {
  std::string error;
  CHECK(parse_age("30d", &error) == 30 * 86400);
  CHECK(parse_age("1y6m", &error) == 365 * 86400 + 6 * 30 * 86400);
  CHECK(parse_age("2w3d12h", &error) == 17 * 86400 + 12 * 3600);
  CHECK(error.empty());
  for (const char* bad : {"", "30", "d", "30x", "0d", "1y 6m", "-3d"}) {
    CAPTURE(bad);
    CHECK(parse_age(bad, &error) == 0);
    CHECK_FALSE(error.empty());
  }
}
