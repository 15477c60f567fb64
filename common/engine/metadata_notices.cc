#include "engine/metadata_notices.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

namespace ferry {
namespace {

std::string utc_text(int64_t sec) {
  std::tm tm {};
  time_t t = static_cast<time_t>(sec);
  if (::gmtime_r(&t, &tm) == nullptr) return std::to_string(sec) + " s since 1970";
  char text[64];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

bool MetadataNotices::said_before(const char* kind) {
  if (state_dir_ < 0) return false;
  std::string marker = std::string("said-") + kind;
  if (::faccessat(state_dir_, marker.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0) return true;
  int fd = ::openat(state_dir_, marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) ::close(fd);
  return false;
}

void MetadataNotices::look_at(const FileEntry& entry, const std::string& shown) {
  using wire::MessageLevel;
  // Storing metadata keeps both (in an extended attribute), so there is nothing to say.
  bool lost = !apply_.keep_owner && !apply_.store_metadata;
  if (lost && !said_setid_ && mode_to_apply(entry, apply_) != entry.mode) {
    said_setid_ = true;
    if (restoring_) {
      reporter_.report(MessageLevel::kWarning,
                       "restoring as a user other than root: setuid and setgid bits are left off (" + shown +
                           " is the first file that has them). To restore them too, run the restore as root.");
    } else if (!said_before("setid")) {
      reporter_.report(MessageLevel::kWarning,
                       program_name_ + " is not running as root, so setuid and setgid bits are not kept (" + shown +
                           " is the first file that has them); the files are copied without them. Run it as root "
                           "to keep them. (Said once for this destination.)");
    }
  }
  if (lost && !said_owner_ && (entry.uid != ::geteuid() || entry.gid != ::getegid())) {
    said_owner_ = true;
    if (restoring_) {
      // Restoring one's own files needs no root; restoring other people's as oneself makes
      // them one's own, which is what a user restoring a copy usually wants: say it plainly.
      reporter_.report(MessageLevel::kWarning,
                       "restoring as uid " + std::to_string(::geteuid()) + ", not root: files owned by others (" +
                           shown + " is the first) are restored owned by you. To give them back their owners, "
                           "run the restore as root.");
    } else if (!said_before("owner")) {
      reporter_.report(MessageLevel::kWarning,
                       program_name_ + " is not running as root (uid " + std::to_string(::geteuid()) +
                           "), so file owners and groups are not preserved; files are still copied. "
                           "Run it as root to keep ownership. (Said once for this destination.)");
    }
  }
  if (lost && !said_flags_ && flags_to_apply(entry, apply_) != entry.flags &&
      (entry.type == FileType::kRegular || entry.type == FileType::kDirectory)) {
    said_flags_ = true;
    if (!restoring_ && said_before("flags")) return;
    reporter_.report(MessageLevel::kWarning,
                     program_name_ + " is not running as root, so immutable and append-only flags are not kept (" +
                         shown + " is the first file that has them). Run it as root to keep them.");
  }
  if (!said_acl_ && !apply_.keeps_acls && !apply_.store_metadata && (!entry.acl.empty() || !entry.default_acl.empty())) {
    said_acl_ = true;
    reporter_.report(MessageLevel::kWarning,
                     "this file system keeps no ACLs, so the ACLs of " + shown +
                         " and any other file of this run are not kept; put the backup on a file system "
                         "that has them (ext4, XFS, btrfs, tmpfs).");
  }
  // Only the range: a finer granularity than the file system keeps is common, and harmless.
  // Such a file is then compared as stored (storable_mtime), not sent again every run.
  timespec stored = storable_mtime(entry, apply_);
  if (!said_time_ && stored.tv_sec != entry.mtime_sec) {
    said_time_ = true;
    reporter_.report(MessageLevel::kWarning,
                     shown + " has a modification time (" + utc_text(entry.mtime_sec) +
                         ") that this file system cannot store; it keeps the nearest it can (" +
                         utc_text(stored.tv_sec) + "), and so may other files of this run");
  }
}

}  // namespace ferry
