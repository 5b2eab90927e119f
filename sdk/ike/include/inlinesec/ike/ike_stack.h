// IkeStack: the public face of the IKEv2 core. Sans-I/O: the owner feeds
// received UDP payloads to Receive() and gets datagrams to send through the
// send callback; time comes from the injected Clock/Timers, randomness from
// Random, Child SAs go out through SaInstaller and what happens is reported
// to an IkeObserver. One IkeStack serves many connections and IKE SAs.
// It is not thread-safe: call it, and run its Timers, from one event loop.
// Observer callbacks run inside those calls and must not call back into the
// stack synchronously (queue the work instead).
//
// The gateway's use:
//   IkeStack ike(clock, timers, random, installer, observer, send);
//   ike.AddConnection(std::move(cfg));    // or LoadConfigFile (config.h)
//   ike.Initiate("site-b");               // or wait for the peer
//   ... ike.Receive({src, dst, payload}) for every UDP 500/4500 datagram
//   ... ike.SendInvalidSpi(peer, spi), ike.RekeyChild(id), ike.DeleteIke(id)
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inlinesec/common/clock.h"
#include "inlinesec/common/status.h"
#include "inlinesec/ike/crypto/random.h"
#include "inlinesec/ike/sa/config.h"
#include "inlinesec/ike/sa/ike_sa.h"
#include "inlinesec/ike/sa/sa_installer.h"

namespace inlinesec::ike {

// One UDP datagram. On port 4500 the payload carries the 4-byte non-ESP
// marker (RFC 3948 §2.2) in both directions; the stack adds and strips it.
struct Datagram {
  Endpoint src;
  Endpoint dst;
  Bytes payload;
};

struct IkeSaInfo {
  std::uint64_t id = 0;
  std::string connection;
  std::uint64_t spi_i = 0, spi_r = 0;
  bool original_initiator = false;
  Endpoint local, remote;
  Identity peer_id;
  IkeSaState state = IkeSaState::kConnecting;
  bool nat = false;
};

struct ChildSaInfo {
  std::uint64_t id = 0;
  std::uint64_t ike_sa_id = 0;
  std::string connection;
  std::string child;
  std::uint32_t spi_in = 0, spi_out = 0;
  ChildAlgorithms alg;
  IpsecMode mode = IpsecMode::kTunnel;
  std::vector<TrafficSelector> local_ts, remote_ts;
};

class IkeObserver {
 public:
  virtual ~IkeObserver() = default;
  virtual void OnIkeSaUp(const IkeSaInfo&) {}
  virtual void OnIkeSaDown(const IkeSaInfo&, DownReason) {}
  virtual void OnIkeSaRekeyed(const IkeSaInfo& /*old_sa*/, const IkeSaInfo& /*new_sa*/) {}
  virtual void OnChildSaUp(const ChildSaInfo&) {}
  virtual void OnChildSaDown(const ChildSaInfo&) {}
  virtual void OnChildSaRekeyed(const ChildSaInfo& /*old_sa*/, const ChildSaInfo& /*new_sa*/) {}
  // RFC 7296 §1.5: `is_protected` INVALID_SPI came in an authenticated
  // INFORMATIONAL; otherwise it is only a hint.
  virtual void OnInvalidSpi(const Endpoint& /*peer*/, std::uint32_t /*spi*/,
                            bool /*is_protected*/) {}
  // RFC 7296 §2.4: the peer restarted; its older IKE SAs were dropped.
  virtual void OnInitialContact(const IkeSaInfo&) {}
};

struct IkeStackOptions {
  // RFC 7296 §2.6: half-open IKE SAs beyond which IKE_SA_INIT requests must
  // carry a valid COOKIE (0: always).
  std::size_t cookie_threshold = 128;
  // A responder IKE SA that is not authenticated by then is dropped.
  Duration half_open_timeout = std::chrono::seconds(30);
};

class IkeStack {
 public:
  using SendFn = std::function<void(const Datagram&)>;

  IkeStack(const Clock& clock, Timers& timers, Random& random, SaInstaller& installer,
           IkeObserver& observer, SendFn send, IkeStackOptions options = {});
  ~IkeStack();
  IkeStack(const IkeStack&) = delete;
  IkeStack& operator=(const IkeStack&) = delete;

  [[nodiscard]] Status AddConnection(ConnectionConfig config);
  // Starts IKE_SA_INIT + IKE_AUTH (+ first Child SA); returns the IKE SA id.
  [[nodiscard]] Result<std::uint64_t> Initiate(std::string_view connection);
  void Receive(const Datagram& datagram);

  // Operations on established SAs (ids from the observer or the lists).
  [[nodiscard]] Status CreateChild(std::uint64_t ike_sa_id, std::string_view child_name);
  [[nodiscard]] Status RekeyChild(std::uint64_t child_id);
  [[nodiscard]] Status RekeyIke(std::uint64_t ike_sa_id);
  [[nodiscard]] Status DeleteChild(std::uint64_t child_id);
  [[nodiscard]] Status DeleteIke(std::uint64_t ike_sa_id);
  [[nodiscard]] Status SendDpd(std::uint64_t ike_sa_id);
  // DESIGN.md decision 5: a protected INVALID_SPI to the peer of an
  // established IKE SA; kNotFound if there is none.
  [[nodiscard]] Status SendInvalidSpi(const Endpoint& peer, std::uint32_t spi);
  // Decision 2 when this stack no longer holds the Child SA whose inbound
  // SPI was `spi` (expired or deleted here while the peer still sends on
  // it): INVALID_SPI and a Delete (protocol ESP) for `spi` in one protected
  // INFORMATIONAL over the established IKE SA with `peer`, so the peer drops
  // its outbound SA. A local Child SA with that inbound SPI, if any, is
  // removed when the peer answers. kNotFound if there is no IKE SA.
  [[nodiscard]] Status SendInvalidSpiWithDelete(const Endpoint& peer, std::uint32_t spi);
  // RFC 7296 §1.5: ESP with SPI `spi` came from `remote` (to `local`) and no
  // IKE SA covers it. Sends a one-way INFORMATIONAL with an INVALID_SPI
  // notify and no protection: random initiator SPI, zero responder SPI,
  // Initiator flag set, Response flag clear, Message ID 0; on port 4500
  // behind the non-ESP marker. The peer may treat it only as a hint and
  // never answers it. Sent at once: the caller rate-limits (it is an
  // amplifier for spoofed sources).
  void SendUnprotectedInvalidSpi(const Endpoint& local, const Endpoint& remote, std::uint32_t spi);
  // Byte/packet lifetime events from the datapath: soft -> rekey, hard ->
  // delete (by our inbound SPI).
  [[nodiscard]] Status ChildSaExpired(std::uint32_t spi_in, bool hard);
  // Inbound ESP arrived on this Child SA: the peer is alive, so DPD need
  // not probe it (RFC 7296 §2.4). Cheap; call it at most once per DPD
  // interval per SA from the datapath's counters.
  void ChildSaTrafficSeen(std::uint32_t spi_in);

  std::vector<IkeSaInfo> IkeSas() const;
  std::vector<ChildSaInfo> ChildSas() const;
  // Read-only access for tests and diagnostics.
  const IkeSa* FindIkeSa(std::uint64_t id) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inlinesec::ike
