// Gateway: the core of inlinesecd as a library, so that tests can run two
// gateways (in one process or in network namespaces). It owns the device
// (opened by URI), the SA manager, the exception consumer and the recovery
// engine, a UDP socket (ESP in UDP and IKE on 4500), an optional raw ESP
// socket and a TUN device for plaintext, all driven by one EventLoop.
//
// Packet path (docs/gateway.md):
//   TUN -> connection by traffic selector -> Engine::Transmit (outbound SA
//   by table index) -> ESP after the UDP header to peer:4500, or raw ESP;
//   UDP 4500 / raw ESP -> outer IPv4 (+UDP) header rebuilt from the socket
//   addresses -> Engine::Receive -> decrypted: TUN; IKE: the IKE seam.
//   Exception ring -> counters, SA lifetime events and RecoveryEngine, whose
//   RecoveryHost is implemented here over the SA manager's shadow.
//
// Child SAs are installed through InstallChild(): today from the static
// ("manual") keys of the configuration; the IKE stack's SaInstaller adapter
// is meant to call the same function (see docs/gateway.md, "IKE seam").
//
// Threading: everything runs on the EventLoop's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inlinesec/common/clock.h"
#include "inlinesec/common/status.h"
#include "inlinesec/gateway/config.h"
#include "inlinesec/gateway/event_loop.h"

namespace inlinesec::gateway {

// Datapath counters kept by the gateway (the engine's own are in regs).
struct DatapathCounters {
  std::uint64_t tun_rx = 0;          // plaintext packets read from the TUN
  std::uint64_t tun_non_ipv4 = 0;    // dropped: not IPv4
  std::uint64_t tx_no_route = 0;     // dropped: no connection's selectors match
  std::uint64_t tx_no_sa = 0;        // dropped: the connection has no outbound SA
  std::uint64_t tx_esp = 0;          // ESP packets sent
  std::uint64_t tx_engine_drop = 0;  // Transmit refused (exception ring has why)
  std::uint64_t tx_send_errors = 0;  // sendto failed
  std::uint64_t rx_udp = 0;          // datagrams read from the UDP socket
  std::uint64_t rx_raw = 0;          // packets read from the raw ESP socket
  std::uint64_t rx_decrypted = 0;    // inner packets written to the TUN
  std::uint64_t rx_failed = 0;       // Receive failed (exception ring has why)
  std::uint64_t rx_bypass = 0;       // not ESP
  std::uint64_t ike_rx = 0;          // non-ESP-marker datagrams (IKE)
  std::uint64_t ike_unhandled = 0;   // IKE datagrams with no IKE stack wired
  std::uint64_t keepalives = 0;      // NAT-T keepalives
  std::uint64_t tun_write_errors = 0;
  std::uint64_t resyncs = 0;         // SA table re-programmed from the shadow
  std::uint64_t tx_resync = 0;       // ... of those, after outbound kTxNoSa
  std::uint64_t epoch_resync = 0;    // ... of those, after an epoch change
  std::uint64_t log_suppressed = 0;  // decision lines not printed (log limit)
};

// One direction of a Child SA to install (from static keys or from IKE).
struct ChildSaSpec {
  std::string connection;
  std::uint32_t spi_in = 0;  // must obey the SA manager's indexing rule
  std::uint32_t spi_out = 0;
  sdk::AeadAlgo algo = sdk::AeadAlgo::kAesGcm256;
  const SecureBytes* key_in = nullptr;  // key | 4-byte salt
  const SecureBytes* key_out = nullptr;
  std::uint32_t replay_window = 128;
  bool esn = false;
};

class Gateway {
 public:
  // Opens the device, sockets and TUN and installs the static SAs.
  [[nodiscard]] static Result<std::unique_ptr<Gateway>> Create(GatewayConfig config,
                                                               const Clock& clock, Timers& timers,
                                                               EventLoop& loop);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Installs both directions of a Child SA for a configured connection.
  [[nodiscard]] Status InstallChild(const ChildSaSpec& spec);

  // --- control (each returns one JSON object as text) ---
  std::string StatusJson();
  std::string SasJson();
  std::string CountersJson();
  std::string RegsJson();
  // Bring-up and tests (config allow_faults): "reset" (Device::Reset: the
  // SA table is wiped, the driver knows), "reset-behind" (CTRL.reset written
  // behind the driver's back: the epoch check notices), "flush" (FlushTable),
  // "lose-child" (the first IKE-keyed connection's inbound Child SA removed
  // from the engine and the shadow without telling the peer).
  [[nodiscard]] Result<std::string> InjectFault(std::string_view kind);
  // Operator actions on the IKE stack, applied to every matching SA:
  // "rekey-child", "rekey-ike", "delete-child", "delete-ike" (established
  // SAs) and "initiate" (every IKE-keyed connection). Returns the ids acted on.
  [[nodiscard]] Result<std::string> IkeCommand(std::string_view kind);

  // The live event stream: exception events (limited to 200/s per
  // subscriber set, with a count of those left out) and recovery decisions,
  // one JSON object per call.
  using Subscriber = std::function<void(const std::string& json)>;
  std::uint64_t Subscribe(Subscriber s);
  void Unsubscribe(std::uint64_t id);

  // The IKE seam: datagrams with the non-ESP marker go to `handler` (marker
  // included, as RFC 3948 §2.2 puts it on the wire); SendIke sends one from
  // the UDP socket.
  using IkeHandler = std::function<void(const sdk::IpAddress& from, std::uint16_t sport,
                                        std::span<const std::uint8_t> datagram)>;
  void SetIkeHandler(IkeHandler handler);
  [[nodiscard]] Status SendIke(const sdk::IpAddress& to, std::uint16_t dport,
                               std::span<const std::uint8_t> datagram);

  const DatapathCounters& counters() const;
  const GatewayConfig& config() const;

 private:
  struct Impl;
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace inlinesec::gateway
