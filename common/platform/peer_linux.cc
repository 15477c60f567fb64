// The peer of a Unix socket through Linux SO_PEERCRED (linux and posix backends on a Linux host:
// POSIX names no such call).
#include <sys/socket.h>

#include "platform/platform.h"

namespace ferry::platform {

bool socket_peer_uid(int socket_fd, uid_t* uid) {
  ucred peer{};
  socklen_t len = sizeof(peer);
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) return false;
  *uid = peer.uid;
  return true;
}

}  // namespace ferry::platform
