#include "client/agent_link.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <filesystem>
#include <vector>

#include "base/error.h"
#include "fs/unique_fd.h"
#include "platform/platform.h"
#include "transport/fd_channel.h"

namespace ferry {
namespace {

// The program a shell could not start, from what it said: "bash: line 1: /x/ferry-agent: No such
// file or directory", "sh: 1: /x/ferry-agent: not found", "zsh:1: command not found: x".
std::string program_named_missing(const std::string& said) {
  for (const char* phrase : {": No such file or directory", ": not found", ": command not found"}) {
    size_t at = said.find(phrase);
    if (at == std::string::npos) continue;
    std::string before = said.substr(0, at);
    before = before.substr(before.find_last_of('\n') == std::string::npos ? 0 : before.find_last_of('\n') + 1);
    size_t colon = before.rfind(": ");
    return colon == std::string::npos ? before : before.substr(colon + 2);
  }
  return "";
}

class LocalAgent : public AgentLink {
 public:
  explicit LocalAgent(const std::string& agent_command) : agent_command_(agent_command) {
    int sv[2];
    if (platform::stream_socketpair(sv) != 0) {
      throw FatalError(errno_message("socketpair", errno));
    }
    // The agent beside this program, if the system can say where that is.
    std::string sibling;
    if (agent_command.empty()) {
      std::string self = platform::executable_path();
      if (!self.empty()) {
        own_dir_ = std::filesystem::path(self).parent_path().string();
        sibling = own_dir_ + "/ferry-agent";
      }
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
    if (exit_status_ < 0) {
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return exit_status_;
  }

  std::string missing_agent() override {
    if (finish() != 127) return "";
    if (!agent_command_.empty()) {
      return "cannot start the agent: the shell found no program `" + agent_command_ +
             "` (exit status 127). Check the command given with --agent; `ferry doctor DEST` checks the setup";
    }
    return "cannot start ferry-agent: it is neither beside ferry" + (own_dir_.empty() ? "" : " (in " + own_dir_ + ")") +
           " nor on the PATH. Install it with ferry (both programs come together; see the README), "
           "or name it with --agent PATH; `ferry doctor DEST` checks the setup";
  }

 private:
  std::string agent_command_;
  std::string own_dir_;
  int exit_status_ = -1;
  pid_t pid_ = -1;
  UniqueFd fd_;
  std::unique_ptr<FdChannel> channel_;
};

class SshAgent : public AgentLink {
 public:
  SshAgent(const SshOptions& options, const std::string& agent_command, int streams)
      : program_(agent_command.empty() ? std::string("ferry-agent") : agent_command),
        host_(options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host),
        session_(options) {
    std::vector<std::string> joins(static_cast<size_t>(std::max(streams, 1) - 1), program_ + " join");
    std::string serve = program_ + " serve" + (joins.empty() ? "" : " --streams " + std::to_string(streams));
    channel_ = &session_.start(serve, "ferry-agent on " + host_, joins);
  }

  Channel& channel() override { return *channel_; }

  int finish() override { return session_.finish(); }

  std::string missing_agent() override {
    int status = -1;
    try {
      status = session_.finish();
    } catch (const FatalError&) {
      // The connection failed as the command ended; what the shell said, if anything, decides.
    }
    // An agent from before --streams says its option was not expected.
    if (session_.remote_stderr().find("--streams") != std::string::npos) {
      return "the ferry-agent on " + host_ + " is older than --streams: install this version there, or leave "
             "--streams out";
    }
    // A shell that could not start the program exits 127 and says so; either is enough (under
    // load the exit status can be lost with the connection, the shell's words not).
    std::string ran = program_named_missing(session_.remote_stderr());
    bool about_an_agent = !ran.empty() && (ran == program_ || ran.ends_with("ferry-agent"));
    if (status != 127 && !about_an_agent) return "";
    if (!ran.empty() && ran != program_ && ran.starts_with("/")) {
      // Not what this ferry asked for: the forced command of the key it logged in with.
      return "the key this ferry logged in with runs " + ran + " on " + host_ +
             " (its forced command), which is not there: the agent was moved or removed after the key was "
             "installed. On " + host_ + ", run `ferry-agent install-credentials` again with this client's "
             "package (--agent-path PATH if the agent lives elsewhere). `ferry doctor` checks the setup";
    }
    return "the remote shell on " + host_ + " found no program `" + program_ +
           "` (exit status 127): ferry-agent is not installed there, or not on the PATH of a non-interactive "
           "login. Install it there (see the README), or pass --agent with its full path. A key "
           "installed by `ferry-agent install-credentials` runs the agent from the path it was installed from: "
           "if the agent moved, run install-credentials again. `ferry doctor` checks the setup";
  }

 private:
  std::string program_;
  std::string host_;
  SshSession session_;
  Channel* channel_ = nullptr;
};

}  // namespace

std::unique_ptr<AgentLink> start_local_agent(const std::string& agent_command) {
  return std::make_unique<LocalAgent>(agent_command);
}

std::unique_ptr<AgentLink> start_ssh_agent(const SshOptions& options, const std::string& agent_command, int streams) {
  return std::make_unique<SshAgent>(options, agent_command, streams);
}

}  // namespace ferry
