// Network namespace lifecycle for interop tests, through iproute2.
#include "netns.h"

#include <unistd.h>

#include <csignal>
#include <sstream>
#include <utility>

#include "process.h"

namespace inlinesec::testing {

Result<NetNs> NetNs::Create(const std::string& name) {
  std::string out;
  RunCommand({"ip", "netns", "del", name}, &out);  // stale one from a crashed run
  out.clear();
  if (RunCommand({"ip", "netns", "add", name}, &out) != 0) {
    return Status(Code::kUnavailable, "ip netns add " + name + " failed: " + out);
  }
  NetNs ns;
  ns.name_ = name;
  INLINESEC_RETURN_IF_ERROR(ns.Ip({"link", "set", "lo", "up"}));
  return ns;
}

NetNs::~NetNs() { Destroy(); }

NetNs::NetNs(NetNs&& o) noexcept : name_(std::exchange(o.name_, {})) {}

NetNs& NetNs::operator=(NetNs&& o) noexcept {
  if (this != &o) {
    Destroy();
    name_ = std::exchange(o.name_, {});
  }
  return *this;
}

void NetNs::Destroy() {
  if (name_.empty()) return;
  std::string pids;
  RunCommand({"ip", "netns", "pids", name_}, &pids);
  std::stringstream ss(pids);
  pid_t pid = 0;
  while (ss >> pid) {
    if (pid > 1) kill(pid, SIGKILL);
  }
  RunCommand({"ip", "netns", "del", name_});
  name_.clear();
}

Status NetNs::Ip(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"ip", "-n", name_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  if (RunCommand(argv, &out) != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    return Status(Code::kInternal, cmd + "failed: " + out);
  }
  return Status::Ok();
}

std::vector<std::string> NetNs::Exec(const std::vector<std::string>& argv) const {
  std::vector<std::string> full{"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

int NetNs::Run(const std::vector<std::string>& argv, std::string* output) const {
  return RunCommand(Exec(argv), output);
}

std::string UniqueNsName(const std::string& tag) {
  return "isec-" + tag + "-" + std::to_string(getpid());
}

Status AddVethPair(const NetNs& a, const std::string& a_if, const std::string& a_cidr,
                   const NetNs& b, const std::string& b_if, const std::string& b_cidr) {
  std::string out;
  if (RunCommand({"ip", "link", "add", a_if, "netns", a.name(), "type", "veth", "peer", "name",
                  b_if, "netns", b.name()},
                 &out) != 0) {
    return Status(Code::kInternal, "veth pair " + a_if + "/" + b_if + " failed: " + out);
  }
  INLINESEC_RETURN_IF_ERROR(a.Ip({"addr", "add", a_cidr, "dev", a_if}));
  INLINESEC_RETURN_IF_ERROR(b.Ip({"addr", "add", b_cidr, "dev", b_if}));
  INLINESEC_RETURN_IF_ERROR(a.Ip({"link", "set", a_if, "up"}));
  return b.Ip({"link", "set", b_if, "up"});
}

std::string NetNsUnavailableReason() {
  if (!IsRoot()) return "needs root to create network namespaces";
  if (!HaveProgram("ip")) return "iproute2 (ip) is not installed";
  const std::string probe = UniqueNsName("probe");
  auto ns = NetNs::Create(probe);
  if (!ns.ok()) return "cannot create a network namespace: " + ns.status().message();
  return "";
}

std::string TunTestUnavailableReason(std::string base,
                                     std::initializer_list<const char*> programs) {
  if (!base.empty()) return base;
  if (access("/dev/net/tun", R_OK | W_OK) != 0) return "no /dev/net/tun";
  for (const char* p : programs)
    if (!HaveProgram(p)) return std::string(p) + " not installed";
  return "";
}

}  // namespace inlinesec::testing
