// NetNs: a network namespace owned by one test. Creating it removes a stale
// namespace of the same name (left by a crashed run); destroying it kills
// every process inside and deletes it, so tests always tear down what they
// made. Only addresses inside these namespaces are ever used.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "inlinesec/common/status.h"

namespace inlinesec::testing {

class NetNs {
 public:
  static Result<NetNs> Create(const std::string& name);
  NetNs() = default;
  ~NetNs();
  NetNs(NetNs&& o) noexcept;
  NetNs& operator=(NetNs&& o) noexcept;
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;

  const std::string& name() const { return name_; }
  // Runs `ip -n <name> args...`; the error carries ip's output.
  Status Ip(const std::vector<std::string>& args) const;
  // argv prefixed with `ip netns exec <name>`.
  std::vector<std::string> Exec(const std::vector<std::string>& argv) const;
  // Runs a command inside the namespace to completion; returns the exit code.
  int Run(const std::vector<std::string>& argv, std::string* output = nullptr) const;

 private:
  void Destroy();
  std::string name_;
};

// A namespace name unique to this test process: "isec-<tag>-<pid>".
std::string UniqueNsName(const std::string& tag);

// Joins two namespaces with a veth pair and gives each end an address
// ("192.168.77.1/24"), then brings both up.
Status AddVethPair(const NetNs& a, const std::string& a_if, const std::string& a_cidr,
                   const NetNs& b, const std::string& b_if, const std::string& b_cidr);

// Why namespace tests cannot run here ("" if they can): not root, no `ip`,
// or namespace creation refused.
std::string NetNsUnavailableReason();

// Why a test that runs TUN gateways in namespaces cannot run here ("" if it
// can): `base` if it is not empty (NetNsUnavailableReason() or
// StrongswanUnavailableReason()), then a missing /dev/net/tun, then the
// first of `programs` not installed.
std::string TunTestUnavailableReason(std::string base,
                                     std::initializer_list<const char*> programs = {});

}  // namespace inlinesec::testing
