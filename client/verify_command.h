// `ferry verify DEST`: checks a backup against its seal without downloading it and without
// trusting the backup machine's word about what was sealed (docs/SEALS.md). The agent re-reads
// the stored files and sends back the seal's records and what differs from them; this side
// rebuilds the seal's root from the records, compares it with the root it kept when the backup
// was made (client/seal_roots.h), and names every entry that is missing, extra or changed.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "client/transfer_job.h"

namespace ferry {

struct VerifyRequest {
  std::string destination;  // [user@]host:/path or a local folder: a mirror or a snapshot store
  std::string at;           // a store's snapshot (snapshot_at_from_text's form); "" = the newest
  bool all = false;         // every snapshot of a store
  uint32_t sample_percent = 100;  // the share of files whose content is read
  bool json = false;
  TransferOptions connection;
};

// 0 when everything matches; 1 when something differs, the seal was altered or is missing.
ExitCode run_verify(const VerifyRequest& request);

}  // namespace ferry
