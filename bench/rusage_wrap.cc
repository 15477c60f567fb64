// rusage_wrap: runs a command with this process's stdin, stdout and stderr, and records its
// resource use.
//
//   rusage_wrap OUT_FILE COMMAND [ARGS...]
//
// bench.py runs both tools' clients under it, and their remote sides too (ferry-agent via
// --agent, rsync via --rsync-path), so CPU time and peak RSS are measured the same way for
// each. A small native program on purpose: a child's peak RSS starts at its parent's size at
// fork time (Linux keeps the high-water mark across exec), so a Python wrapper would add tens
// of MiB to every figure. Appends "user_s sys_s maxrss_kib" to OUT_FILE; exits with the
// command's status.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: rusage_wrap OUT_FILE COMMAND [ARGS...]\n");
    return 2;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execvp(argv[2], argv + 2);
    std::perror(argv[2]);
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  if (pid < 0 || ::wait4(pid, &status, 0, &usage) < 0) return 1;
  if (FILE* f = std::fopen(argv[1], "a")) {
    std::fprintf(f, "%ld.%06ld %ld.%06ld %ld\n", static_cast<long>(usage.ru_utime.tv_sec),
                 static_cast<long>(usage.ru_utime.tv_usec), static_cast<long>(usage.ru_stime.tv_sec),
                 static_cast<long>(usage.ru_stime.tv_usec), usage.ru_maxrss);
    std::fclose(f);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
