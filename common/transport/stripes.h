// Striping: the client's byte stream to the agent spread over several SSH channels
// (`--streams N`), and put back together by the agent, so the engine on each side still sees one
// ordered stream.
//
// Why: sshd grants each channel a window of 2 MiB, so one channel carries at most 2 MiB a round
// trip: about 40 MB/s at 50 ms, whatever the link could do. N channels carry N windows. Only the
// client's direction is striped: the agent's direction already has the client's 8 MiB window
// (channel_pump.h), and what the agent sends on a backup is small.
//
// How: every channel begins with a preamble, then carries chunks:
//
//   preamble  magic:8 "\x89FSTRIPE"  token:32  index:u8  count:u8
//   chunk     length:4 (LE uint32, 1..kMaxStripeChunk)  payload: length bytes
//
// The client cuts what its engine writes into chunks and sends chunk k on channel k mod N; the
// agent reads chunk k from channel k mod N. Each channel is in order and the rotation is fixed,
// so there are no sequence numbers and nothing to reorder: a reader waits on the one channel
// the next chunk must come from. The token is random per session; channel 0 runs
// `ferry-agent serve --streams N`, the others `ferry-agent join`, which hands its stdin to the
// serving process that shows the same token (server/stripe_rendezvous.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ferry {

constexpr size_t kStripeTokenBytes = 32;
constexpr size_t kStripePreambleBytes = 8 + kStripeTokenBytes + 2;
// sshd allows 10 sessions a connection by default (MaxSessions); 8 leave room.
constexpr int kMaxStripes = 8;
constexpr uint32_t kMaxStripeChunk = 1024 * 1024;
constexpr size_t kStripeChunkHeaderBytes = 4;

using StripeToken = std::array<uint8_t, kStripeTokenBytes>;

struct StripePreamble {
  StripeToken token{};
  int index = 0;  // 0 .. count-1; channel 0 is the one `serve` runs in
  int count = 1;  // 2 .. kMaxStripes

  std::string encode() const;
  // Throws ProtocolError naming what is wrong: another magic (not a striping client, or an old
  // one), an index outside the count, a count outside 2..kMaxStripes.
  static StripePreamble decode(const uint8_t* bytes, size_t len);
};

// Compares two tokens in time that does not depend on where they differ.
bool same_token(const StripeToken& a, const StripeToken& b);

void encode_chunk_header(uint32_t length, uint8_t out[kStripeChunkHeaderBytes]);
// The payload length of a chunk header; throws ProtocolError outside 1..kMaxStripeChunk.
uint32_t decode_chunk_header(const uint8_t header[kStripeChunkHeaderBytes]);

}  // namespace ferry
