// The agent's end of a striped session (transport/stripes.h): reads the client's stream back in
// order from the chunks spread over several fds, and writes to one fd, as FdChannel does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "transport/fd_channel.h"

namespace ferry {

class StripedFdChannel : public FdChannel {
 public:
  // stripe_fds[k] carries chunks k, k+N, k+2N, ... (N = their count), each after its preamble,
  // which the caller has read. The fds are borrowed, and switched to non-blocking.
  StripedFdChannel(std::vector<int> stripe_fds, int write_fd, std::string peer_name);

 protected:
  // The end of the stream is an end on the channel the next chunk would come from, before its
  // header; an end inside a chunk is a lost connection, a malformed header a protocol error.
  size_t read_available(void* buf, size_t len) override;

 private:
  std::string stripe_name() const;

  std::vector<int> fds_;
  size_t current_ = 0;       // the fd the next bytes come from
  uint32_t chunk_left_ = 0;  // bytes of its current chunk not read yet
};

}  // namespace ferry
