// The one seam between Ferry and the operating system. Everything here is either outside
// POSIX.1-2008 or has a faster non-POSIX form; the rest of the code calls these and includes no
// Linux or macOS header and has no #ifdef of an operating system.
//
// Three backends implement it; the CMake option FERRY_PLATFORM picks one:
//   linux   openat2, syncfs, sync_file_range, splice, eventfd, O_NOATIME, /proc/self/exe
//   posix   POSIX.1-2008 only (plus the host's calls for extended attributes, ACLs and file
//           flags, which no standard names): confinement by a walk with O_NOFOLLOW,
//           durability by an fsync of each file and folder, a self-pipe for the waker, copies
//           instead of splice. Built and tested on Linux, it proves every fallback the Mac takes.
//   darwin  O_NOFOLLOW_ANY, F_FULLFSYNC, XATTR_NOFOLLOW, st_mtimespec, _NSGetExecutablePath
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "protocol/file_entry.h"

namespace ferry::platform {

// The backend this build uses: "linux", "posix" or "darwin".
const char* name();

// ---- Paths confined to a directory

// openat() of `rel` beneath `dir_fd` that never leaves dir_fd and never follows a symlink in
// any component (the last one included). Returns the fd, or -1 with errno set (ELOOP or ENOTDIR
// when a symlink or non-directory is in the way, EXDEV on an escape). Always O_CLOEXEC.
int open_beneath(int dir_fd, const std::string& rel, int flags, unsigned mode = 0);
// The portable component-by-component walk every backend can fall back to; public so tests
// reach it on every platform.
int open_beneath_by_walk(int dir_fd, const std::string& rel, int flags, unsigned mode = 0);

// ---- Reading files

// Open flags for reading a file to send: without updating its access time where the system
// allows it (Linux O_NOATIME, which needs ownership: retry without on EPERM).
int read_flags_without_atime();
// Tells the kernel the file will be read once from start to end (read-ahead).
void advise_sequential(int fd);
// Holes (SEEK_DATA/SEEK_HOLE): the offset of the first data at or after `from`, and of the
// first hole at or after `from` (the end of the file counts as one). Where the system or the
// file system cannot say, the whole file is data: seek_data returns `from`, seek_hole -1.
// Both move the file offset (lseek): read with pread.
int64_t seek_data(int fd, int64_t from);
int64_t seek_hole(int fd, int64_t from);

// ---- Times and devices in struct stat

timespec modified_time(const struct stat& st);
timespec changed_time(const struct stat& st);
inline bool same_time(const timespec& a, const timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }
// Device numbers travel as major and minor: dev_t differs in width and split between systems.
uint32_t device_major(dev_t dev);
uint32_t device_minor(dev_t dev);
// Fails (returns false) when the pair does not fit this system's dev_t.
bool make_device(uint32_t major, uint32_t minor, dev_t* out);

// ---- File flags (chattr, chflags): file_flags bits, regular files and directories only

// fstatat(AT_SYMLINK_NOFOLLOW) that also gives the object's file flags, in one call where the
// system has one (statx on Linux, st_flags on macOS). Returns 0, or -1 with errno set.
int stat_at(int dir_fd, const char* name, struct stat* st, uint32_t* flags);
// The file flags of an open file or directory; 0 where it has none or the system keeps none.
uint32_t file_flags_fd(int fd);
// Makes fd's file flags `flags`, leaving those Ferry does not carry as they are. Returns 0 or
// errno: ENOTSUP where the file system keeps no flags, or where a flag has no counterpart on
// this system (the others are still set).
int set_file_flags_fd(int fd, uint32_t flags);

// ---- Copies

// Gives `to` (an empty file open for writing) the content of `from`, from its start: a clone
// that shares the blocks where the file system can (FICLONE on btrfs and XFS, clonefile on
// APFS), else an in-kernel copy, else reads and writes. Returns 0 or errno.
int copy_file_data(int from, int to);
// Makes `to` (an empty file open for writing, on the same file system) a clone of `from` that
// shares all its blocks, without copying any: FICLONE on btrfs and XFS. False where the file
// system cannot (ext4, tmpfs) or the backend has no fd-to-fd clone (posix; macOS clones only by
// name, with fclonefileat, which also copies the attributes): the caller then writes the data.
bool clone_file_data(int from, int to);
// Makes [offset, offset + length) of fd a hole that reads as zeros, the file's size unchanged
// (Linux fallocate PUNCH_HOLE), for a delta's clone (above). False where the file system or the
// backend cannot (posix; darwin, which does not clone yet): the caller writes zeros.
bool punch_hole(int fd, uint64_t offset, uint64_t length);

// ---- Durability

// Whether flush_file_system() puts everything written on the file system holding `fd` on disk
// with one call. Not on FUSE (Linux passes syncfs to a FUSE server only for virtiofs), not on
// the posix backend (POSIX has no syncfs), not on macOS (sync() does not wait): there each file
// and folder is flushed with flush_file().
bool can_flush_file_system(int fd);
// syncfs(). Returns 0 or errno (ENOTSUP where can_flush_file_system is false).
int flush_file_system(int fd);
// Puts one file's or folder's data and metadata on disk: fsync, or F_FULLFSYNC on macOS
// (fsync there reaches only the drive's cache). Returns 0 or errno.
int flush_file(int fd);
// Starts writing a range of a file to disk without waiting (Linux sync_file_range), so the
// flush at the end has less to wait for. Does nothing where the system has no such call.
void start_writeback(int fd, uint64_t offset, uint64_t len);

// A short name of the kind of file system holding `fd` ("ext4", "apfs", "fuse", …), for messages.
std::string file_system_kind(int fd);

// The volume (mounted file system) a path is on: where it is mounted, and an identity that
// another file system mounted there would not share (its kind and statvfs f_fsid, which Linux
// derives from the file system's UUID where it has one). For a path that does not exist yet,
// the volume of its nearest existing ancestor. False with errno set.
struct Volume {
  std::string mount_point;
  std::string id;
  bool operator==(const Volume&) const = default;
};
bool volume_of(const std::string& path, Volume* out);

// ---- Extended attributes and ACLs: what the system keeps beside a file's stat

// The extended attributes Ferry carries (the user namespace on Linux; all but the kernel's own
// on macOS), sorted by name, into entry->xattrs, and the POSIX.1e ACLs (Linux, through libacl)
// in Ferry's text form into entry->acl and entry->default_acl. Of the object `name` in `dir_fd`
// without following it if it is a symlink. Returns false with errno set on failure; no support
// for them counts as "none". With `stored`, Ferry's own attribute (metadata_xattr_name()) goes
// there, "" when it is absent.
bool read_attributes_at(int dir_fd, const std::string& name, FileEntry* entry, std::string* stored = nullptr);
// Of an open file or directory.
bool read_attributes_fd(int fd, FileEntry* entry, std::string* stored = nullptr);
// Gives fd the entry's carried attributes and removes those it has beyond them; with
// `with_acls`, its ACLs too, rebuilt around `mode` (the permission bits fd gets: the owner,
// mask and other entries follow them). Each part reports its first errno, 0 if none; acls is
// ENOTSUP where the file system or the system keeps no ACLs.
struct AttributeErrors {
  int xattrs = 0;
  int acls = 0;
};
AttributeErrors replace_attributes_fd(int fd, const FileEntry& entry, uint32_t mode, bool with_acls);
// The attribute that holds what a destination could not apply (docs/STORED_METADATA.md):
// "user.ferry.meta" on Linux. Never listed among a file's own attributes.
const char* metadata_xattr_name();
// One attribute of an open file, read or written whatever its namespace (Ferry's own metadata
// attribute). get_xattr_fd returns false with errno set; a missing one is errno == ENOENT.
bool get_xattr_fd(int fd, const char* name, std::string* value);
int set_xattr_fd(int fd, const char* name, const std::string& value);
int remove_xattr_fd(int fd, const char* name);

// ---- Pipes, sockets, the waker

// Asks for a larger pipe buffer (Linux F_SETPIPE_SZ), so fewer wake-ups move the same bytes.
void enlarge_pipe(int fd);
// Moves up to `len` bytes of `file_fd` at `offset` into the pipe `pipe_fd` without copying
// them through user space (Linux splice), never blocking on the pipe. Returns the bytes moved,
// or -1 with errno: EAGAIN (the pipe is full), ENOSYS (not here: the caller copies).
ssize_t splice_file_to_pipe(int file_fd, uint64_t offset, int pipe_fd, size_t len);
// socketpair(AF_UNIX, SOCK_STREAM) and socket(), both close-on-exec. Return as the calls do.
int stream_socketpair(int sv[2]);
int stream_socket(int family, bool nonblocking);
// The effective uid of the process at the other end of a connected Unix socket (Linux
// SO_PEERCRED, macOS getpeereid). False with errno if the system cannot say.
bool socket_peer_uid(int socket_fd, uid_t* uid);

// An fd another thread makes readable to wake a poll() (an eventfd, or a self-pipe).
class Waker {
 public:
  Waker();  // throws ConnectionError when the system is out of descriptors
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  int fd() const { return read_fd_; }  // poll for POLLIN
  void wake();                         // any thread; never blocks
  void clear();                        // the polling thread, after it woke

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;  // the same fd for an eventfd
};

// ---- The running program

// The absolute path of the running executable, or "" when the system cannot say.
// remember_program_path(argv[0]) at the start of main lets the posix backend answer.
void remember_program_path(const char* argv0);
std::string executable_path();

// The system's job scheduler that `ferry schedule install` writes for: "systemd" or "launchd".
const char* native_scheduler();

}  // namespace ferry::platform
