#include "transport/striped_fd_channel.h"

#include <algorithm>

#include "base/error.h"
#include "transport/stripes.h"

namespace ferry {

StripedFdChannel::StripedFdChannel(std::vector<int> stripe_fds, int write_fd, std::string peer_name)
    : FdChannel(stripe_fds.at(0), write_fd, std::move(peer_name)), fds_(std::move(stripe_fds)) {
  for (size_t k = 1; k < fds_.size(); ++k) prepare_read_fd(fds_[k]);
}

std::string StripedFdChannel::stripe_name() const {
  return "channel " + std::to_string(current_ + 1) + " of " + std::to_string(fds_.size()) + " from " + peer_name();
}

size_t StripedFdChannel::read_available(void* buf, size_t len) {
  if (chunk_left_ == 0) {
    uint8_t header[kStripeChunkHeaderBytes];
    size_t got = 0;
    while (got < sizeof(header)) {
      size_t n = read_from(fds_[current_], header + got, sizeof(header) - got);
      if (n == 0 && got == 0) return 0;
      if (n == 0) throw ConnectionError(stripe_name() + " ended inside a chunk header");
      got += n;
    }
    chunk_left_ = decode_chunk_header(header);
  }
  size_t n = read_from(fds_[current_], buf, std::min<size_t>(len, chunk_left_));
  if (n == 0) throw ConnectionError(stripe_name() + " ended inside a chunk");
  chunk_left_ -= static_cast<uint32_t>(n);
  if (chunk_left_ == 0) current_ = (current_ + 1) % fds_.size();
  return n;
}

}  // namespace ferry
