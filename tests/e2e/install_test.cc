// An installed Ferry: `cmake --install` and the Debian package carry both programs, their manual
// pages and the shell completion; the installed programs back up and restore by themselves; the
// pages and the completion describe the options the programs really have.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "e2e/e2e.h"
#include "support/tree_snapshot.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// What bash completes for `words` (the last one being completed), with the installed script.
std::string bash_completes(const std::string& script, const std::string& words) {
  RunResult r = run("bash -c " + quote("source " + quote(script) + "; COMP_WORDS=(" + words +
                                       "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _ferry_complete; "
                                       "echo \"${COMPREPLY[*]}\""));
  INFO(r.err);
  CHECK(r.code == 0);
  return r.out;
}

}  // namespace

TEST_CASE("cmake --install puts both programs, their manual pages and completion in place, and they work") {
  TempDir work;
  std::string prefix = work / "usr";
  RunResult installed = run("cmake --install " + quote(FERRY_BUILD_DIR) + " --prefix " + quote(prefix));
  INFO(installed.out << installed.err);
  REQUIRE(installed.code == 0);
  for (const char* file : {"bin/ferry", "bin/ferry-agent", "share/man/man1/ferry.1", "share/man/man1/ferry-agent.1",
                           "share/bash-completion/completions/ferry", "share/zsh/vendor-completions/_ferry"}) {
    CHECK_MESSAGE(fs::exists(prefix + "/" + file), file);
  }

  // The installed ferry finds the installed agent beside it: a backup and a restore, whole.
  std::string src = work / "src", dest = work / "dest", back = work / "back";
  fs::create_directories(src + "/docs");
  std::ofstream(src + "/docs/a.txt") << "one";
  write_random(src + "/b.bin", 200 << 10, 3);
  std::string ferry = quote(prefix + "/bin/ferry");
  REQUIRE(run(ferry + " backup " + quote(src) + " " + quote(dest)).code == 0);
  RunResult restored = run(ferry + " restore " + quote(dest) + " " + quote(back));
  INFO(restored.err);
  REQUIRE(restored.code == 0);
  CHECK(compare(snapshot(src), snapshot(back)) == "");

  // The pages render without a warning, and say what --help says.
  for (const char* page : {"ferry.1", "ferry-agent.1"}) {
    RunResult rendered = run("groff -man -Tutf8 -ww " + quote(prefix + "/share/man/man1/" + page));
    CHECK_MESSAGE(rendered.code == 0, page);
    CHECK_MESSAGE(rendered.err.empty(), rendered.err);
  }
  std::string manual = run("groff -man -Tascii -P-cbou " + quote(prefix + "/share/man/man1/ferry.1")).out;
  for (const char* part : {"ferry backup [OPTIONS] SRC DEST", "ferry task add", "--exclude-from", "--keep-daily",
                           "EXIT STATUS", "FERRY_HOME"}) {
    CHECK_MESSAGE(has(manual, part), part);
  }
  CHECK_FALSE(has(manual, "ferry docs"));  // the hidden commands stay hidden
  CHECK(has(run("groff -man -Tascii -P-cbou " + quote(prefix + "/share/man/man1/ferry-agent.1")).out,
            "install-credentials"));

  std::string completion = prefix + "/share/bash-completion/completions/ferry";
  CHECK(bash_completes(completion, "ferry ba") == "backup\n");
  CHECK(bash_completes(completion, "ferry task r") == "remove run\n");
  CHECK(bash_completes(completion, "ferry backup -v --exclude-f") == "--exclude-from\n");
  CHECK(bash_completes(completion, "ferry restore --a") == "--accept-new-host-key --agent --at\n");
  CHECK(run("zsh -n " + quote(prefix + "/share/zsh/vendor-completions/_ferry")).code == 0);
}

TEST_CASE("cpack makes a Debian package with the programs, the pages and the completion, and its dependencies") {
  TempDir work;
  RunResult packed = run("cpack --config " + quote(std::string(FERRY_BUILD_DIR) + "/CPackConfig.cmake") +
                         " -G DEB -B " + quote(work.path()));
  INFO(packed.out << packed.err);
  REQUIRE(packed.code == 0);
  std::string deb;
  for (const auto& entry : fs::directory_iterator(work.path())) {
    if (entry.path().extension() == ".deb") deb = entry.path();
  }
  REQUIRE_FALSE(deb.empty());
  std::string contents = run("dpkg-deb -c " + quote(deb)).out;
  for (const char* file : {"./usr/bin/ferry", "./usr/bin/ferry-agent", "./usr/share/man/man1/ferry.1",
                           "./usr/share/bash-completion/completions/ferry"}) {
    CHECK_MESSAGE(has(contents, file), file);
  }
  std::string control = run("dpkg-deb -f " + quote(deb) + " Package Depends").out;
  CHECK(has(control, "Package: ferry"));
  CHECK(has(control, "libssh-4"));  // found by dpkg-shlibdeps, not written by hand
}

TEST_CASE("the scripts configure a build folder made with another generator as it is, and a new one with Ninja") {
  TempDir work;
  std::string makefiles = work / "makefiles", fresh = work / "fresh";
  std::string source = quote(FERRY_SOURCE_DIR);
  REQUIRE(run("cmake -S " + source + " -B " + quote(makefiles) + " -G 'Unix Makefiles' -DBUILD_TESTING=OFF >/dev/null")
              .code == 0);
  // What test.sh and demo.sh did before: -G Ninja on it, which CMake refuses.
  CHECK(run("cmake -S " + source + " -B " + quote(makefiles) + " -G Ninja").code != 0);
  RunResult kept = run("cd " + source + " && deploy/configure.sh " + quote(makefiles) + " -DBUILD_TESTING=OFF");
  INFO(kept.err);
  CHECK(kept.code == 0);
  CHECK(slurp(makefiles + "/CMakeCache.txt").find("CMAKE_GENERATOR:INTERNAL=Unix Makefiles") != std::string::npos);
  REQUIRE(run("cd " + source + " && deploy/configure.sh " + quote(fresh) + " -DBUILD_TESTING=OFF").code == 0);
  CHECK(slurp(fresh + "/CMakeCache.txt").find("CMAKE_GENERATOR:INTERNAL=Ninja") != std::string::npos);
}

TEST_CASE("bootstrap.sh through sudo keeps apt from starting services while it installs, and tidies up") {
  // A user who is not root, one package missing, apt-get and sudo stand-ins that record what
  // they were asked: nothing is installed for real.
  TempDir work;
  std::string bin = work / "bin", policy = work / "policy-rc.d", log = work / "log";
  fs::create_directories(bin);
  auto script = [&](const std::string& name, const std::string& body) {
    std::ofstream(bin + "/" + name) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(bin + "/" + name, fs::perms::owner_all);
  };
  script("id", "echo 1000");
  script("sudo", "echo \"sudo $*\" >> " + quote(log) + "; exec \"$@\"");
  script("dpkg-query", "case \"$2\" in *Status*) [ \"$3\" = zsh ] && exit 1; echo 'install ok installed';; esac");
  script("apt-get", "if [ \"$1\" = install ] || [ \"$2\" = install ] || [ \"$3\" = install ]; then "
                    "if [ -x " + quote(policy) + " ]; then echo guarded >> " + quote(log) + "; "
                    "else echo unguarded >> " + quote(log) + "; fi; fi");
  RunResult r = run("PATH=" + quote(bin) + ":$PATH FERRY_POLICY_RC_D=" + quote(policy) + " " +
                    quote(std::string(FERRY_SOURCE_DIR) + "/deploy/bootstrap.sh"));
  INFO(r.out << r.err << slurp(log));
  CHECK(r.code == 0);
  CHECK(r.out.find("installing zsh") != std::string::npos);
  std::string said = slurp(log);
  CHECK(said.find("sudo apt-get install") != std::string::npos);  // installed through sudo
  CHECK(said.find("guarded") != std::string::npos);                 // with services held back
  CHECK(said.find("unguarded") == std::string::npos);
  CHECK_FALSE(fs::exists(policy));  // and the guard taken away after
}
