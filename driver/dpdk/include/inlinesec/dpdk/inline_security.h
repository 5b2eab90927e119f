// InlineSecurity: the inlinesec engine as a DPDK application sees it. It owns
// a Device, the SA manager and the exception consumer, and presents:
//  - an rte_security_ctx (INLINE_PROTOCOL, IPsec ESP) whose ops create,
//    update, destroy and count sessions through sdk::SaManager. security_ctx()
//    is the one inlinesec call an application makes; everything after it is
//    standard rte_security_* (session_create with a mempool,
//    set_pkt_metadata, session_stats_get, session_destroy, capabilities).
//  - IPsec events the way DPDK applications take them: an rte_eth_dev_cb_fn
//    called with RTE_ETH_EVENT_IPSEC and a struct rte_eth_event_ipsec_desc
//    (subtype, metadata = session userdata) for soft/hard lifetimes and
//    sequence-number overflow, and sdk::Event sinks for SPI misses and the
//    other packet exceptions.
//  - burst functions between an ethdev port and the application that run
//    the engine in place on single-segment mbufs (L2 kept around the engine's
//    IP-level Frame, no per-packet allocation). Failures move to the tail.
//
// Debian's DPDK ships no ethdev driver headers, so the context is not
// attached to a port (rte_eth_dev_get_sec_ctx returns NULL for vdevs); the
// application takes it from security_ctx() instead.
//
// Threading: the rte_security_* calls, PollEvents() and the event callbacks
// run on one control thread; the burst functions on one datapath lcore. The
// engine is shared through ModelTransport's mutex.
#pragma once

#include <rte_cryptodev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_security.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inlinesec/common/clock.h"
#include "inlinesec/common/status.h"
#include "inlinesec/driver/device.h"
#include "inlinesec/sdk/events.h"
#include "inlinesec/sdk/sa_manager.h"

namespace inlinesec::driver {
class ModelTransport;
}
namespace inlinesec::model {
class Engine;
}

namespace inlinesec::dpdk {

struct InlineSecurityOptions {
  // Engine behind the context (see driver/uri.h). The burst functions need
  // the in-process model ("model:..."): with it the host runs the engine
  // where a card would run it inline on its port.
  std::string device_uri = "model:";
  // Injected time; null = a SystemClock and timers run by PollEvents().
  const Clock* clock = nullptr;
  Timers* timers = nullptr;
  sdk::SaManagerOptions sa_options;
  // Port id reported to the IPsec event callback.
  std::uint16_t event_port_id = 0;
};

// What the IPsec event callback receives as `ret_param`: DPDK's descriptor
// first (so a callback written for RTE_ETH_EVENT_IPSEC works unchanged),
// then what DPDK has no subtype for.
struct IpsecEvent {
  rte_eth_event_ipsec_desc desc;  // subtype, metadata = session userdata
  sdk::SaEventKind kind;          // exact kind (kHardTime has no DPDK subtype)
  bool hard;                      // the SA stopped: packets are dropped
  std::uint32_t spi;
};

// Datapath counters (burst functions), per InlineSecurity.
struct BurstStats {
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_decrypted = 0;
  std::uint64_t rx_failed = 0;    // engine refused (exception entry posted)
  std::uint64_t rx_bypass = 0;    // not ESP (or IKE): untouched
  std::uint64_t rx_multiseg = 0;  // rejected: multi-segment mbuf
  std::uint64_t rx_bad_l2 = 0;    // rejected: runt frame
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_encrypted = 0;
  std::uint64_t tx_failed = 0;      // engine refused (exception entry posted)
  std::uint64_t tx_bypass = 0;      // no RTE_MBUF_F_TX_SEC_OFFLOAD
  std::uint64_t tx_multiseg = 0;    // rejected: multi-segment mbuf
  std::uint64_t tx_no_room = 0;     // rejected: headroom/tailroom too small
  std::uint64_t tx_bad_l2 = 0;      // rejected: not Ethernet + IPv4/IPv6
  std::uint64_t tx_no_session = 0;  // rejected: no session metadata set
};

// The session's private data (inside the rte_security session object).
struct SessionInfo {
  sdk::SaHandle handle;
  bool inbound = false;
  std::uint64_t userdata = 0;
};

class InlineSecurity {
 public:
  // Opens the device, brings up the SA manager and exception consumer and
  // builds the rte_security context. EAL must be running (the mbuf dynamic
  // field for session metadata is registered here).
  [[nodiscard]] static Result<std::unique_ptr<InlineSecurity>> Create(
      const InlineSecurityOptions& options = {});
  ~InlineSecurity();
  InlineSecurity(const InlineSecurity&) = delete;
  InlineSecurity& operator=(const InlineSecurity&) = delete;

  // The rte_security context (valid while this object lives).
  rte_security_ctx* security_ctx() { return &ctx_; }

  // Why the last rte_security_* call on this context failed (DPDK's API
  // returns only NULL or -errno; rte_errno is set too).
  const Status& last_error() const { return last_error_; }
  // SA behind a session (for an inbound session created with spi 0: the
  // allocated SPI is info->handle.spi). Null if `sess` is not ours.
  const SessionInfo* Session(void* sess) const;

  // --- events ---
  // Called with RTE_ETH_EVENT_IPSEC and an IpsecEvent* as ret_param.
  void SetIpsecEventCallback(rte_eth_dev_cb_fn cb, void* arg) {
    event_cb_ = cb;
    event_arg_ = arg;
  }
  // Packet exceptions (SPI miss, replay, ICV, ...) as sdk::Events.
  void AddExceptionSink(sdk::ExceptionConsumer::Sink sink) { events_->AddSink(std::move(sink)); }
  // Drains the exception ring (dispatching to the sinks and the SA manager,
  // which raises lifetime events) and fires due timers of the internal
  // clock. Call from the control loop. Returns the exception events handled.
  [[nodiscard]] Result<std::size_t> PollEvents();

  // --- datapath (one lcore) ---
  // Outbound, in place: mbufs flagged RTE_MBUF_F_TX_SEC_OFFLOAD with session
  // metadata (rte_security_set_pkt_metadata) become ESP (the flag is cleared,
  // so a retry never encrypts twice); others pass untouched. Returns k: the
  // first k are ready to send, the failed ones are moved (in order) to the tail.
  std::uint16_t ProcessOutbound(rte_mbuf** pkts, std::uint16_t n);
  // Inbound, in place: ESP is decrypted (RTE_MBUF_F_RX_SEC_OFFLOAD, the
  // session userdata in the rte_security dynamic field), non-ESP passes.
  // Returns k: the first k are good; the tail holds the failed ones, flagged
  // RTE_MBUF_F_RX_SEC_OFFLOAD | RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED (each with
  // an exception entry, unless rejected as multi-segment or runt).
  std::uint16_t ProcessInbound(rte_mbuf** pkts, std::uint16_t n);
  // rte_eth_rx_burst + ProcessInbound. Returns the packets received; *nb_ok
  // (if given) the good ones at the front.
  std::uint16_t RxBurst(std::uint16_t port, std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n,
                        std::uint16_t* nb_ok = nullptr);
  // ProcessOutbound + rte_eth_tx_burst. Returns the packets sent; the caller
  // still owns pkts[sent, n) (unsent good ones first, then failed ones).
  std::uint16_t TxBurst(std::uint16_t port, std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n);
  const BurstStats& stats() const { return stats_; }

  // --- the SDK underneath (control thread) ---
  sdk::SaManager& sa_manager() { return *sas_; }
  sdk::ExceptionConsumer& exceptions() { return *events_; }
  driver::Device& device() { return *device_; }

  // Implementation of the rte_security ops (security_ops.cc); public so the
  // C callbacks can reach them, not for applications.
  int OpSessionCreate(rte_security_session_conf* conf, void* sess);
  int OpSessionUpdate(void* sess, rte_security_session_conf* conf);
  int OpSessionDestroy(void* sess);
  int OpStatsGet(void* sess, rte_security_stats* stats);
  int OpSetPktMetadata(void* sess, rte_mbuf* m);
  const rte_security_capability* OpCapabilities() const { return caps_.data(); }

 private:
  class PollTimers;
  InlineSecurity() = default;
  Status Init(const InlineSecurityOptions& options);
  void BuildCapabilities();
  int Fail(Status st);
  void OnSaEvent(const sdk::SaEvent& e);
  bool InboundOne(model::Engine& engine, rte_mbuf* m);
  bool OutboundOne(model::Engine& engine, rte_mbuf* m);

  std::unique_ptr<SystemClock> own_clock_;
  std::unique_ptr<PollTimers> own_timers_;
  const Clock* clock_ = nullptr;
  Timers* timers_ = nullptr;
  std::unique_ptr<driver::Device> device_;
  driver::ModelTransport* model_ = nullptr;
  std::unique_ptr<sdk::SaManager> sas_;
  std::unique_ptr<sdk::ExceptionConsumer> events_;

  rte_security_ctx ctx_{};
  std::vector<rte_cryptodev_capabilities> crypto_caps_;
  std::vector<rte_security_capability> caps_;
  Status last_error_;
  rte_eth_dev_cb_fn event_cb_ = nullptr;
  void* event_arg_ = nullptr;
  std::uint16_t event_port_ = 0;
  // Outbound SPI per table index, checked against TX metadata. Written by
  // the control thread, read by the datapath lcore (relaxed atomics: a
  // stale read only lets the engine answer kTxNoSa).
  std::unique_ptr<std::atomic<std::uint32_t>[]> tx_spi_;
  std::uint32_t tx_spi_size_ = 0;
  BurstStats stats_;
};

}  // namespace inlinesec::dpdk
