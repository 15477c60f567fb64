// A backup machine where the agent is not root: owners, setuid bits, fifos and devices are kept
// in Ferry's metadata attribute (docs/STORED_METADATA.md), and a restore as root gives back the
// tree exactly. The agent runs as nobody (setpriv), a real non-root process.
#include <doctest/doctest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "e2e/e2e.h"
#include "support/mounted_disk.h"
#include "support/tree_snapshot.h"

using namespace ferry::test;
namespace fs = std::filesystem;

namespace {

const std::string kAsNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";

std::string stored_attr(const std::string& path) {
  char value[256] = {};
  ssize_t n = ::lgetxattr(path.c_str(), "user.ferry.meta", value, sizeof value);
  return n < 0 ? "" : std::string(value, static_cast<size_t>(n));
}

// Owners, modes, a device, a fifo: what a plain user cannot make on its own disk.
void build_privileged_tree(const std::string& src) {
  fs::create_directories(src + "/etc/private");
  std::ofstream(src + "/etc/passwd-like") << "root:x:0:0\n";
  std::ofstream(src + "/etc/private/key") << "secret";
  std::ofstream(src + "/su-like") << "#!/bin/sh\n";
  std::ofstream(src + "/mine") << "owned by nobody already";
  REQUIRE(::chmod((src + "/su-like").c_str(), 04755) == 0);
  REQUIRE(::chmod((src + "/etc/private/key").c_str(), 0400) == 0);
  REQUIRE(::chmod((src + "/etc/private").c_str(), 0700) == 0);
  REQUIRE(::chown((src + "/etc/private").c_str(), 1001, 1002) == 0);
  REQUIRE(::chown((src + "/etc/private/key").c_str(), 1001, 1002) == 0);
  REQUIRE(::chown((src + "/etc/passwd-like").c_str(), 0, 42) == 0);
  REQUIRE(::chown((src + "/mine").c_str(), 65534, 65534) == 0);
  REQUIRE(::chmod((src + "/mine").c_str(), 0640) == 0);
  REQUIRE(::mknod((src + "/null-like").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  REQUIRE(::mknod((src + "/disk-like").c_str(), S_IFBLK | 0660, makedev(7, 200)) == 0);
  REQUIRE(::chown((src + "/disk-like").c_str(), 0, 6) == 0);
  REQUIRE(::mkfifo((src + "/pipe").c_str(), 0620) == 0);
  // chmod, whatever the umask took from the modes above.
  REQUIRE(::chmod((src + "/null-like").c_str(), 0666) == 0);
  REQUIRE(::chmod((src + "/disk-like").c_str(), 0660) == 0);
  REQUIRE(::chmod((src + "/pipe").c_str(), 0620) == 0);
  REQUIRE(::chown((src + "/pipe").c_str(), 501, 20) == 0);
  REQUIRE(::setxattr((src + "/etc/passwd-like").c_str(), "user.note", "kept too", 8, 0) == 0);
}

}  // namespace

TEST_CASE("a non-root agent keeps owners, setuid bits, fifos and devices, and a root restore gives them back") {
  if (!running_as_root()) return;  // needs root to make the tree and to hand the backup to nobody
  TempDir work;
  ::chmod(work.path().c_str(), 0755);
  std::string src = work / "src", dest = work / "dest", back = work / "back";
  build_privileged_tree(src);
  fs::create_directory(dest);
  REQUIRE(::chown(dest.c_str(), 65534, 65534) == 0);
  std::string agent = quote(kAsNobody + kAgent);

  RunResult first = run(quote(kFerry) + " backup --agent " + agent + " " + quote(src) + " " + quote(dest));
  INFO(first.err);
  REQUIRE(first.code == 0);
  CHECK(first.err.find("not running as root") == std::string::npos);

  // On the backup machine: files of the agent's user, safe modes, the truth in the attribute.
  struct stat st {};
  REQUIRE(::lstat((dest + "/su-like").c_str(), &st) == 0);
  CHECK(st.st_uid == 65534);
  CHECK((st.st_mode & 07777) == 0755);
  CHECK(stored_attr(dest + "/su-like") == "1 f 4755 0 0 0 0");
  REQUIRE(::lstat((dest + "/null-like").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(st.st_size == 0);
  CHECK(stored_attr(dest + "/null-like") == "1 c 666 0 0 1 3");
  CHECK(stored_attr(dest + "/disk-like") == "1 b 660 0 6 7 200");
  CHECK(stored_attr(dest + "/pipe") == "1 p 620 501 20 0 0");
  REQUIRE(::lstat((dest + "/etc/private/key").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);  // readable by the agent, so it can be restored
  CHECK(stored_attr(dest + "/etc/private/key") == "1 f 400 1001 1002 0 0");
  CHECK(stored_attr(dest + "/mine") == "");  // the file itself says it all

  // A second run finds nothing to do: the attribute is what it compares against.
  RunResult second = run(quote(kFerry) + " backup --json --agent " + agent + " " + quote(src) + " " + quote(dest));
  INFO(second.err);
  CHECK(second.code == 0);
  CHECK(json_field(second.out, "files_transferred") == 0);
  REQUIRE(::lstat((dest + "/null-like").c_str(), &st) == 0);
  struct stat again {};
  RunResult third = run(quote(kFerry) + " backup --agent " + agent + " " + quote(src) + " " + quote(dest));
  CHECK(third.code == 0);
  REQUIRE(::lstat((dest + "/null-like").c_str(), &again) == 0);
  CHECK(again.st_ino == st.st_ino);  // not made again

  // A change of owner alone is a metadata update of the attribute.
  REQUIRE(::chown((src + "/etc/passwd-like").c_str(), 0, 43) == 0);
  RunResult chowned = run(quote(kFerry) + " backup --agent " + agent + " " + quote(src) + " " + quote(dest));
  CHECK(chowned.code == 0);
  CHECK(stored_attr(dest + "/etc/passwd-like") == "1 f 644 0 43 0 0");

  // The seal is of the tree as sent: owners, setuid bits and devices as the attribute keeps
  // them, so a verify through the same agent finds everything as sealed.
  RunResult verify = run(quote(kFerry) + " verify --agent " + agent + " " + quote(dest));
  INFO(verify.err);
  CHECK(verify.code == 0);
  CHECK(verify.out.find(" match seal ") != std::string::npos);

  // Restored by root through the same non-root agent: exactly the source.
  RunResult restore = run(quote(kFerry) + " restore --agent " + agent + " " + quote(dest) + " " + quote(back));
  INFO(restore.err);
  CHECK(restore.code == 0);
  CHECK(compare(snapshot(src), snapshot(back)) == "");
  CHECK(stored_attr(back + "/su-like") == "");  // never leaks into the restored tree
}

TEST_CASE("a non-root agent's snapshots keep owners too: an owner change makes a new inode, the rest is shared") {
  if (!running_as_root()) return;
  TempDir work;
  ::chmod(work.path().c_str(), 0755);
  std::string src = work / "src", dest = work / "store";
  build_privileged_tree(src);
  fs::create_directory(dest);
  REQUIRE(::chown(dest.c_str(), 65534, 65534) == 0);
  std::string agent = " --agent " + quote(kAsNobody + kAgent) + " ";
  RunResult first = run(quote(kFerry) + " backup --snapshot" + agent + quote(src) + " " + quote(dest));
  INFO(first.err);
  REQUIRE(first.code == 0);
  Snapshot version1 = snapshot(src);
  REQUIRE(::chown((src + "/etc/passwd-like").c_str(), 0, 43) == 0);  // its owner alone changes
  RunResult second = run(quote(kFerry) + " backup --snapshot --json" + agent + quote(src) + " " + quote(dest));
  INFO(second.err);
  REQUIRE(second.code == 0);
  CHECK(json_field(second.out, "files_transferred") == 0);
  Snapshot version2 = snapshot(src);

  std::vector<std::string> ids;
  for (const auto& e : fs::directory_iterator(dest)) {
    if (e.is_directory() && !e.is_symlink() && e.path().filename().string()[0] == '2') {
      ids.push_back(e.path().filename().string());
    }
  }
  std::sort(ids.begin(), ids.end());
  REQUIRE(ids.size() == 2);
  auto inode = [&](const std::string& id, const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat((dest + "/" + id + "/" + path).c_str(), &st) == 0);
    return st.st_ino;
  };
  CHECK(inode(ids[0], "su-like") == inode(ids[1], "su-like"));
  CHECK(inode(ids[0], "etc/private/key") == inode(ids[1], "etc/private/key"));
  CHECK(inode(ids[0], "etc/passwd-like") != inode(ids[1], "etc/passwd-like"));
  CHECK(stored_attr(dest + "/" + ids[0] + "/etc/passwd-like") == "1 f 644 0 42 0 0");
  CHECK(stored_attr(dest + "/" + ids[1] + "/etc/passwd-like") == "1 f 644 0 43 0 0");

  // Root restores each snapshot exactly, through the same non-root agent.
  for (size_t i = 0; i < 2; ++i) {
    std::string back = work / ("back" + std::to_string(i));
    RunResult r = run(quote(kFerry) + " restore --at " + ids[i] + agent + quote(dest) + " " + quote(back));
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(compare(i == 0 ? version1 : version2, snapshot(back)) == "");
  }
}

TEST_CASE("a restore by a user who is not root gives plain files and never Ferry's attribute") {
  if (!running_as_root()) return;
  TempDir work;
  ::chmod(work.path().c_str(), 0755);
  std::string src = work / "src", dest = work / "dest", back = work / "back";
  fs::create_directories(src);
  std::ofstream(src + "/su-like") << "#!/bin/sh\n";
  REQUIRE(::chmod((src + "/su-like").c_str(), 04755) == 0);
  std::ofstream(src + "/theirs") << "x";
  REQUIRE(::chown((src + "/theirs").c_str(), 501, 20) == 0);
  fs::create_directory(dest);
  REQUIRE(::chown(dest.c_str(), 65534, 65534) == 0);
  std::string agent = quote(kAsNobody + kAgent);
  REQUIRE(run(quote(kFerry) + " backup --agent " + agent + " " + quote(src) + " " + quote(dest)).code == 0);
  REQUIRE(stored_attr(dest + "/su-like") == "1 f 4755 0 0 0 0");

  fs::create_directory(back);
  REQUIRE(::chown(back.c_str(), 65534, 65534) == 0);
  // The client and its local agent both run as nobody.
  RunResult r = run(kAsNobody + quote(kFerry) + " restore " + quote(dest) + " " + quote(back));
  INFO(r.err);
  CHECK(r.code == 0);
  struct stat st {};
  REQUIRE(::lstat((back + "/su-like").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  CHECK(st.st_uid == 65534);
  CHECK(stored_attr(back + "/su-like") == "");
  CHECK(stored_attr(back + "/theirs") == "");
}

TEST_CASE("on a file system without extended attributes a non-root agent says what it cannot keep") {
  if (!running_as_root()) return;  // mounting needs root
  TempDir work;
  ::chmod(work.path().c_str(), 0755);
  std::string src = work / "src", dest = work / "ramfs";
  fs::create_directories(src);
  std::ofstream(src + "/su-like") << "#!/bin/sh\n";
  REQUIRE(::chmod((src + "/su-like").c_str(), 04755) == 0);
  std::ofstream(src + "/shared") << "two readers";
  REQUIRE(run("setfacl -m u:1001:r-- " + quote(src + "/shared")).code == 0);
  fs::create_directory(dest);
  REQUIRE(run("mount -t ramfs ramfs " + quote(dest)).code == 0);  // ramfs keeps no xattrs at all
  REQUIRE(::chown(dest.c_str(), 65534, 65534) == 0);
  RunResult r = run(quote(kFerry) + " backup --agent " + quote(kAsNobody + kAgent) + " " + quote(src) + " " +
                    quote(dest));
  struct stat st {};
  bool copied = ::lstat((dest + "/su-like").c_str(), &st) == 0;
  run("umount " + quote(dest));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.err.find("without extended attributes") != std::string::npos);
  CHECK(r.err.find("setuid and setgid bits are not kept") != std::string::npos);
  CHECK(r.err.find("this file system keeps no ACLs, so the ACLs of") != std::string::npos);
  REQUIRE(copied);
  CHECK((st.st_mode & 07777) == 0755);
}

namespace {

// A btrfs image mounted noacl: user attributes, but no ACLs (ext4 no longer takes noacl).
class NoAclDisk : public MountedDisk {
 public:
  NoAclDisk(const std::string& image_path, const std::string& path)
      : MountedDisk(path, image(image_path, 128, "mkfs.btrfs -q", path, "noacl")) {}
};

}  // namespace

TEST_CASE("on a file system without ACLs a non-root agent stores them, and a root restore gives them back") {
  if (!running_as_root()) return;  // mounting needs root
  TempDir work;
  ::chmod(work.path().c_str(), 0755);
  std::string src = work / "src", dest = work / "disk", back = work / "back";
  fs::create_directories(src + "/team");
  std::ofstream(src + "/team/plan") << "shared with two people";
  REQUIRE(run("setfacl -m u:1001:rw-,g:50:r-- " + quote(src + "/team/plan")).code == 0);
  REQUIRE(run("setfacl -d -m u:1001:rwx " + quote(src + "/team")).code == 0);
  NoAclDisk disk(work / "disk.img", dest);
  REQUIRE(disk.mounted());
  REQUIRE(run("setfacl -m u:1001:r-- " + quote(dest)).code != 0);  // the disk really keeps none
  REQUIRE(::chown(dest.c_str(), 65534, 65534) == 0);
  std::string agent = quote(kAsNobody + kAgent);

  RunResult first = run(quote(kFerry) + " backup --agent " + agent + " " + quote(src) + " " + quote(dest + "/b"));
  INFO(first.err);
  REQUIRE(first.code == 0);
  std::string plan = stored_attr(dest + "/b/team/plan");
  CHECK(plan.find(" a=u:1001:rw-,g::r--,g:50:r--") != std::string::npos);
  CHECK(stored_attr(dest + "/b/team").find(" d=u::rwx,u:1001:rwx,g::r-x,m::rwx,o::r-x") != std::string::npos);

  RunResult second = run(quote(kFerry) + " backup --json --agent " + agent + " " + quote(src) + " " + quote(dest + "/b"));
  CHECK(second.code == 0);
  CHECK(json_field(second.out, "files_transferred") == 0);
  CHECK(stored_attr(dest + "/b/team/plan") == plan);

  RunResult restore = run(quote(kFerry) + " restore --agent " + agent + " " + quote(dest + "/b") + " " + quote(back));
  INFO(restore.err);
  CHECK(restore.code == 0);
  CHECK(compare(snapshot(src), snapshot(back)) == "");
}

namespace {

// A real account for the length of a test: no home, a shell sshd can run the forced command
// with, and a password field that is not locked (sshd without PAM refuses locked accounts).
class PlainUser {
 public:
  PlainUser() : name_("ferrytest" + std::to_string(::getpid() % 100000)) {
    run("userdel " + name_ + " 2>/dev/null");
    RunResult made = run("useradd -M -N -s /bin/sh -p '*' " + name_);
    if (made.code != 0) throw std::runtime_error("useradd failed: " + made.err);
    passwd* pw = ::getpwnam(name_.c_str());
    if (pw == nullptr) throw std::runtime_error("useradd made no " + name_);
    uid_ = pw->pw_uid;
  }
  ~PlainUser() { run("userdel " + name_); }
  const std::string& name() const { return name_; }
  uid_t uid() const { return uid_; }

 private:
  std::string name_;
  uid_t uid_ = 0;
};

}  // namespace

TEST_CASE("a root client keeps every owner through a key installed for a plain user on the backup machine") {
  if (!running_as_root()) return;  // makes an account and a tree of other users' files
  AuthorizedKeysGuard guard;
  PlainUser user;
  TempDir work;
  ::chmod(work.path().c_str(), 0755);
  std::string home = work / "home", root = work / "backups", src = work / "src", back = work / "back";
  build_full_tree(src);
  REQUIRE(::mknod((src + "/null-like").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  sshd().trust_host_key();
  // The agent where the plain user can run it, wherever this build lives.
  fs::create_directories(work / "bin");
  fs::copy_file(kAgent, work / "bin/ferry-agent");
  ::chmod((work / "bin").c_str(), 0755);
  ::chmod((work / "bin/ferry-agent").c_str(), 0755);

  REQUIRE(run("FERRY_HOME=" + quote(home) + " " + quote(kFerry) + " keys create --name laptop --type ed25519 --out " +
              quote(work / "laptop.ferrycreds"))
              .code == 0);
  RunResult inst = run(quote(kAgent) + " install-credentials " + quote(work / "laptop.ferrycreds") + " --user " +
                       user.name() + " --root " + quote(root) + " --agent-path " + quote(work / "bin/ferry-agent") +
                       " --authorized-keys " + quote(sshd().authorized_keys()) + " --host-key-dir " +
                       quote(sshd().dir()));
  INFO(inst.out, inst.err);
  REQUIRE(inst.code == 0);
  ::chmod(sshd().authorized_keys().c_str(), 0644);  // one file for every account of this sshd
  struct stat st {};
  REQUIRE(::stat(root.c_str(), &st) == 0);
  CHECK(st.st_uid == user.uid());

  std::string ferry = "FERRY_HOME=" + quote(home) + " " + quote(kFerry);
  std::string options = " --port " + std::to_string(sshd().port()) + " --known-hosts " + quote(sshd().known_hosts());
  std::string there = user.name() + "@127.0.0.1:" + root + "/laptop";
  RunResult b = run(ferry + " backup" + options + " " + quote(src) + " " + quote(there));
  INFO(b.err);
  REQUIRE(b.code == 0);
  REQUIRE(::lstat((root + "/laptop/setuid-tool").c_str(), &st) == 0);
  CHECK(st.st_uid == user.uid());
  CHECK((st.st_mode & 07000) == 0);
  CHECK(stored_attr(root + "/laptop/setuid-tool") == "1 f 4755 0 0 0 0");

  RunResult again = run(ferry + " backup --json" + options + " " + quote(src) + " " + quote(there));
  CHECK(again.code == 0);
  CHECK(json_field(again.out, "files_transferred") == 0);

  RunResult r = run(ferry + " restore" + options + " " + quote(there) + " " + quote(back));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(compare(snapshot(src), snapshot(back)) == "");
  // And by a tool that shares nothing with Ferry: rsync finds nothing to change.
  RunResult itemized = run("rsync -aHAX --numeric-ids -n -i " + quote(src + "/") + " " + quote(back + "/"));
  CHECK(itemized.code == 0);
  CHECK(itemized.out == "");
}
