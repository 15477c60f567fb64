// Names a file system treats as one: APFS (the Mac's default), HFS+ and ext4 folders made with
// `chattr +F` fold case, and APFS and HFS+ also fold Unicode normalization ("é" as one code
// point or as "e" and a combining accent). A tree from a case-sensitive source may hold two
// names that such a destination makes one; writing both would silently replace the first.
//
// What a destination folds is asked of the file system itself (probe_name_folding), so a
// case-sensitive APFS or a plain ext4 costs nothing; fold_name then gives the key two names
// share on it. Unicode case folding and decomposition come from utf8proc.
#pragma once

#include <string>
#include <string_view>

namespace ferry {

struct NameFolding {
  bool ascii_case = false;     // "A" and "a" are one name
  bool unicode_case = false;   // "É" and "é" too
  bool normalization = false;  // U+00E9 and "e" U+0301 too
  bool any() const { return ascii_case || unicode_case || normalization; }
};

// The key two names share where `how` folds them. A name that is not valid UTF-8 is compared as
// bytes (ASCII letters folded if case is), as ext4 does outside its strict mode.
std::string fold_name(std::string_view name, const NameFolding& how);

// Creates and looks up a few probe files in `dir_fd` (removed again) to learn what names the
// file system there folds. Nothing is folded if the probes cannot be made.
NameFolding probe_name_folding(int dir_fd);

}  // namespace ferry
