// Constants of Ferry's wire protocol. docs/PROTOCOL.md is the reference; keep them in step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ferry::wire {

// Written once by each side before its first frame. The client shows whatever the remote
// login shell printed before it (motd, rc-file noise) and parses only what follows.
inline constexpr std::string_view kMagic = "\x89" "FERRY\r\n\x1a";
// How much pre-magic noise the client tolerates before giving up on finding an agent.
inline constexpr size_t kMaxNoiseBeforeMagic = 64 * 1024;

// Version 2 added compression (Compressed frames, the compression fields of Open) and the
// rate limit. Version 3 added mirroring (--delete, the safety net, filter rules in Open) and
// the sender's listing errors in EndOfList. Version 4 added the flags of FileFailed (a file the
// sender sends again, a file that vanished or kept changing). Version 5 sends a device's major
// and minor numbers in place of a raw dev_t (macOS splits dev_t differently from Linux).
// Version 6 adds ACLs to entries (entry flag bit 7). Version 9 moves a restore's seal hashes from
// the entries to FileEnd (docs/PROTOCOL.md §10). Version 10 paces the list: the receiver says
// how far it has settled (Settled) and the sender lists no further ahead than kListWindow.
// Nothing was ever released speaking an older version, so none is kept.
inline constexpr uint32_t kProtocolVersion = 10;
inline constexpr uint32_t kMinProtocolVersion = 10;

// Frame header: type (1 byte) then payload length (4 bytes, little-endian).
inline constexpr size_t kFrameHeaderBytes = 5;
// No frame payload may exceed this; a larger announced length is refused before any read.
// 1 MiB holds the largest legal Entry (4 KiB path + 4 KiB link + xattrs below) with room.
inline constexpr uint32_t kMaxFramePayload = 1u << 20;
// File data travels in chunks of at most this many bytes: large enough that the per-frame
// cost vanishes, small enough to interleave file-list frames with data.
inline constexpr size_t kDataChunkBytes = 256 * 1024;

inline constexpr size_t kMaxXattrsPerEntry = 256;
inline constexpr size_t kMaxXattrNameBytes = 255;       // XATTR_NAME_MAX
inline constexpr size_t kMaxXattrValueBytes = 64 * 1024;  // XATTR_SIZE_MAX
inline constexpr size_t kMaxXattrBytesPerEntry = 512 * 1024;
// An ACL in text form: far more entries than ext4 keeps in its 4 KiB (about 500).
inline constexpr size_t kMaxAclTextBytes = 16 * 1024;
inline constexpr size_t kMaxTextBytes = 8192;            // messages, version strings
inline constexpr size_t kMaxVolumeIdBytes = 128;         // Open/Opened: "<kind>:<fsid hex>"
inline constexpr size_t kHashBytes = 16;                 // XXH3-128
inline constexpr size_t kSealHashBytes = 32;             // SHA-256, for seals (docs/SEALS.md)
// A seal record: one entry's coding (at most about 560 KiB: path, link, xattrs, ACLs) and 45
// bytes; bounded below the frame limit so that one always fits a VerifyItems frame.
inline constexpr size_t kMaxSealRecordBytes = 768 * 1024;
// No file may grow past this through FileHole runs (a hole costs no bytes on the wire, so its
// length needs a bound of its own): 1 PiB.
inline constexpr uint64_t kMaxFileBytes = 1ull << 50;

// Message types. On the wire: never renumber; retired numbers stay listed here.
enum class MsgType : uint8_t {
  kHello = 1,
  kOpen = 2,
  kOpened = 3,
  kEntry = 4,
  kEndOfList = 5,
  kWant = 6,
  kFileData = 7,
  kFileEnd = 8,
  kFileFailed = 9,
  kMessage = 10,
  kDone = 11,
  kBye = 12,
  kKeepalive = 13,
  kFatal = 14,
  kSigBlocks = 15,
  kFileDelta = 16,
  kCompressed = 17,
  kProbeReport = 18,
  kFileHole = 19,
  kSnapshotInfo = 20,
  kListingEnd = 21,
  kVerifyItems = 22,
  kVerifyEnd = 23,
  kSettled = 24,
};

const char* msg_type_name(MsgType type);

// kProbe: `ferry doctor` asks about the path instead of transferring (answered by ProbeReport).
// kSnapshots, kList, kForget: a snapshot store's snapshots (SnapshotInfo frames), one
// snapshot's entries (Entry frames), or its retention (SnapshotInfo frames); each ends with
// ListingEnd.
// kVerify: the agent checks the stored tree against its seal (VerifyItems frames, then VerifyEnd).
enum class Operation : uint8_t {
  kBackup = 1,
  kRestore = 2,
  kProbe = 3,
  kSnapshots = 4,
  kList = 5,
  kForget = 6,
  kVerify = 7,
};

// Open flags.
inline constexpr uint64_t kOpenDryRun = 1u << 0;
inline constexpr uint64_t kOpenCompress = 1u << 1;      // the sender compresses file data
inline constexpr uint64_t kOpenCompressAuto = 1u << 2;  // ... only while it measures faster
inline constexpr uint64_t kOpenChecksum = 1u << 3;      // compare content hashes, not size+mtime
inline constexpr uint64_t kOpenNoSync = 1u << 4;        // the receiver leaves flushing to the kernel
inline constexpr uint64_t kOpenDelete = 1u << 5;        // the receiver removes what the sender lacks
inline constexpr uint64_t kOpenSafetyNet = 1u << 6;     // ... and what it deletes or replaces is kept
inline constexpr uint64_t kOpenDeleteExcluded = 1u << 7;  // --delete also takes filtered-out names
inline constexpr uint64_t kOpenSnapshot = 1u << 8;       // a backup makes a new snapshot (fs/snapshot_store.h)
inline constexpr uint64_t kOpenForce = 1u << 9;          // --delete also into a folder Ferry never wrote
inline constexpr uint64_t kOpenSingleFile = 1u << 10;    // a backup of one file, added to the folder DEST
inline constexpr uint64_t kOpenSeal = 1u << 11;          // a backup is sealed: FileEnd carries SHA-256
inline constexpr uint64_t kOpenEverySnapshot = 1u << 12; // verify: every snapshot of a store
inline constexpr uint64_t kOpenKnownFlags = kOpenDryRun | kOpenCompress | kOpenCompressAuto | kOpenChecksum |
                                            kOpenNoSync | kOpenDelete | kOpenSafetyNet | kOpenDeleteExcluded |
                                            kOpenSnapshot | kOpenForce | kOpenSingleFile | kOpenSeal |
                                            kOpenEverySnapshot;
inline constexpr size_t kMaxSnapshotAtBytes = 64;
inline constexpr size_t kMaxSealIdBytes = 64;  // a seal's ID: a snapshot's, or a mirror run's start time
inline constexpr size_t kMaxKeepRulesBytes = 256;  // Open.keep: fs/retention.h's rules  // Open.at: "latest", an ID, or "<=" and one
// The most filter-rule text an Open may carry (4096 rules of a few dozen bytes fit easily).
inline constexpr size_t kMaxFilterBytes = 256 * 1024;

// The list is paced so that neither side holds the whole tree (PROTOCOL.md §7a). A sender lists
// at most kListWindow entries past the last Settled it received; a receiver sends Settled each
// time the index below which it is done has moved kSettleStep or more past the last it sent.
// The step is well below the window, so the window never closes for want of a Settled; the
// window is wide enough that on a 50 ms link a no-change run's list does not wait for it.
inline constexpr uint64_t kListWindow = 16384;
inline constexpr uint64_t kSettleStep = 1024;
static_assert(kSettleStep * 4 <= kListWindow);

// Capability bits in Hello: what this build can do, beyond what the version implies.
inline constexpr uint64_t kCapZstd = 1u << 0;  // can send and receive Compressed frames
inline constexpr uint64_t kCapabilities = kCapZstd;

// Want flags.
inline constexpr uint64_t kWantHasSignature = 1u << 0;  // block signatures of a basis follow
inline constexpr uint64_t kWantRetry = 1u << 1;         // send whole: the delta did not verify
inline constexpr uint64_t kWantKnownFlags = kWantHasSignature | kWantRetry;

// FileFailed flags.
// The file changed while it was read; the sender sends it again once the receiver asks with a
// Want carrying kWantRetry (whole, without a signature). What arrived for it is dropped.
inline constexpr uint64_t kFailedWillRetry = 1u << 0;
// The file vanished, or kept changing through every retry: not an error of the transfer but of
// a source in use, counted apart (exit status 24, as rsync's).
inline constexpr uint64_t kFailedVanished = 1u << 1;
inline constexpr uint64_t kFailedKnownFlags = kFailedWillRetry | kFailedVanished;

// FileDelta operations. On the wire: never renumber.
inline constexpr uint8_t kOpCopy = 1;     // first:varint count:varint  (basis blocks)
inline constexpr uint8_t kOpLiteral = 2;  // length:varint then the bytes

enum class MessageLevel : uint8_t { kInfo = 1, kWarning = 2, kError = 3 };

}  // namespace ferry::wire
