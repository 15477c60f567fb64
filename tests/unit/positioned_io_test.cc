// The whole-span loops (base/positioned_io.h): a span comes back whole, a short write is carried
// on until it fails, and a failure is reported with its errno rather than as success.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>

#include "base/positioned_io.h"
#include "fs/unique_fd.h"
#include "support/temp_dir.h"

using namespace ferry;

TEST_CASE("pwrite_full and pread_full move a whole span at its offset, and stop at the end of the file") {
  test::TempDir tmp;
  UniqueFd fd(::open((tmp / "span").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  REQUIRE(fd.valid());
  std::string data(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + i / 4096);
  CHECK(pwrite_full(fd.get(), data.data(), data.size(), 5) == 0);

  std::string back(data.size(), '\0');
  CHECK(pread_full(fd.get(), back.data(), back.size(), 5) == static_cast<ssize_t>(data.size()));
  CHECK(back == data);
  // Asked for more than the file holds: what there is, no error.
  std::string tail(100, '\0');
  CHECK(pread_full(fd.get(), tail.data(), tail.size(), 5 + data.size() - 10) == 10);
  CHECK(tail.compare(0, 10, data, data.size() - 10, 10) == 0);
  CHECK(pread_full(fd.get(), tail.data(), tail.size(), 5 + data.size() + 1) == 0);
}

TEST_CASE("pwrite_full and pread_full report the errno of a refused call") {
  test::TempDir tmp;
  UniqueFd made(::open((tmp / "file").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  REQUIRE(made.valid());
  char byte = 'x';
  errno = 0;
  CHECK(pread_full(made.get(), &byte, 1, 0) == -1);
  CHECK(errno == EBADF);

  UniqueFd read_only(::open((tmp / "file").c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(read_only.valid());
  CHECK(pwrite_full(read_only.get(), &byte, 1, 0) == EBADF);

  UniqueFd full(::open("/dev/full", O_WRONLY | O_CLOEXEC));
  if (full.valid()) CHECK(pwrite_full(full.get(), &byte, 1, 0) == ENOSPC);
}

TEST_CASE("pwrite_full carries on after a short write and reports the failure that ends it") {
  // A file size limit makes the kernel write only up to the limit (a short write), then refuse
  // the rest with EFBIG: the loop must write the first part and return EFBIG, not success.
  test::TempDir tmp;
  UniqueFd fd(::open((tmp / "limited").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  REQUIRE(fd.valid());
  struct rlimit old {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  struct rlimit limited = old;
  limited.rlim_cur = 10000;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
  std::string data(64 * 1024, 'y');
  int err = pwrite_full(fd.get(), data.data(), data.size(), 0);
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  CHECK(err == EFBIG);
  struct stat st {};
  REQUIRE(::fstat(fd.get(), &st) == 0);
  CHECK(st.st_size == 10000);
}
