// Process: a child process owned by a test (a peer daemon, a tool). It is
// started with posix_spawn, its output goes to a log file, and the destructor
// kills and reaps it, so no test leaves a process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "inlinesec/common/status.h"

namespace inlinesec::testing {

class Process {
 public:
  Process() = default;
  ~Process();
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // argv[0] is looked up in PATH. `env` entries ("K=V") are added to the
  // current environment. stdout and stderr go to `log_path` (or /dev/null).
  static Result<Process> Spawn(const std::vector<std::string>& argv,
                               const std::vector<std::string>& env = {},
                               const std::string& log_path = "");

  bool running();
  pid_t pid() const { return pid_; }
  // Sends `sig`; then waits up to `timeout` for the exit, SIGKILL after that.
  void Stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Waits for exit up to `timeout`; returns the exit status (or -1 on timeout).
  int Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// Runs a command to completion (bounded by `timeout`) and returns its exit
// code; its combined output is appended to `output` if given.
int RunCommand(const std::vector<std::string>& argv, std::string* output = nullptr,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));

// True if the test runs as root (namespaces, veth, TUN need it).
bool IsRoot();
// True if `name` is an executable found in PATH, or an absolute path that exists.
bool HaveProgram(const std::string& name);

}  // namespace inlinesec::testing
