// Error vocabulary for all of Ferry.
//
// Four classes of failure, one vehicle each (see docs/DESIGN.md):
//   - our own broken invariant      -> FERRY_CHECK, aborts with file:line;
//   - the peer sent something wrong -> ProtocolError, ends the session with one message;
//   - one file failed               -> reported through an engine Reporter, counted, run goes on;
//   - the session cannot go on      -> FatalError carrying the exit code and what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace ferry {

// Process exit codes. Documented in the README; scripts depend on them, so never renumber.
enum class ExitCode : int {
  kOk = 0,
  kFatal = 1,       // the run stopped: missing source, unusable destination, protocol error...
  kUsage = 2,       // bad command line
  kPartial = 3,     // the run finished but some files could not be copied
  kConnection = 4,  // could not connect or authenticate, host key refused, connection lost
  kBusy = 5,        // a task was not run: another run of it holds its lock
  kVanished = 24,   // finished, but source files vanished or kept changing while read (rsync's 24)
};

class FatalError : public std::runtime_error {
 public:
  explicit FatalError(const std::string& message, ExitCode code = ExitCode::kFatal)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// The peer broke the protocol: a bad frame, an out-of-range length, a hostile path.
class ProtocolError : public FatalError {
 public:
  explicit ProtocolError(const std::string& message)
      : FatalError("protocol error: " + message) {}
};

// The transport failed: connection lost, peer silent past the deadline.
class ConnectionError : public FatalError {
 public:
  explicit ConnectionError(const std::string& message)
      : FatalError(message, ExitCode::kConnection) {}
};

// Formats errno as "what: strerror".
std::string errno_message(const std::string& what, int err);

[[noreturn]] void check_failed(const char* expr, const char* file, int line);

}  // namespace ferry

// For invariants of our own code only, never for input from the peer or the filesystem.
#define FERRY_CHECK(expr) \
  ((expr) ? (void)0 : ::ferry::check_failed(#expr, __FILE__, __LINE__))
