// A file system mounted for the length of a test (root only), unmounted at the end: a tmpfs
// of a given size, or an image file on a loop device made by its own mkfs.
#pragma once

#include <filesystem>
#include <string>

#include "support/run.h"

namespace ferry::test {

class MountedDisk {
 public:
  // Creates `path` and runs `mount`, a shell command that mounts a file system there.
  MountedDisk(const std::string& path, const std::string& mount) : path_(path) {
    std::filesystem::create_directories(path);
    mounted_ = run(mount).code == 0;
  }
  ~MountedDisk() {
    if (mounted_) run("umount " + quote(path_));
  }
  MountedDisk(const MountedDisk&) = delete;
  MountedDisk& operator=(const MountedDisk&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& path() const { return path_; }

  static std::string tmpfs(const std::string& path, int mib) {
    return "mount -t tmpfs -o size=" + std::to_string(mib) + "m ferry-test " + quote(path);
  }
  // An image of `mib` MiB made by `mkfs` (a command taking the image as its last argument),
  // mounted through a loop device with `options`.
  static std::string image(const std::string& image, int mib, const std::string& mkfs, const std::string& path,
                           const std::string& options) {
    return "truncate -s " + std::to_string(mib) + "M " + quote(image) + " && " + mkfs + " " + quote(image) +
           " && mount -o loop," + options + " " + quote(image) + " " + quote(path);
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

}  // namespace ferry::test
