// StrongswanPeer: one charon (strongSwan 5.9) instance inside a test's network
// namespace, with its own strongswan.conf, run directory (bind-mounted over
// /run, because charon hard-codes its pid file there), vici socket and log,
// and kernel-libipsec as its userspace ESP datapath (ESP in UDP 4500 through
// a TUN device). Tests drive it through one persistent vici connection.
// The recipe is in docs/interop.md.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "inlinesec/common/status.h"
#include "netns.h"
#include "process.h"
#include "vici.h"

namespace inlinesec::testing {

inline constexpr const char* kCharonPath = "/usr/lib/ipsec/charon";

// Why strongSwan interop cannot run here ("" if it can).
std::string StrongswanUnavailableReason();

struct ChildConfig {
  std::string name = "c";
  std::vector<std::string> local_ts, remote_ts;
  std::string esp_proposal = "aes256gcm16";
  std::string mode = "tunnel";
  std::string start_action = "none";
  std::string rekey_time;  // "" = charon default
};

struct ConnConfig {
  std::string name = "t";
  std::string local_addr, remote_addr;
  std::string local_id, remote_id;
  std::string proposal = "aes256gcm16-prfsha256-curve25519";
  std::string rekey_time;  // IKE SA rekey interval, "" = default
  std::string dpd_delay;   // "" = off
  std::vector<ChildConfig> children;
};

class StrongswanPeer {
 public:
  // Starts charon in `ns`, with `dir` as its private work directory (created).
  static Result<std::unique_ptr<StrongswanPeer>> Start(const NetNs& ns, const std::string& dir,
                                                       std::chrono::milliseconds timeout);
  ~StrongswanPeer();

  ViciClient& vici() { return vici_; }
  const std::string& log_path() const { return log_path_; }

  // `secret` is the PSK's raw bytes (vici does not decode "0x..." hex).
  Status LoadPsk(const std::string& local_id, const std::string& remote_id,
                 const std::string& secret);
  Status LoadConn(const ConnConfig& conn);
  Status Initiate(const std::string& child, std::chrono::milliseconds timeout);
  // Every IKE SA as vici's list-sa events report it.
  Result<std::vector<ViciSection>> ListSas();
  // Number of Child SAs in state INSTALLED across all IKE SAs.
  Result<int> InstalledChildren();
  // SIGTERM (charon deletes its SAs) or SIGKILL (a crash).
  void Stop(int sig);

 private:
  StrongswanPeer() = default;
  std::string dir_, log_path_;
  Process charon_;
  ViciClient vici_;
};

}  // namespace inlinesec::testing
