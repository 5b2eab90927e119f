// Gateway: an inline IPsec gateway between two DPDK ports, written the way a
// DPDK application is: it takes the rte_security context once from
// InlineSecurity::security_ctx() and from then on uses only standard calls
// (rte_security_capability_get, rte_security_session_create on its own
// session mempool, rte_security_set_pkt_metadata, session stats/destroy).
// Poll() moves one burst each way:
//   unprotected rx -> outbound selector -> set metadata, TX_SEC_OFFLOAD ->
//     InlineSecurity::TxBurst (ESP) on the protected port;
//   protected rx -> InlineSecurity::RxBurst (decrypt) -> unprotected tx.
// Single lcore: Poll() and PollControl() from the same thread.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateway_config.h"
#include "inlinesec/dpdk/inline_security.h"

namespace inlinesec::dpdk_gateway {

struct GatewayStats {
  std::uint64_t out_rx = 0;         // plain packets read on the unprotected port
  std::uint64_t out_protected = 0;  // sent as ESP
  std::uint64_t out_bypassed = 0;   // no policy, forwarded in clear (bypass_unmatched)
  std::uint64_t out_no_policy = 0;  // no policy, dropped
  std::uint64_t out_failed = 0;     // engine or port refused
  std::uint64_t in_rx = 0;          // packets read on the protected port
  std::uint64_t in_decrypted = 0;   // decrypted and forwarded
  std::uint64_t in_failed = 0;      // RX_SEC_OFFLOAD_FAILED (exception event posted)
  std::uint64_t in_plain = 0;       // non-ESP on the protected side
  std::uint64_t in_tx_drops = 0;    // unprotected port did not take them
};

// Configures and starts an ethdev with one rx and one tx queue.
[[nodiscard]] Status SetupPort(std::uint16_t port, rte_mempool* mbufs, std::uint16_t rxd = 1024,
                               std::uint16_t txd = 1024);

class Gateway {
 public:
  static constexpr std::uint16_t kBurst = 32;

  // Creates one rte_security session per configured SA on `sec`'s context.
  [[nodiscard]] static Result<std::unique_ptr<Gateway>> Create(const GatewayConfig& config,
                                                               dpdk::InlineSecurity& sec,
                                                               std::uint16_t protected_port,
                                                               std::uint16_t unprotected_port);
  ~Gateway();  // destroys the sessions
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // One burst each way. Returns the packets forwarded.
  std::uint32_t Poll();
  // Exception ring, lifetimes and timers (control work; call every few ms).
  [[nodiscard]] Status PollControl();

  const GatewayStats& stats() const { return stats_; }
  // The rte_security session of a configured SA (null if no such name).
  void* session(const std::string& sa_name) const;
  rte_security_ctx* ctx() const { return ctx_; }

 private:
  struct Route {
    Policy policy;
    void* session = nullptr;
  };
  Gateway(dpdk::InlineSecurity& sec, std::uint16_t prot, std::uint16_t unprot)
      : sec_(sec), prot_(prot), unprot_(unprot) {}
  Status AddSession(const SaConfig& sa);
  // The outbound session for a plain frame (null: no policy).
  void* Classify(rte_mbuf* m) const;
  void SetMacs(rte_mbuf* m, bool to_protected) const;

  dpdk::InlineSecurity& sec_;
  rte_security_ctx* ctx_ = nullptr;
  std::uint16_t prot_;
  std::uint16_t unprot_;
  rte_mempool* sess_pool_ = nullptr;
  std::vector<std::pair<std::string, void*>> sessions_;
  std::vector<Route> routes_;
  std::array<std::uint8_t, 6> prot_hop_{};
  std::array<std::uint8_t, 6> unprot_hop_{};
  std::array<std::uint8_t, 6> prot_mac_{};
  std::array<std::uint8_t, 6> unprot_mac_{};
  bool bypass_ = false;
  GatewayStats stats_;
};

}  // namespace inlinesec::dpdk_gateway
