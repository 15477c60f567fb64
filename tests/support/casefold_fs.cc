// A case-insensitive file system for the tests, as APFS behaves by default: names keep the case
// and form they were created with, and a lookup finds a name that differs only by letter case
// or Unicode normalization. It passes every call through to a backing folder, where the names
// can be read exactly as stored.
//
// The Linux kernel on the test machines has neither ext4's casefold nor XFS's ascii-ci, so this
// is how the tests get a destination that folds names. Folding here is utf8proc's (NFD + case
// fold), written independently of Ferry's own fs/name_folding.
//
//   casefold_fs BACKING MOUNTPOINT [fuse options]   (the tests run it with -f, and stop it by pid)
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <fcntl.h>
#include <fuse.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utf8proc.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::string g_backing;

std::string folded(const std::string& name) {
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(name.data()),
                                    static_cast<utf8proc_ssize_t>(name.size()), &out,
                                    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                                                   UTF8PROC_CASEFOLD));
  std::string key = n >= 0 ? std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n)) : name;
  std::free(out);
  return key;
}

// The backing path of a path under the mount: each component is the stored name that folds to
// it, or (a new name) the component as given.
std::string real(const char* path) {
  std::string out = g_backing;
  const char* p = path;
  while (*p != '\0') {
    while (*p == '/') ++p;
    const char* end = std::strchr(p, '/');
    std::string part = end ? std::string(p, static_cast<size_t>(end - p)) : std::string(p);
    p = end ? end : p + part.size();
    if (part.empty()) break;
    struct stat st {};
    std::string exact = out + "/" + part;
    if (::lstat(exact.c_str(), &st) == 0) {
      out = exact;
      continue;
    }
    std::string key = folded(part);
    std::string found;
    if (DIR* dir = ::opendir(out.c_str())) {
      while (struct dirent* e = ::readdir(dir)) {
        if (folded(e->d_name) == key) {
          found = e->d_name;
          break;
        }
      }
      ::closedir(dir);
    }
    out += "/" + (found.empty() ? part : found);
  }
  return out;
}

int result(int rc) { return rc < 0 ? -errno : rc; }

void* cf_init(fuse_conn_info*, fuse_config* cfg) {
  cfg->use_ino = 1;  // the backing inode numbers: hard links and probes compare them
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  return nullptr;
}

int cf_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  if (fi != nullptr) return result(::fstat(static_cast<int>(fi->fh), st));
  return result(::lstat(real(path).c_str(), st));
}

int cf_readlink(const char* path, char* buf, size_t size) {
  ssize_t n = ::readlink(real(path).c_str(), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

int cf_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*, fuse_readdir_flags) {
  DIR* dir = ::opendir(real(path).c_str());
  if (dir == nullptr) return -errno;
  while (struct dirent* e = ::readdir(dir)) {
    struct stat st {};
    st.st_ino = e->d_ino;
    st.st_mode = static_cast<mode_t>(DTTOIF(e->d_type));
    if (fill(buf, e->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  ::closedir(dir);
  return 0;
}

int cf_mknod(const char* path, mode_t mode, dev_t rdev) {
  std::string r = real(path);
  if (S_ISFIFO(mode)) return result(::mkfifo(r.c_str(), mode));
  return result(::mknod(r.c_str(), mode, rdev));
}

int cf_mkdir(const char* path, mode_t mode) { return result(::mkdir(real(path).c_str(), mode)); }
int cf_unlink(const char* path) { return result(::unlink(real(path).c_str())); }
int cf_rmdir(const char* path) { return result(::rmdir(real(path).c_str())); }
int cf_symlink(const char* target, const char* path) { return result(::symlink(target, real(path).c_str())); }
int cf_link(const char* from, const char* to) { return result(::link(real(from).c_str(), real(to).c_str())); }

int cf_rename(const char* from, const char* to, unsigned int flags) {
  return result(::renameat2(AT_FDCWD, real(from).c_str(), AT_FDCWD, real(to).c_str(), flags));
}

int cf_chmod(const char* path, mode_t mode, fuse_file_info* fi) {
  if (fi != nullptr) return result(::fchmod(static_cast<int>(fi->fh), mode));
  return result(::chmod(real(path).c_str(), mode));
}

int cf_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  if (fi != nullptr) return result(::fchown(static_cast<int>(fi->fh), uid, gid));
  return result(::lchown(real(path).c_str(), uid, gid));
}

int cf_truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (fi != nullptr) return result(::ftruncate(static_cast<int>(fi->fh), size));
  return result(::truncate(real(path).c_str(), size));
}

int cf_utimens(const char* path, const struct timespec tv[2], fuse_file_info* fi) {
  if (fi != nullptr) return result(::futimens(static_cast<int>(fi->fh), tv));
  return result(::utimensat(AT_FDCWD, real(path).c_str(), tv, AT_SYMLINK_NOFOLLOW));
}

int cf_open(const char* path, fuse_file_info* fi) {
  int fd = ::open(real(path).c_str(), fi->flags & ~O_NOFOLLOW);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int cf_create(const char* path, mode_t mode, fuse_file_info* fi) {
  int fd = ::open(real(path).c_str(), fi->flags, mode);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int cf_read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  ssize_t n = ::pread(static_cast<int>(fi->fh), buf, size, offset);
  return n < 0 ? -errno : static_cast<int>(n);
}

int cf_write(const char*, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  ssize_t n = ::pwrite(static_cast<int>(fi->fh), buf, size, offset);
  return n < 0 ? -errno : static_cast<int>(n);
}

int cf_statfs(const char* path, struct statvfs* st) { return result(::statvfs(real(path).c_str(), st)); }
int cf_release(const char*, fuse_file_info* fi) { return result(::close(static_cast<int>(fi->fh))); }
int cf_fsync(const char*, int, fuse_file_info* fi) { return result(::fsync(static_cast<int>(fi->fh))); }

int cf_setxattr(const char* path, const char* name, const char* value, size_t size, int flags) {
  return result(::lsetxattr(real(path).c_str(), name, value, size, flags));
}

int cf_getxattr(const char* path, const char* name, char* value, size_t size) {
  ssize_t n = ::lgetxattr(real(path).c_str(), name, value, size);
  return n < 0 ? -errno : static_cast<int>(n);
}

int cf_listxattr(const char* path, char* list, size_t size) {
  ssize_t n = ::llistxattr(real(path).c_str(), list, size);
  return n < 0 ? -errno : static_cast<int>(n);
}

int cf_removexattr(const char* path, const char* name) { return result(::lremovexattr(real(path).c_str(), name)); }

}  // namespace

int main(int argc, char* argv[]) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: casefold_fs BACKING MOUNTPOINT [fuse options]\n");
    return 2;
  }
  char resolved[PATH_MAX];
  if (::realpath(argv[1], resolved) == nullptr) {
    std::perror(argv[1]);
    return 1;
  }
  g_backing = resolved;
  fuse_operations ops {};
  ops.init = cf_init;
  ops.getattr = cf_getattr;
  ops.readlink = cf_readlink;
  ops.readdir = cf_readdir;
  ops.mknod = cf_mknod;
  ops.mkdir = cf_mkdir;
  ops.unlink = cf_unlink;
  ops.rmdir = cf_rmdir;
  ops.symlink = cf_symlink;
  ops.link = cf_link;
  ops.rename = cf_rename;
  ops.chmod = cf_chmod;
  ops.chown = cf_chown;
  ops.truncate = cf_truncate;
  ops.utimens = cf_utimens;
  ops.open = cf_open;
  ops.create = cf_create;
  ops.read = cf_read;
  ops.write = cf_write;
  ops.statfs = cf_statfs;
  ops.release = cf_release;
  ops.fsync = cf_fsync;
  ops.setxattr = cf_setxattr;
  ops.getxattr = cf_getxattr;
  ops.listxattr = cf_listxattr;
  ops.removexattr = cf_removexattr;
  std::vector<char*> args{argv[0]};
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  return fuse_main(static_cast<int>(args.size()), args.data(), &ops, nullptr);
}
