#include "support/tree_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace ferry::test {
namespace {

std::string sha256_of(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW);
  if (fd < 0) throw std::runtime_error("snapshot: cannot open " + path);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(n));
  ::close(fd);
  unsigned char md[32];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

std::map<std::string, std::string> xattrs_of(const std::string& path) {
  std::map<std::string, std::string> out;
  char names[65536];
  ssize_t n = ::llistxattr(path.c_str(), names, sizeof(names));
  for (ssize_t i = 0; i < n;) {
    std::string name(names + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    // The user namespace, and POSIX ACLs in the kernel's own binary form (compared as bytes,
    // so a mistake in Ferry's text form shows).
    if (name.rfind("user.", 0) != 0 && name != "system.posix_acl_access" && name != "system.posix_acl_default") {
      continue;
    }
    std::string value(65536, '\0');
    ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    value.resize(v > 0 ? static_cast<size_t>(v) : 0);
    out[name] = value;
  }
  return out;
}

unsigned inode_flags_of(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 0;
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) flags = 0;
  ::close(fd);
  return static_cast<unsigned>(flags) & (FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL);
}

struct Walker {
  std::string root;
  Snapshot nodes;
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> inodes;

  void visit(const std::string& rel) {
    std::string full = rel.empty() ? root : root + "/" + rel;
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) throw std::runtime_error("snapshot: cannot lstat " + full);
    NodeInfo n;
    n.mode = st.st_mode & 07777;
    n.uid = st.st_uid;
    n.gid = st.st_gid;
    n.mtime_sec = st.st_mtim.tv_sec;
    n.mtime_nsec = st.st_mtim.tv_nsec;
    switch (st.st_mode & S_IFMT) {
      case S_IFREG:
        n.type = 'f';
        n.size = st.st_size;
        n.sha256 = sha256_of(full);
        if (st.st_nlink > 1) inodes[{st.st_dev, st.st_ino}].push_back(rel);
        break;
      case S_IFDIR: n.type = 'd'; break;
      case S_IFLNK: {
        n.type = 'l';
        n.mode = 0;  // meaningless on Linux
        std::string target(4096, '\0');
        ssize_t len = ::readlink(full.c_str(), target.data(), target.size());
        target.resize(len > 0 ? static_cast<size_t>(len) : 0);
        n.link_target = target;
        break;
      }
      case S_IFIFO: n.type = 'p'; break;
      case S_IFCHR: n.type = 'c'; n.rdev = st.st_rdev; break;
      case S_IFBLK: n.type = 'b'; n.rdev = st.st_rdev; break;
      default: n.type = 's';
    }
    if (n.type != 'l') n.xattrs = xattrs_of(full);
    if (n.type == 'f' || n.type == 'd') n.flags = inode_flags_of(full);
    nodes[rel] = n;
    if (n.type != 'd') return;
    DIR* d = ::opendir(full.c_str());
    if (d == nullptr) throw std::runtime_error("snapshot: cannot list " + full);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (rel.empty() && (name == ".ferry-state" || name == ".ferry-safetynet")) continue;
      names.push_back(name);
    }
    ::closedir(d);
    for (const std::string& name : names) visit(rel.empty() ? name : rel + "/" + name);
  }
};

std::string show(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out.empty() ? "(root)" : out;
}

}  // namespace

Snapshot snapshot(const std::string& root) {
  Walker w;
  w.root = root;
  w.visit("");
  for (auto& [inode, paths] : w.inodes) {
    if (paths.size() < 2) continue;
    std::sort(paths.begin(), paths.end());
    for (const std::string& p : paths) w.nodes[p].hardlink_group = paths.front();
  }
  return w.nodes;
}

std::string compare(const Snapshot& expected, const Snapshot& actual) {
  std::ostringstream diff;
  for (const auto& [path, e] : expected) {
    auto it = actual.find(path);
    if (it == actual.end()) {
      diff << "missing: " << show(path) << "\n";
      continue;
    }
    const NodeInfo& a = it->second;
    auto field = [&](const char* name, auto want, auto got) {
      if (!(want == got)) diff << show(path) << ": " << name << " " << want << " != " << got << "\n";
    };
    field("type", e.type, a.type);
    field("mode", e.mode, a.mode);
    field("uid", e.uid, a.uid);
    field("gid", e.gid, a.gid);
    field("mtime_sec", e.mtime_sec, a.mtime_sec);
    field("mtime_nsec", e.mtime_nsec, a.mtime_nsec);
    field("size", e.size, a.size);
    field("sha256", e.sha256, a.sha256);
    field("link_target", e.link_target, a.link_target);
    field("hardlink_group", show(e.hardlink_group), show(a.hardlink_group));
    field("rdev", e.rdev, a.rdev);
    field("flags", e.flags, a.flags);
    if (e.xattrs != a.xattrs) diff << show(path) << ": xattrs differ\n";
  }
  for (const auto& [path, a] : actual) {
    if (expected.count(path) == 0) diff << "unexpected: " << show(path) << "\n";
  }
  return diff.str();
}

}  // namespace ferry::test
