// The receiver driven by the input as its frame stream (what follows the sender's magic and
// the handshake), writing into a fresh folder that already holds a file and a folder, so
// entries can replace, update and delta against them. The receiver's answers are discarded.
// Whatever the frames say, it must end with a FatalError (or finish) and leave nothing beside
// the folder (an escape one level up is caught here; confinement has its own unit tests); the
// sanitizers watch the rest.
#include "engine/receiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "base/error.h"
#include "engine/framing.h"
#include "fs/unique_fd.h"
#include "fuzz_input.h"

using namespace ferry;

namespace {

// The input as a Channel; what is written to it is dropped.
class MemoryChannel : public Channel {
 public:
  explicit MemoryChannel(std::string_view in) : Channel("fuzzed sender"), in_(in) {}
  void close_write() override {}

 protected:
  size_t read_available(void* buf, size_t len) override {
    size_t n = std::min(len, in_.size());
    std::memcpy(buf, in_.data(), n);
    in_.remove_prefix(n);
    return n;
  }
  size_t write_available(const iovec* iov, int count) override {
    size_t n = 0;
    for (int i = 0; i < count; ++i) n += iov[i].iov_len;
    return n;
  }

 private:
  std::string_view in_;
};

class QuietReporter : public Reporter {
 public:
  void report(wire::MessageLevel, const std::string&) override {}
  void from_peer(wire::MessageLevel, const std::string&) override {}
};

// Entries may have left folders without search permission: open them up on the way down.
void remove_tree(const std::filesystem::path& dir) {
  ::chmod(dir.c_str(), 0700);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_directory(ec) && !e.is_symlink(ec)) remove_tree(e.path());
  }
  std::filesystem::remove_all(dir, ec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string parent = (std::filesystem::temp_directory_path() / "ferry-fuzz-receiver-XXXXXX").string();
  if (::mkdtemp(parent.data()) == nullptr) std::abort();
  const std::string dest = parent + "/dest";
  if (::mkdir(dest.c_str(), 0755) != 0) std::abort();
  {
    // A basis to delta against ("a": 3000 bytes, mtime 1600000000) and a folder to replace.
    std::string basis(3000, 'x');
    UniqueFd f(::open((dest + "/a").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644));
    if (!f.valid() || ::write(f.get(), basis.data(), basis.size()) != static_cast<ssize_t>(basis.size()))
      std::abort();
    timespec times[2] = {{1600000000, 0}, {1600000000, 0}};
    ::futimens(f.get(), times);
    ::mkdir((dest + "/d").c_str(), 0755);
  }
  {
    MemoryChannel channel(std::string_view(reinterpret_cast<const char*>(data), size));
    FrameReader in(channel);
    FrameWriter out(channel);
    QuietReporter reporter;
    TransferStats stats;
    ReceiverOptions options;
    options.flush_to_disk = false;  // nothing here needs to survive a power cut
    ConfinedRoot root(UniqueFd(::open(dest.c_str(), O_RDONLY | O_DIRECTORY)), dest);
    try {
      Receiver(in, out, reporter, stats, options).run(root);
    } catch (const FatalError& e) {
      if (std::getenv("FERRY_FUZZ_VERBOSE")) std::fprintf(stderr, "receiver: %s\n", e.what());
    }
  }
  for (const auto& e : std::filesystem::directory_iterator(parent)) {
    if (e.path().filename() != "dest") fuzz::property_failed();
  }
  remove_tree(parent);
  return 0;
}
