// inlinesecd: the inline-IPsec gateway daemon. Reads the configuration
// file, creates the real-time clock and timerfd timers (the only place they
// are made), the Gateway and its control socket, and runs the event loop
// until SIGTERM or SIGINT.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "inlinesec/common/clock.h"
#include "inlinesec/common/guarded_main.h"
#include "inlinesec/gateway/config.h"
#include "inlinesec/gateway/control.h"
#include "inlinesec/gateway/event_loop.h"
#include "inlinesec/gateway/gateway.h"

namespace {

int Fail(const inlinesec::Status& st) {
  std::fprintf(stderr, "inlinesecd: %s\n", st.ToString().c_str());
  return 1;
}

}  // namespace

namespace {

int Run(int argc, char** argv) {
  using namespace inlinesec;
  CLI::App app{"inlinesecd: inline IPsec gateway over the inlinesec engine"};
  std::string config_path = "/etc/inlinesec/inlinesecd.json";
  std::string socket_override;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "configuration file (JSON, docs/gateway.md)");
  app.add_option("-s,--socket", socket_override, "control socket (overrides the config)");
  app.add_flag("--check", check_only, "parse the configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  Result<gateway::GatewayConfig> config = gateway::LoadConfigFile(config_path);
  if (!config.ok()) return Fail(config.status());
  if (!socket_override.empty()) config->control_socket = socket_override;
  if (check_only) {
    std::printf("%s: ok (%zu connections)\n", config_path.c_str(), config->connections.size());
    return 0;
  }

  // SIGTERM/SIGINT arrive through a signalfd in the loop.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sig_fd < 0) return Fail(Status(Code::kInternal, "signalfd failed"));

  SystemClock clock;
  Result<std::unique_ptr<gateway::EventLoop>> loop = gateway::EventLoop::Create();
  if (!loop.ok()) return Fail(loop.status());
  Result<std::unique_ptr<gateway::TimerfdTimers>> timers =
      gateway::TimerfdTimers::Create(**loop, clock);
  if (!timers.ok()) return Fail(timers.status());
  const std::string socket_path = config->control_socket;
  Result<std::unique_ptr<gateway::Gateway>> gw =
      gateway::Gateway::Create(std::move(config).value(), clock, **timers, **loop);
  if (!gw.ok()) return Fail(gw.status());
  Result<std::unique_ptr<gateway::ControlServer>> control =
      gateway::ControlServer::Create(socket_path, **loop, **gw);
  if (!control.ok()) return Fail(control.status());

  gateway::EventLoop* l = loop->get();
  Status st = l->Add(sig_fd, EPOLLIN, [l, sig_fd](std::uint32_t) {
    signalfd_siginfo si{};
    (void)!read(sig_fd, &si, sizeof(si));
    std::fprintf(stderr, "inlinesecd: signal %u, stopping\n", si.ssi_signo);
    l->Stop();
  });
  if (!st.ok()) return Fail(st);
  std::fprintf(stderr, "inlinesecd: running, control socket %s\n", socket_path.c_str());
  l->Run();
  l->Remove(sig_fd);
  close(sig_fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return inlinesec::GuardedMain("inlinesecd", [&] { return Run(argc, argv); });
}
