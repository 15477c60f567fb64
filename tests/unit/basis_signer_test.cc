// The receiver's signing thread: what it sends, and that it stops with the session.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>

#include "engine/basis_signer.h"
#include "fs/unique_fd.h"
#include "support/temp_dir.h"
#include "transport/fd_channel.h"

using namespace ferry;

namespace {

// Bytes waiting on a socket, without blocking.
size_t pending_bytes(int fd) {
  size_t total = 0;
  char buf[65536];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) return total;
    total += static_cast<size_t>(n);
  }
}

// A sparse basis of `size` bytes (free on disk) and a frame writer whose output we can read.
struct Scene {
  explicit Scene(off_t size) {
    REQUIRE(paired);
    UniqueFd fd(::open(basis.c_str(), O_WRONLY | O_CREAT, 0600));
    REQUIRE(::ftruncate(fd.get(), size) == 0);
  }
  // Queues the basis for signing as entry `index`.
  void sign(BasisSigner& signer, uint64_t index) {
    UniqueFd fd(::open(basis.c_str(), O_RDONLY));
    struct stat st {};
    REQUIRE(::fstat(fd.get(), &st) == 0);
    signer.sign(index, std::move(fd), st);
  }
  // Queues /dev/zero as a basis of `size` bytes: one the signer must read all of, where a sparse
  // file's holes would be signed without reading them.
  void sign_zeros(BasisSigner& signer, uint64_t index, off_t size) {
    UniqueFd fd(::open("/dev/zero", O_RDONLY));
    REQUIRE(fd.valid());
    struct stat st {};
    REQUIRE(::fstat(fd.get(), &st) == 0);
    st.st_size = size;
    signer.sign(index, std::move(fd), st);
  }

  test::TempDir dir;
  std::string basis = dir / "basis";
  int sv[2] = {-1, -1};
  bool paired = ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0;
  UniqueFd ours{sv[0]}, theirs{sv[1]};
  FdChannel channel{sv[1], sv[1], "test"};
  FrameWriter out{channel};
  std::mutex wire_order;
};

}  // namespace

TEST_CASE("a signer being read a large basis stops when the session ends, and sends nothing more") {
  Scene scene(0);
  {
    BasisSigner signer(scene.out, scene.wire_order);
    scene.sign_zeros(signer, 0, off_t{8} << 30);  // 8 GiB: reading and signing it all takes seconds
    ::usleep(50'000);  // let it start reading
  }  // the session ends: the destructor must not wait for the whole basis
  scene.out.flush();
  // Neither the Want nor any of the basis's 65,536 signature blocks went out.
  CHECK(pending_bytes(scene.ours.get()) == 0);
}

TEST_CASE("a signer signs a basis it can read and sends its Want with the shape") {
  Scene scene(1 << 20);
  BasisSigner signer(scene.out, scene.wire_order);
  scene.sign(signer, 3);
  std::optional<BasisShape> shape = signer.take(3);
  REQUIRE(shape.has_value());
  CHECK(shape->size == (1u << 20));
  scene.out.flush();
  CHECK(pending_bytes(scene.ours.get()) > 0);  // the Want and its blocks
}
