#include "client/agent_link.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/error.h"
#include "fs/unique_fd.h"
#include "platform/platform.h"
#include "transport/fd_channel.h"

namespace ferry {
namespace {

class LocalAgent : public AgentLink {
 public:
  explicit LocalAgent(const std::string& agent_command) {
    int sv[2];
    if (platform::stream_socketpair(sv) != 0) {
      throw FatalError(errno_message("socketpair", errno));
    }
    // The agent beside this program, if the system can say where that is.
    std::string sibling;
    if (agent_command.empty()) {
      std::string self = platform::executable_path();
      if (!self.empty()) sibling = (std::filesystem::path(self).parent_path() / "ferry-agent").string();
    }
    pid_ = ::fork();
    if (pid_ < 0) throw FatalError(errno_message("fork", errno));
    if (pid_ == 0) {
      ::dup2(sv[1], STDIN_FILENO);
      ::dup2(sv[1], STDOUT_FILENO);
      if (!agent_command.empty()) {
        std::string command = agent_command + " serve";
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      } else if (!sibling.empty() && ::access(sibling.c_str(), X_OK) == 0) {
        ::execl(sibling.c_str(), "ferry-agent", "serve", static_cast<char*>(nullptr));
      } else {
        ::execlp("ferry-agent", "ferry-agent", "serve", static_cast<char*>(nullptr));
      }
      ::_exit(127);
    }
    ::close(sv[1]);
    fd_.reset(sv[0]);
    channel_ = std::make_unique<FdChannel>(fd_.get(), fd_.get(), "the local ferry-agent");
  }

  Channel& channel() override { return *channel_; }

  int finish() override {
    fd_.reset();  // the agent reads end of stream; channel_ stays, for whoever still holds it
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  UniqueFd fd_;
  std::unique_ptr<FdChannel> channel_;
};

class SshAgent : public AgentLink {
 public:
  SshAgent(const SshOptions& options, const std::string& agent_command) : session_(options) {
    std::string command = (agent_command.empty() ? std::string("ferry-agent") : agent_command) + " serve";
    std::string host = options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
    channel_ = &session_.start(command, "ferry-agent on " + host);
  }

  Channel& channel() override { return *channel_; }

  int finish() override { return session_.finish(); }

 private:
  SshSession session_;
  Channel* channel_ = nullptr;
};

}  // namespace

std::unique_ptr<AgentLink> start_local_agent(const std::string& agent_command) {
  return std::make_unique<LocalAgent>(agent_command);
}

std::unique_ptr<AgentLink> start_ssh_agent(const SshOptions& options, const std::string& agent_command) {
  return std::make_unique<SshAgent>(options, agent_command);
}

}  // namespace ferry
