// RecoveryEngine: the invalid-SPI recovery policy (DESIGN decision 5), sans
// I/O. The gateway feeds it SPI-miss events from the exception ring; it
// aggregates them by (peer, SPI), decides, rate-limits every action and
// counts every decision and every drop. The actions themselves (resync an
// SA, send a protected INVALID_SPI, initiate IKE with INITIAL_CONTACT) are
// requests to a RecoveryHost that the gateway implements over the SA manager
// and the IKE stack. Decisions, in order, for a miss of SPI s from peer P:
//   1. s is shadowed by the SA manager but missing in the engine: resync it
//      (local; no IKE traffic).
//   2. an IKE SA with P exists: INVALID_SPI in a protected INFORMATIONAL
//      (RFC 7296 §1.5), plus a Delete when s was one of our Child SAs (many
//      peers, strongSwan among them, ignore the notify but honour Delete).
//   3. no IKE SA, P is a configured static peer: initiate a new IKE SA with
//      INITIAL_CONTACT (RFC 7296 §2.4), so P drops its stale SAs.
//   4. otherwise: count and drop; an unprotected INVALID_SPI only if enabled,
//      under a global limit (it is an amplifier).
// A key that was just acted on is held down: its further misses (the peer's
// in-flight packets) are counted as suppressed, never re-trigger.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>

#include "inlinesec/abi/le.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/common/status.h"
#include "inlinesec/recovery/token_bucket.h"

namespace inlinesec::recovery {

// A peer is an outer IP address (its port may change under NAT).
struct Peer {
  abi::IpAddr addr{};
  bool v6 = false;
  friend bool operator==(const Peer&, const Peer&) = default;
};
std::string PeerToString(const Peer& p);

struct SpiMiss {
  Peer peer;
  std::uint16_t sport = 0;  // UDP source port for ESP in UDP, else 0
  std::uint32_t spi = 0;
};

class RecoveryHost {
 public:
  virtual ~RecoveryHost() = default;
  // Decision 1: the SA manager has an inbound SA with this SPI in its shadow
  // that the engine no longer holds.
  virtual bool ShadowHasInbound(std::uint32_t spi) = 0;
  virtual Status Resync(std::uint32_t spi) = 0;
  // Decision 2.
  virtual bool HasIkeSa(const Peer& peer) = 0;
  // True if `spi` was the inbound SPI of one of our Child SAs with `peer`
  // that is gone (expired, deleted, lost).
  virtual bool WasOurChildSpi(const Peer& peer, std::uint32_t spi) = 0;
  virtual Status SendInvalidSpi(const Peer& peer, std::uint32_t spi, bool with_delete) = 0;
  // Decision 3.
  virtual bool IsStaticPeer(const Peer& peer) = 0;
  virtual Status InitiateWithInitialContact(const Peer& peer) = 0;
  // Decision 4, only when RecoveryPolicy::unprotected_notify is on.
  virtual Status SendUnprotectedInvalidSpi(const Peer& peer, std::uint16_t sport,
                                           std::uint32_t spi) = 0;
  // Receiving side.
  virtual Status RemoveOutboundAndRekey(const Peer& peer, std::uint32_t spi) = 0;
  virtual Status StartLivenessCheck(const Peer& peer) = 0;
};

struct RecoveryPolicy {
  RateLimit notify_per_peer{1, std::chrono::seconds(1), 2};
  RateLimit notify_global{100, std::chrono::seconds(1), 100};
  RateLimit initiate_per_peer{1, std::chrono::seconds(10), 1};
  RateLimit initiate_global{20, std::chrono::seconds(1), 20};
  RateLimit resync_global{1000, std::chrono::seconds(1), 1000};
  bool unprotected_notify = false;
  RateLimit unprotected_global{10, std::chrono::seconds(1), 10};
  RateLimit liveness_per_peer{1, std::chrono::seconds(10), 1};
  // After acting on (peer, SPI) -- or on a peer, for initiations -- further
  // misses within this time are suppressed.
  Duration hold_down = std::chrono::seconds(2);
  // Bound on tracked keys and per-peer buckets (memory under floods).
  std::size_t max_tracked = 65536;
};

enum class Decision : std::uint8_t {
  kResync,
  kNotify,             // protected INVALID_SPI (and Delete when ours)
  kInitiate,           // new IKE SA with INITIAL_CONTACT
  kUnprotectedNotify,  // only when enabled
  kDropUnknown,        // decision 4 without a notify
  kSuppressed,         // held down after a recent action
  kRateLimited,        // decision made, action refused by a limit
  kActionFailed,       // the host could not carry it out
};
const char* DecisionName(Decision d);

// One line per decision, for logs and the event stream.
struct DecisionRecord {
  TimePoint at;
  Peer peer;
  std::uint32_t spi = 0;
  Decision decision = Decision::kDropUnknown;
  Decision intended = Decision::kDropUnknown;  // what a limit refused, if kRateLimited
  std::uint32_t folded = 1;                    // events of this batch behind it
};
std::string ToString(const DecisionRecord& r);

struct RecoveryCounters {
  std::uint64_t events = 0;      // SPI-miss events received
  std::uint64_t aggregated = 0;  // folded into an event with the same key in a batch
  std::uint64_t suppressed = 0;  // held down after an action on the same key
  std::uint64_t resync = 0;
  std::uint64_t notify = 0;
  std::uint64_t notify_with_delete = 0;
  std::uint64_t initiate = 0;
  std::uint64_t unprotected_notify = 0;
  std::uint64_t drop_unknown = 0;
  std::uint64_t rate_limited_resync = 0;
  std::uint64_t rate_limited_notify = 0;
  std::uint64_t rate_limited_initiate = 0;
  std::uint64_t rate_limited_unprotected = 0;
  std::uint64_t action_failed = 0;
  std::uint64_t untracked = 0;  // tracking table full: acted without hold-down
  std::uint64_t protected_invalid_spi_received = 0;
  std::uint64_t unprotected_invalid_spi_received = 0;
  std::uint64_t liveness_checks = 0;
  std::uint64_t rate_limited_liveness = 0;
};

class RecoveryEngine {
 public:
  RecoveryEngine(const RecoveryPolicy& policy, const Clock& clock, RecoveryHost& host);

  // Classifies and acts on a batch of SPI misses (as drained from the ring).
  void OnSpiMisses(std::span<const SpiMiss> batch);
  void OnSpiMiss(const SpiMiss& miss) { OnSpiMisses({&miss, 1}); }

  // IKE with `peer` came up: misses from it may be acted on at once again.
  void OnIkeSaUp(const Peer& peer);
  // A protected INVALID_SPI from `peer` names our outbound SPI `spi`.
  void OnProtectedInvalidSpi(const Peer& peer, std::uint32_t spi);
  // An unprotected INVALID_SPI is only a hint: a rate-limited liveness check.
  void OnUnprotectedInvalidSpi(const Peer& peer, std::uint32_t spi);
  // Our outbound traffic to `peer` flows while nothing comes back
  // (TrafficWatch): a liveness check, under the same per-peer limit.
  // Returns true if one was started.
  bool OnTrafficStall(const Peer& peer);

  const RecoveryCounters& counters() const { return counters_; }
  // Called for every decision (the gateway logs it in one line).
  void set_observer(std::function<void(const DecisionRecord&)> obs) { observer_ = std::move(obs); }

 private:
  struct Key {
    Peer peer;
    std::uint32_t spi;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct PeerHash {
    std::size_t operator()(const Peer& p) const;
  };
  struct PeerState {
    TokenBucket notify, initiate, liveness;
    TimePoint initiated_until{};  // hold-down of a whole peer after initiating
  };

  void Decide(const SpiMiss& miss, std::uint32_t folded, TimePoint now);
  bool HeldDown(const Key& key, TimePoint now);
  void Hold(const Key& key, TimePoint until);
  PeerState* PeerFor(const Peer& peer, TimePoint now);
  void Record(TimePoint now, const SpiMiss& m, Decision d, Decision intended, std::uint32_t folded);
  void Prune(TimePoint now);

  RecoveryPolicy policy_;
  const Clock& clock_;
  RecoveryHost& host_;
  TokenBucket notify_global_, initiate_global_, resync_global_, unprotected_global_;
  std::unordered_map<Key, TimePoint, KeyHash> held_;  // key -> hold-down end
  std::unordered_map<Peer, PeerState, PeerHash> peers_;
  std::unordered_map<Key, std::uint32_t, KeyHash> batch_;  // scratch for aggregation
  RecoveryCounters counters_;
  std::function<void(const DecisionRecord&)> observer_;
};

}  // namespace inlinesec::recovery
