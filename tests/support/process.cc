// Process spawning, bounded waiting and reaping for interop tests.
#include "process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "wait.h"

extern char** environ;

namespace inlinesec::testing {

Process::~Process() {
  if (pid_ > 0) Stop(SIGKILL, std::chrono::seconds(5));
}

Process::Process(Process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), status_(std::exchange(o.status_, -1)) {}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0) Stop(SIGKILL, std::chrono::seconds(5));
    pid_ = std::exchange(o.pid_, -1);
    status_ = std::exchange(o.status_, -1);
  }
  return *this;
}

Result<Process> Process::Spawn(const std::vector<std::string>& argv,
                               const std::vector<std::string>& env, const std::string& log_path) {
  if (argv.empty()) return Status(Code::kInvalidArgument, "empty argv");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& e : env) env_strings.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string out = log_path.empty() ? "/dev/null" : log_path;
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so Stop() reaches helpers the child starts.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Status(Code::kUnavailable, "cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  Process p;
  p.pid_ = pid;
  return p;
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  const pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    pid_ = -1;
    return false;
  }
  return true;
}

int Process::Wait(std::chrono::milliseconds timeout) {
  if (!WaitFor([this] { return !running(); }, timeout, std::chrono::milliseconds(5))) return -1;
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

void Process::Stop(int sig, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return;
  kill(-pid_, sig);
  kill(pid_, sig);
  if (Wait(timeout) >= 0) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  Wait(std::chrono::seconds(5));
}

int RunCommand(const std::vector<std::string>& argv, std::string* output,
               std::chrono::milliseconds timeout) {
  char tmpl[] = "/tmp/inlinesec-cmd-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) return -1;
  close(fd);
  int code = -1;
  {
    auto p = Process::Spawn(argv, {}, tmpl);
    if (p.ok()) {
      code = p->Wait(timeout);
      if (code < 0) p->Stop(SIGKILL);
    }
  }
  if (output != nullptr) {
    std::ifstream in(tmpl);
    std::stringstream ss;
    ss << in.rdbuf();
    *output += ss.str();
  }
  unlink(tmpl);
  return code;
}

bool IsRoot() { return geteuid() == 0; }

bool HaveProgram(const std::string& name) {
  if (!name.empty() && name[0] == '/') return access(name.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  std::stringstream ss(p);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace inlinesec::testing
