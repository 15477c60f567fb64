// fold_name: the key two names share on a destination that folds case or normalization.
#include "fs/name_folding.h"

#include <doctest/doctest.h>
#include <fcntl.h>

#include <filesystem>

#include "fs/unique_fd.h"
#include "support/temp_dir.h"

using namespace ferry;

namespace {
const std::string kNfc = "caf\xC3\xA9";   // é as one code point
const std::string kNfd = "cafe\xCC\x81";  // e + combining acute
}  // namespace

TEST_CASE("fold_name folds only what the destination folds") {
  NameFolding none;
  CHECK(fold_name("Notes.TXT", none) == "Notes.TXT");
  CHECK(fold_name(kNfc, none) != fold_name(kNfd, none));

  NameFolding ascii{.ascii_case = true};  // XFS ascii-ci
  CHECK(fold_name("Notes.TXT", ascii) == fold_name("notes.txt", ascii));
  CHECK(fold_name("\xC3\x89t\xC3\xA9", ascii) != fold_name("\xC3\xA9t\xC3\xA9", ascii));  // Été, été
  CHECK(fold_name(kNfc, ascii) != fold_name(kNfd, ascii));

  NameFolding apfs{.ascii_case = true, .unicode_case = true, .normalization = true};
  CHECK(fold_name("Notes.TXT", apfs) == fold_name("notes.txt", apfs));
  CHECK(fold_name("\xC3\x89t\xC3\xA9", apfs) == fold_name("\xC3\xA9t\xC3\xA9", apfs));
  CHECK(fold_name(kNfc, apfs) == fold_name(kNfd, apfs));
  CHECK(fold_name("Stra\xC3\x9F" "e", apfs) == fold_name("STRASSE", apfs));  // full case folding: ß = ss
  CHECK(fold_name("a", apfs) != fold_name("b", apfs));

  NameFolding normalization_only{.normalization = true};  // case-sensitive APFS
  CHECK(fold_name(kNfc, normalization_only) == fold_name(kNfd, normalization_only));
  CHECK(fold_name("A", normalization_only) != fold_name("a", normalization_only));
}

TEST_CASE("fold_name compares a name that is not UTF-8 as bytes") {
  NameFolding apfs{.ascii_case = true, .unicode_case = true, .normalization = true};
  std::string latin1 = "caf\xE9";  // é in Latin-1: not UTF-8
  CHECK(fold_name(latin1, apfs) == "caf\xE9");
  CHECK(fold_name("CAF\xE9", apfs) == fold_name(latin1, apfs));
  CHECK(fold_name(latin1, apfs) != fold_name(kNfc, apfs));
}

TEST_CASE("probe_name_folding finds nothing folded on a case-sensitive file system, and leaves nothing") {
  ferry::test::TempDir dir;
  UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  REQUIRE(fd.valid());
  NameFolding found = probe_name_folding(fd.get());
  CHECK_FALSE(found.any());
  CHECK(std::filesystem::is_empty(dir.path()));
}
