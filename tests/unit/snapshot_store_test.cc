// Snapshot stores (fs/snapshot_store.h): the names of snapshots, which one a restore reads
// (also when `latest` was tampered with), and what `--at` accepts (client/snapshot_time.h).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "client/snapshot_time.h"
#include "fs/dest_state.h"
#include "fs/unique_fd.h"
#include "fs/snapshot_store.h"
#include "support/temp_dir.h"

using namespace ferry;
using ferry::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct Store {
  TempDir dir;
  int fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ~Store() { ::close(fd); }
  void snapshot(const std::string& id) { fs::create_directory(dir / id); }
  std::string resolve(const std::string& at, std::string* problem, std::string* warning = nullptr) {
    std::string w;
    return resolve_snapshot(fd, at, problem, warning ? warning : &w);
  }
};

}  // namespace

TEST_CASE("snapshot IDs are UTC times, sortable, and nothing else passes for one") {
  CHECK(snapshot_id_at(0) == "1970-01-01T00-00-00Z");
  std::time_t t = 1'764'645'300;  // 2025-12-02T03:15:00Z
  CHECK(snapshot_id_at(t) == "2025-12-02T03-15-00Z");
  CHECK(snapshot_id_time(snapshot_id_at(t)) == t);
  CHECK(snapshot_id_time("2025-12-02T03-15-00Z-3") == t);
  CHECK(is_snapshot_id("2025-12-02T03-15-00Z"));
  CHECK(is_snapshot_id("2025-12-02T03-15-00Z-12"));
  for (const char* not_id : {"latest", "", "2025-12-02T03-15-00", "2025-12-02T03:15:00Z", "2025-12-02T03-15-00Z-",
                             "2025-12-02T03-15-00Z-0", "2025-12-02T03-15-00Z-1x", "2025-12-02T03-15-00Z/..",
                             "../2025-12-02T03-15", "2025-1a-02T03-15-00Z"}) {
    CAPTURE(not_id);
    CHECK_FALSE(is_snapshot_id(not_id));
    CHECK(snapshot_id_time(not_id) == -1);
  }
}

TEST_CASE("snapshots are listed oldest first, a second in one second sorting after the first") {
  Store store;
  for (const char* id : {"2026-12-02T03-15-00Z-10", "2026-12-02T03-15-00Z", "2026-12-01T23-00-00Z",
                         "2026-12-02T03-15-00Z-2"}) {
    store.snapshot(id);
  }
  fs::create_directory(store.dir / "not-a-snapshot");
  ::symlinkat("/etc", store.fd, "2026-12-09T00-00-00Z");  // a link with an ID's name is not a snapshot
  CHECK(list_snapshots(store.fd) == std::vector<std::string>{"2026-12-01T23-00-00Z", "2026-12-02T03-15-00Z",
                                                             "2026-12-02T03-15-00Z-2", "2026-12-02T03-15-00Z-10"});
  CHECK(unused_snapshot_id(store.fd, snapshot_id_time("2026-12-02T03-15-00Z")) == "2026-12-02T03-15-00Z-1");
  CHECK(unused_snapshot_id(store.fd, snapshot_id_time("2026-12-03T00-00-00Z")) == "2026-12-03T00-00-00Z");
}

TEST_CASE("a restore's snapshot: latest, an ID, the newest at or before a time, and clear refusals") {
  Store store;
  std::string problem, warning;
  CHECK(store.resolve("", &problem) == "");
  CHECK(problem == "it holds no snapshot yet");
  store.snapshot("2026-12-01T03-00-00Z");
  store.snapshot("2026-12-02T03-00-00Z");
  store.snapshot("2026-12-03T03-00-00Z");
  ::symlinkat("2026-12-02T03-00-00Z", store.fd, "latest");
  CHECK(store.resolve("", &problem, &warning) == "2026-12-02T03-00-00Z");  // what latest names
  CHECK(warning.empty());
  CHECK(store.resolve("2026-12-01T03-00-00Z", &problem) == "2026-12-01T03-00-00Z");
  CHECK(store.resolve("<=2026-12-02T12-00-00Z", &problem) == "2026-12-02T03-00-00Z");
  CHECK(store.resolve("<=2026-12-02T03-00-00Z", &problem) == "2026-12-02T03-00-00Z");
  CHECK(store.resolve("<=2026-11-30T00-00-00Z", &problem) == "");
  CHECK(problem == "no snapshot is that old; the oldest is 2026-12-01T03-00-00Z");
  CHECK(store.resolve("2026-12-02T04-00-00Z", &problem) == "");
  CHECK(problem.find("no snapshot \"2026-12-02T04-00-00Z\"; the nearest are") != std::string::npos);
  CHECK(problem.find("2026-12-02T03-00-00Z") != std::string::npos);
  CHECK(store.resolve("../../etc", &problem) == "");
  CHECK_FALSE(problem.empty());

  SUBCASE("a latest link that leads outside the store is not followed") {
    ::unlinkat(store.fd, "latest", 0);
    ::symlinkat("/etc", store.fd, "latest");
    CHECK(store.resolve("latest", &problem, &warning) == "2026-12-03T03-00-00Z");
    CHECK(problem.empty());
    CHECK(warning == "its \"latest\" link points to \"/etc\", which is not one of its snapshots; using the newest "
                     "snapshot, 2026-12-03T03-00-00Z");
  }
  SUBCASE("a missing latest link") {
    ::unlinkat(store.fd, "latest", 0);
    CHECK(store.resolve("", &problem, &warning) == "2026-12-03T03-00-00Z");
    CHECK(warning.find("missing") != std::string::npos);
  }
}

TEST_CASE("publishing names the built tree and points latest at it") {
  Store store;
  fs::create_directories(store.dir / ".ferry-state/building/d");
  int state = ::openat(store.fd, ".ferry-state", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(state >= 0);
  CHECK(publish_snapshot(store.fd, state, "2026-12-02T03-00-00Z", true) == "");
  CHECK(fs::is_directory(store.dir / "2026-12-02T03-00-00Z/d"));
  CHECK_FALSE(fs::exists(store.dir / ".ferry-state/building"));
  CHECK(fs::read_symlink(store.dir / "latest") == "2026-12-02T03-00-00Z");
  // A second publish with nothing built fails and leaves latest as it was.
  CHECK(publish_snapshot(store.fd, state, "2026-12-03T03-00-00Z", true) != "");
  CHECK(fs::read_symlink(store.dir / "latest") == "2026-12-02T03-00-00Z");
  ::close(state);
}

TEST_CASE("a destination's kind: recorded, or a mirror if it holds anything, or new") {
  Store store;
  CHECK(store_kind_of(store.fd) == StoreKind::kNone);
  fs::create_directory(store.dir / ".ferry-state");
  CHECK(store_kind_of(store.fd) == StoreKind::kNone);  // Ferry's own folder alone
  int state = ::openat(store.fd, ".ferry-state", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  CHECK(record_store_kind(state, StoreKind::kSnapshots) == 0);
  store.snapshot("2026-12-02T03-00-00Z");
  CHECK(store_kind_of(store.fd) == StoreKind::kSnapshots);
  CHECK(record_store_kind(state, StoreKind::kMirror) == 0);
  CHECK(store_kind_of(store.fd) == StoreKind::kMirror);
  ::unlinkat(state, "kind", 0);
  CHECK(store_kind_of(store.fd) == StoreKind::kMirror);  // it holds something: an older Ferry's mirror
  ::close(state);
}

TEST_CASE("--at takes IDs, dates, date-times and ages") {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  std::string error;
  std::time_t now = snapshot_id_time("2026-12-05T12-00-00Z");
  CHECK(snapshot_at_from_text("latest", now, &error) == "latest");
  CHECK(snapshot_at_from_text("2026-12-02T03-15-00Z-2", now, &error) == "2026-12-02T03-15-00Z-2");
  CHECK(snapshot_at_from_text("2026-11-30", now, &error) == "<=2026-11-30T23-59-59Z");
  CHECK(snapshot_at_from_text("2026-11-30 14:05", now, &error) == "<=2026-11-30T14-05-00Z");
  CHECK(snapshot_at_from_text("2026-11-30 14:05:09", now, &error) == "<=2026-11-30T14-05-09Z");
  CHECK(snapshot_at_from_text("2 days ago", now, &error) == "<=2026-12-03T12-00-00Z");
  CHECK(snapshot_at_from_text("1 hour ago", now, &error) == "<=2026-12-05T11-00-00Z");
  CHECK(snapshot_at_from_text("3 weeks ago", now, &error) == "<=2026-11-14T12-00-00Z");
  CHECK(error.empty());
  for (const char* bad : {"yesterday", "2026-02-30", "2026-11-30 25:00", "2 fortnights ago", "2 days", "-1 days ago",
                          "2026-11-30x", "2026-11-30 14:05 extra", ""}) {
    CAPTURE(bad);
    CHECK(snapshot_at_from_text(bad, now, &error) == "");
    CHECK(error.find("is not a snapshot or a time") != std::string::npos);
  }
  ::unsetenv("TZ");
  ::tzset();
}

TEST_CASE("forget and readers keep each other out of a store") {
  Store store;
  fs::create_directory(store.dir / ".ferry-state");
  UniqueFd state(::openat(store.fd, ".ferry-state", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::string problem;
  {
    UniqueFd reading = lock_store_for_reading(store.fd, &problem);
    REQUIRE(reading.valid());
    UniqueFd second_reader = lock_store_for_reading(store.fd, &problem);
    CHECK(second_reader.valid());  // readers share
    UniqueFd removing = lock_store_for_removal(state.get(), &problem);
    CHECK_FALSE(removing.valid());
    CHECK(problem == "a restore or a listing is reading from it right now; run forget again when it has finished");
  }
  UniqueFd removing = lock_store_for_removal(state.get(), &problem);
  REQUIRE(removing.valid());
  CHECK(problem.empty());
  UniqueFd reading = lock_store_for_reading(store.fd, &problem);
  CHECK_FALSE(reading.valid());
  CHECK(problem.find("`ferry forget` is removing snapshots") != std::string::npos);
}
