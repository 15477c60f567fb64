#include "fs/tree_walker.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "fs/stored_metadata.h"
#include "fs/unique_fd.h"
#include "platform/platform.h"
#include "protocol/rel_path.h"
#include "protocol/wire.h"

namespace ferry {

bool entry_from_stat(const struct stat& st, FileEntry* entry) {
  switch (st.st_mode & S_IFMT) {
    case S_IFREG: entry->type = FileType::kRegular; break;
    case S_IFDIR: entry->type = FileType::kDirectory; break;
    case S_IFLNK: entry->type = FileType::kSymlink; break;
    case S_IFIFO: entry->type = FileType::kFifo; break;
    case S_IFCHR: entry->type = FileType::kCharDevice; break;
    case S_IFBLK: entry->type = FileType::kBlockDevice; break;
    default: return false;
  }
  entry->mode = st.st_mode & 07777;
  entry->uid = st.st_uid;
  entry->gid = st.st_gid;
  const timespec mtime = platform::modified_time(st);
  entry->mtime_sec = mtime.tv_sec;
  entry->mtime_nsec = static_cast<uint32_t>(mtime.tv_nsec);
  entry->size = entry->type == FileType::kRegular ? static_cast<uint64_t>(st.st_size) : 0;
  bool device = entry->type == FileType::kCharDevice || entry->type == FileType::kBlockDevice;
  entry->dev_major = device ? platform::device_major(st.st_rdev) : 0;
  entry->dev_minor = device ? platform::device_minor(st.st_rdev) : 0;
  return true;
}

namespace {

class Walk {
 public:
  Walk(const std::string& root, const TreeWalker::Visit& visit, const TreeWalker::OnError& on_error,
       const TreeWalker::LeaveOut& leave_out, bool read_stored_metadata)
      : root_(root), visit_(visit), on_error_(on_error), leave_out_(leave_out), read_stored_(read_stored_metadata) {}

  void run(int root_fd) {
    struct stat st {};
    if (::fstat(root_fd, &st) != 0) throw FatalError(errno_message("stat " + root_, errno));
    FileEntry entry;
    entry_from_stat(st, &entry);
    entry.flags = platform::file_flags_fd(root_fd);
    std::string stored;
    if (!platform::read_attributes_fd(root_fd, &entry, read_stored_ ? &stored : nullptr)) {
      on_error_(errno_message("cannot read extended attributes of " + root_, errno));
    }
    overlay(stored, &entry);
    keep_what_an_entry_carries(&entry);
    visit_(entry, SourceId{st.st_dev, st.st_ino, st.st_nlink});
    // A fresh open of the same directory: listing it moves a directory offset, which the
    // caller's fd (shared with other threads, perhaps walked before) must not see.
    UniqueFd own(::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!own.valid()) throw FatalError(errno_message("cannot open source " + root_, errno));
    walk_dir(own.get(), "");
  }

 private:
  void overlay(const std::string& stored, FileEntry* entry) {
    if (stored.empty()) return;
    std::optional<StoredMetadata> s = decode_stored_metadata(stored);
    if (!s) {
      on_error_("kept " + shown(entry->path) + " as it is on disk: its stored owner and mode are unreadable (" +
                printable(stored) + ")");
      return;
    }
    overlay_stored_metadata(*s, entry);
  }

  // Attributes and ACLs beyond what an Entry may carry are left out, and said: otherwise the
  // receiver would end the whole session at this one file (protocol/wire.h).
  void keep_what_an_entry_carries(FileEntry* entry) {
    for (std::string* acl : {&entry->acl, &entry->default_acl}) {
      if (acl->size() <= wire::kMaxAclTextBytes) continue;
      // With an ACL, the mode's group bits are its mask; without it they are the owning group's
      // own: narrowed to what the ACL gave that group, so leaving the ACL out widens nothing.
      if (acl == &entry->acl) entry->mode = (entry->mode & ~070u) | (acl_owning_group_bits(*acl) & entry->mode & 070u);
      on_error_("copied " + shown(entry->path) + " without its " + (acl == &entry->acl ? "" : "default ") +
                "ACL: " + std::to_string(acl->size()) + " bytes as text, and Ferry carries " +
                std::to_string(wire::kMaxAclTextBytes / 1024) + " KiB");
      acl->clear();
    }
    std::vector<std::string> dropped = keep_xattrs_within_bounds(&entry->xattrs);
    if (dropped.empty()) return;
    std::string names;
    for (size_t i = 0; i < dropped.size() && i < 3; ++i) names += (i > 0 ? ", " : "") + printable(dropped[i]);
    if (dropped.size() > 3) names += ", ...";
    on_error_("copied " + shown(entry->path) + " without " + std::to_string(dropped.size()) +
              " of its extended attributes (" + names +
              "): Ferry carries at most 256 a file, each up to 64 KiB and 512 KiB together");
  }

  void walk_dir(int dir_fd, const std::string& dir_path) {
    std::vector<std::string> names;
    {
      int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
      DIR* dir = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr;
      if (dir == nullptr) {
        if (dup_fd >= 0) ::close(dup_fd);
        on_error_(errno_message("cannot list " + shown(dir_path), errno));
        return;
      }
      errno = 0;
      while (dirent* d = ::readdir(dir)) {
        std::string_view name = d->d_name;
        if (name == "." || name == "..") continue;
        names.emplace_back(name);
      }
      int err = errno;
      ::closedir(dir);
      if (err != 0) on_error_(errno_message("cannot list all of " + shown(dir_path), err));
    }
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return compare_paths(a, b) < 0;
    });

    for (const std::string& name : names) {
      std::string path = child_path(dir_path, name);
      if (path.size() > kMaxPathBytes) {
        on_error_("skipped " + shown(path) + ": path longer than 4095 bytes");
        continue;
      }
      struct stat st {};
      uint32_t flags = 0;
      if (platform::stat_at(dir_fd, name.c_str(), &st, &flags) != 0) {
        if (errno != ENOENT) on_error_(errno_message("cannot stat " + shown(path), errno));
        continue;  // vanished since the listing: nothing to copy
      }
      FileEntry entry;
      entry.path = path;
      entry.flags = flags;
      if (!entry_from_stat(st, &entry)) {
        on_error_("skipped " + shown(path) + ": sockets are not copied");
        continue;
      }
      if (leave_out_ && leave_out_(entry)) continue;
      if (entry.type == FileType::kSymlink) {
        if (!read_link(dir_fd, name, path, &entry.link_target)) continue;
      } else {
        std::string stored;
        if (!platform::read_attributes_at(dir_fd, name, &entry, read_stored_ ? &stored : nullptr)) {
          on_error_(errno_message("cannot read extended attributes of " + shown(path), errno));
        }
        overlay(stored, &entry);
        keep_what_an_entry_carries(&entry);
      }
      visit_(entry, SourceId{st.st_dev, st.st_ino, st.st_nlink});
      if (entry.type != FileType::kDirectory) continue;

      UniqueFd child(::openat(dir_fd, name.c_str(),
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
      if (!child.valid()) {
        on_error_(errno_message("cannot open directory " + shown(path), errno));
        continue;
      }
      struct stat opened {};
      if (::fstat(child.get(), &opened) != 0 || opened.st_ino != st.st_ino ||
          opened.st_dev != st.st_dev) {
        on_error_("skipped " + shown(path) + ": it changed while being listed");
        continue;
      }
      walk_dir(child.get(), path);
    }
  }

  bool read_link(int dir_fd, const std::string& name, const std::string& path, std::string* out) {
    std::string target(kMaxPathBytes + 1, '\0');
    ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
    if (n < 0) {
      on_error_(errno_message("cannot read symlink " + shown(path), errno));
      return false;
    }
    if (static_cast<size_t>(n) > kMaxPathBytes) {
      on_error_("skipped " + shown(path) + ": symlink target longer than 4095 bytes");
      return false;
    }
    target.resize(static_cast<size_t>(n));
    *out = std::move(target);
    return true;
  }

  std::string shown(const std::string& rel) const { return printable(join_path(root_, rel)); }

  const std::string& root_;
  const TreeWalker::Visit& visit_;
  const TreeWalker::OnError& on_error_;
  const TreeWalker::LeaveOut& leave_out_;
  const bool read_stored_;
};

}  // namespace

UniqueFd TreeWalker::open_root(const std::string& root) {
  UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) {
    int err = errno;
    if (err == ENOENT) throw FatalError("source " + root + " does not exist");
    if (err == ENOTDIR) throw FatalError("source " + root + " is not a directory");
    throw FatalError(errno_message("cannot open source " + root, err));
  }
  return root_fd;
}

void TreeWalker::walk(int root_fd, const std::string& root, const Visit& visit, const OnError& on_error,
                      const LeaveOut& leave_out, bool read_stored_metadata) {
  Walk(root, visit, on_error, leave_out, read_stored_metadata).run(root_fd);
}

}  // namespace ferry
