// tasks.toml as people write it by hand and as `ferry task add` writes it: the order of the keys,
// what is checked when, and removing a task without touching anything else in the file.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "client/task_config.h"
#include "client/task_file_edit.h"
#include "support/temp_dir.h"

using namespace ferry;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The message of the usage error `load` throws; "" when it throws none.
template <typename F>
std::string usage_error(F load) {
  try {
    load();
  } catch (const FatalError& e) {
    CHECK(e.code() == ExitCode::kUsage);
    return e.what();
  }
  return "";
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

// Runs the test from `dir`, as a user typing `ferry task add` there, and goes back after.
struct InFolder {
  explicit InFolder(const std::string& dir) : saved(fs::current_path()) { fs::current_path(dir); }
  ~InFolder() { fs::current_path(saved); }
  fs::path saved;
};

}  // namespace

TEST_CASE("a task's options keep the order its file gives them, and only one pattern list is allowed") {
  ferry::test::TempDir dir;
  std::ofstream(dir / "ex.txt") << "+ keep.tmp\n";
  std::string ex = dir / "ex.txt";
  // exclude_from before the filter: its "+ keep.tmp" comes first and wins; after it, it loses.
  std::vector<Task> tasks = load_tasks_text(
      "[tasks.first]\nsource = \"/s\"\ndestination = \"/d\"\nexclude_from = \"" + ex +
          "\"\nfilter = [\"- *.tmp\", \"+ a\"]\n"
          "[tasks.after]\nsource = \"/s\"\ndestination = \"/d\"\nfilter = [\"- *.tmp\"]\nexclude_from = \"" + ex + "\"\n",
      "tasks.toml");
  REQUIRE(tasks.size() == 2);
  CHECK(joined(tasks[0].backup_args) == "--exclude-from=" + ex + " --exclude=*.tmp --include=a");
  CHECK(joined(tasks[1].backup_args) == "--exclude=*.tmp --exclude-from=" + ex);

  for (const char* pair : {"include = [\"a\"]\nexclude = [\"b\"]\n", "exclude = [\"b\"]\nfilter = [\"+ a\"]\n",
                           "include = [\"a\"]\nfilter = [\"- b\"]\n"}) {
    std::string error = usage_error([&] {
      load_tasks_text(std::string("[tasks.mixed]\nsource = \"/s\"\ndestination = \"/d\"\n") + pair, "tasks.toml");
    });
    CHECK_MESSAGE(error.find("tasks.toml:1:1: task mixed has more than one of include, exclude and filter") == 0, error);
  }
}

TEST_CASE("a task's missing exclude_from file fails its run, not the loading of every task; schedules are checked") {
  std::vector<Task> tasks = load_tasks_text(
      "[tasks.a]\nsource = \"/s\"\ndestination = \"/d\"\nexclude_from = \"/nonexistent/ex.txt\"\n", "tasks.toml");
  REQUIRE(tasks.size() == 1);
  CHECK(joined(tasks[0].backup_args) == "--exclude-from=/nonexistent/ex.txt");

  std::string error = usage_error([] {
    load_tasks_text("[tasks.a]\nsource = \"/s\"\ndestination = \"/d\"\nschedule = \"daily 24:00\"\n", "tasks.toml");
  });
  CHECK_MESSAGE(error.find("tasks.toml:4:12: task a: schedule \"daily 24:00\"") == 0, error);
  error = usage_error([] {
    load_tasks_text("[tasks.a]\nsource = \"/s\"\ndestination = \"/d\"\nschedule = \"daily\\n[x]\"\n", "tasks.toml");
  });
  CHECK_MESSAGE(error.find("tasks.toml:4:12: task a: schedule") == 0, error);
  // Names that one Mac volume would take for the same.
  error = usage_error([] {
    load_tasks_text("[tasks.Docs]\nsource = \"/s\"\ndestination = \"/d\"\n[tasks.docs]\nsource = \"/s\"\ndestination = \"/e\"\n",
                    "tasks.toml");
  });
  CHECK_MESSAGE(error.find("task docs differs from task Docs (line 1) only in case") != std::string::npos, error);
  error = usage_error([] { load_tasks_text("[tasks.-x]\nsource = \"/s\"\ndestination = \"/d\"\n", "tasks.toml"); });
  CHECK_MESSAGE(error.find("task name \"-x\": a letter or digit") != std::string::npos, error);
}

TEST_CASE("task add writes local paths absolute, numbers only where an option takes one, and the command line's order") {
  ferry::test::TempDir dir;
  InFolder here(dir.path());
  fs::create_directory("src");
  std::ofstream("ex.txt") << "*.o\n";
  std::string real = fs::current_path().string();
  std::string text = task_table_text(
      "nightly",
      {"src", "host:/dest", "--port", "022", "--keep-daily", "7", "--compress-level=-3", "--snapshot",
       "--exclude", "*.o", "--include", "keep", "--exclude-from", "ex.txt", "--checksum=false", "--bwlimit", "100"},
      "daily 02:30", "", "");
  std::vector<Task> tasks = load_tasks_text(text, "tasks.toml");
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].source == real + "/src");
  CHECK(tasks[0].destination == "host:/dest");  // a remote path stays as it was
  CHECK(text.find("port = '022'") != std::string::npos);  // as typed, never read as octal or as 22
  CHECK(text.find("keep_daily = 7\n") != std::string::npos);
  CHECK(text.find("compress_level = -3\n") != std::string::npos);
  CHECK(text.find("bwlimit = '100'") != std::string::npos);  // a rate, even when it looks like a number
  CHECK(text.find("checksum") == std::string::npos);
  CHECK(joined(tasks[0].backup_args) == "--port=022 --keep-daily=7 --compress-level=-3 --snapshot --exclude=*.o "
                                        "--include=keep --exclude-from=" + real + "/ex.txt --bwlimit=100");

  // Patterns around a pattern file cannot keep their order in two keys: refused.
  std::string error = usage_error([&] {
    task_table_text("x", {"src", "/d", "--exclude", "a", "--exclude-from", "ex.txt", "--exclude", "b"}, "", "", "");
  });
  CHECK_MESSAGE(error.find("--exclude-from between --include/--exclude options") != std::string::npos, error);
  error = usage_error([&] { task_table_text("x", {"src", "/d"}, "daily 7pm", "", ""); });
  CHECK_MESSAGE(error.find("--schedule: schedule \"daily 7pm\"") == 0, error);
}

TEST_CASE("task remove takes out exactly the task's lines: multi-line values, banners and trailing comments stay right") {
  ferry::test::TempDir dir;
  std::string path = dir / "tasks.toml";
  const std::string head = "\xEF\xBB\xBF# My tasks\n\n";
  const std::string first = "[tasks.first]\nsource = \"/s\"\ndestination = \"/d\"\non_failure = \"\"\"\nmail -s x me\n[not.a.table]\n\"\"\"\n";
  const std::string second = "\n# about second\n[tasks.second]\nsource = \"/s\"\ndestination = \"/e\"\n# the end\n";
  std::ofstream(path) << head + first + second;
  // The real file lives elsewhere (a dotfiles repository); the link stays a link.
  std::string real = dir / "real-tasks.toml";
  fs::rename(path, real);
  fs::create_symlink(real, path);

  remove_task(path, "first");
  CHECK(fs::is_symlink(path));
  CHECK(slurp(real) == "\xEF\xBB\xBF# My tasks\n\n# about second\n[tasks.second]\nsource = \"/s\"\ndestination = \"/e\"\n# the end\n");
  remove_task(path, "second");  // comments outside a table's lines are never taken with it
  CHECK(slurp(real) == "\xEF\xBB\xBF# My tasks\n\n# about second\n# the end\n");
  CHECK_FALSE(fs::exists(real + ".new"));

  // A table that would not parse is refused naming the file the user knows, not a temporary one.
  std::string error = usage_error([&] { append_task(path, "broken", "[tasks.broken]\nsource = \n"); });
  CHECK_MESSAGE(error.find(path + ":") == 0, error);
  CHECK(error.find(".new") == std::string::npos);
  CHECK(slurp(real) == "\xEF\xBB\xBF# My tasks\n\n# about second\n# the end\n");
}

TEST_CASE("task add refuses what tasks.toml cannot hold or would change: bytes that are not UTF-8, --flag=false kept") {
  ferry::test::TempDir dir;
  InFolder here(dir.path());
  fs::create_directory("src");
  std::string error = usage_error([&] { task_table_text("latin", {"src", "/backups/caf\xe9"}, "", "", ""); });
  CHECK_MESSAGE(error.find("is not UTF-8 text") != std::string::npos, error);
  error = usage_error([&] { task_table_text("latin", {"src", "/d"}, "", "echo \xff", ""); });
  CHECK_MESSAGE(error.find("is not UTF-8 text") != std::string::npos, error);
  // The last word wins, as on the command line.
  std::string text = task_table_text("x", {"src", "/d", "--delete", "--delete=false", "--checksum"}, "", "", "");
  CHECK(text.find("delete") == std::string::npos);
  CHECK(text.find("checksum = true") != std::string::npos);
  if (std::system("systemd-analyze --version >/dev/null 2>&1") == 0) {
    error = usage_error([&] { task_table_text("x", {"src", "/d"}, "dialy", "", ""); });
    CHECK_MESSAGE(error.find("systemd does not take it as a calendar expression") != std::string::npos, error);
    CHECK(task_table_text("x", {"src", "/d"}, "Mon..Fri 22:00", "", "").find("schedule = 'Mon..Fri 22:00'") !=
          std::string::npos);
  }
}

TEST_CASE("a tasks.toml that is a link to a file not made yet is written where the link points") {
  ferry::test::TempDir dir;
  fs::create_directory(dir / "dotfiles");
  fs::create_symlink("dotfiles/tasks.toml", dir / "tasks.toml");
  append_task(dir / "tasks.toml", "a", "[tasks.a]\nsource = \"/s\"\ndestination = \"/d\"\n");
  CHECK(fs::is_symlink(dir / "tasks.toml"));
  CHECK(slurp(dir / "dotfiles/tasks.toml") == "[tasks.a]\nsource = \"/s\"\ndestination = \"/d\"\n");
  // A name that differs only in case is refused at add, naming the one that exists.
  std::string error = usage_error([&] { append_task(dir / "tasks.toml", "A", "[tasks.A]\nsource = \"/s\"\ndestination = \"/d\"\n"); });
  CHECK_MESSAGE(error.find("task a already exists") != std::string::npos, error);
}
