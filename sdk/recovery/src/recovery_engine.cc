// Invalid-SPI recovery decisions, limits and counters (see the header).
#include "inlinesec/recovery/recovery_engine.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace inlinesec::recovery {
namespace {

std::size_t Mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return static_cast<std::size_t>(h);
}

std::size_t HashPeer(const Peer& p) {
  std::uint64_t a = 0, b = 0;
  std::memcpy(&a, p.addr.data(), 8);
  std::memcpy(&b, p.addr.data() + 8, 8);
  return Mix(Mix(a * 0xff51afd7ed558ccdull, b), p.v6 ? 1 : 0);
}

}  // namespace

std::string PeerToString(const Peer& p) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(p.v6 ? AF_INET6 : AF_INET, p.addr.data(), buf, sizeof buf);
  return buf;
}

const char* DecisionName(Decision d) {
  switch (d) {
    case Decision::kResync:
      return "resync";
    case Decision::kNotify:
      return "notify-invalid-spi";
    case Decision::kInitiate:
      return "initiate-initial-contact";
    case Decision::kUnprotectedNotify:
      return "unprotected-notify";
    case Decision::kDropUnknown:
      return "drop-unknown";
    case Decision::kSuppressed:
      return "suppressed";
    case Decision::kRateLimited:
      return "rate-limited";
    case Decision::kActionFailed:
      return "action-failed";
  }
  return "?";
}

std::string ToString(const DecisionRecord& r) {
  char buf[192];
  const double t = std::chrono::duration<double>(r.at.since_epoch).count();
  if (r.decision == Decision::kRateLimited || r.decision == Decision::kActionFailed) {
    std::snprintf(buf, sizeof buf, "t=%.6f spi-miss peer=%s spi=0x%08x x%u -> %s (%s)", t,
                  PeerToString(r.peer).c_str(), r.spi, r.folded, DecisionName(r.decision),
                  DecisionName(r.intended));
  } else {
    std::snprintf(buf, sizeof buf, "t=%.6f spi-miss peer=%s spi=0x%08x x%u -> %s", t,
                  PeerToString(r.peer).c_str(), r.spi, r.folded, DecisionName(r.decision));
  }
  return buf;
}

std::size_t RecoveryEngine::KeyHash::operator()(const Key& k) const {
  return Mix(HashPeer(k.peer), k.spi);
}

std::size_t RecoveryEngine::PeerHash::operator()(const Peer& p) const { return HashPeer(p); }

RecoveryEngine::RecoveryEngine(const RecoveryPolicy& policy, const Clock& clock, RecoveryHost& host)
    : policy_(policy),
      clock_(clock),
      host_(host),
      notify_global_(policy.notify_global, clock.Now()),
      initiate_global_(policy.initiate_global, clock.Now()),
      resync_global_(policy.resync_global, clock.Now()),
      unprotected_global_(policy.unprotected_global, clock.Now()) {}

void RecoveryEngine::OnSpiMisses(std::span<const SpiMiss> batch) {
  const TimePoint now = clock_.Now();
  counters_.events += batch.size();
  // Aggregate by (peer, SPI) first: a burst of one stale SPI costs one decision.
  struct Folded {
    SpiMiss first;
    std::uint32_t count;
  };
  thread_local std::vector<Folded> order;
  order.clear();
  batch_.clear();
  for (const SpiMiss& m : batch) {
    auto [it, inserted] = batch_.try_emplace(Key{m.peer, m.spi}, order.size());
    if (inserted) {
      order.push_back({m, 1});
    } else {
      ++order[it->second].count;
      ++counters_.aggregated;
    }
  }
  for (const Folded& f : order) Decide(f.first, f.count, now);
}

bool RecoveryEngine::HeldDown(const Key& key, TimePoint now) {
  auto it = held_.find(key);
  if (it == held_.end()) return false;
  if (now < it->second) return true;
  held_.erase(it);
  return false;
}

void RecoveryEngine::Hold(const Key& key, TimePoint until) {
  if (held_.size() >= policy_.max_tracked) Prune(until - policy_.hold_down);
  if (held_.size() >= policy_.max_tracked) {
    ++counters_.untracked;
    return;
  }
  held_[key] = until;
}

void RecoveryEngine::Prune(TimePoint now) {
  for (auto it = held_.begin(); it != held_.end();) {
    it = (it->second <= now) ? held_.erase(it) : std::next(it);
  }
}

RecoveryEngine::PeerState* RecoveryEngine::PeerFor(const Peer& peer, TimePoint now) {
  auto it = peers_.find(peer);
  if (it != peers_.end()) return &it->second;
  if (peers_.size() >= policy_.max_tracked) return nullptr;
  PeerState st{TokenBucket(policy_.notify_per_peer, now),
               TokenBucket(policy_.initiate_per_peer, now),
               TokenBucket(policy_.liveness_per_peer, now), TimePoint{}};
  return &peers_.emplace(peer, st).first->second;
}

void RecoveryEngine::Record(TimePoint now, const SpiMiss& m, Decision d, Decision intended,
                            std::uint32_t folded) {
  if (observer_) observer_(DecisionRecord{now, m.peer, m.spi, d, intended, folded});
}

void RecoveryEngine::Decide(const SpiMiss& m, std::uint32_t folded, TimePoint now) {
  const Key key{m.peer, m.spi};
  if (HeldDown(key, now)) {
    counters_.suppressed += folded;
    return;  // not recorded: a flood of held-down packets must not flood the log
  }

  // 1. Shadowed but missing in the engine: a local repair.
  if (host_.ShadowHasInbound(m.spi)) {
    if (!resync_global_.TryTake(now)) {
      ++counters_.rate_limited_resync;
      Record(now, m, Decision::kRateLimited, Decision::kResync, folded);
      return;
    }
    if (!host_.Resync(m.spi).ok()) {
      ++counters_.action_failed;
      Record(now, m, Decision::kActionFailed, Decision::kResync, folded);
      return;
    }
    ++counters_.resync;
    Hold(key, now + policy_.hold_down);
    Record(now, m, Decision::kResync, Decision::kResync, folded);
    return;
  }

  // 2. An IKE SA with the peer: tell it, under the peer's and the global limit.
  if (host_.HasIkeSa(m.peer)) {
    PeerState* ps = PeerFor(m.peer, now);
    if (ps == nullptr || !ps->notify.Available(now) || !notify_global_.Available(now)) {
      ++counters_.rate_limited_notify;
      Record(now, m, Decision::kRateLimited, Decision::kNotify, folded);
      return;
    }
    ps->notify.TryTake(now);
    notify_global_.TryTake(now);
    const bool ours = host_.WasOurChildSpi(m.peer, m.spi);
    if (!host_.SendInvalidSpi(m.peer, m.spi, ours).ok()) {
      ++counters_.action_failed;
      Record(now, m, Decision::kActionFailed, Decision::kNotify, folded);
      return;
    }
    ++counters_.notify;
    if (ours) ++counters_.notify_with_delete;
    Hold(key, now + policy_.hold_down);
    Record(now, m, Decision::kNotify, Decision::kNotify, folded);
    return;
  }

  // 3. A static peer we have no IKE SA with: start one with INITIAL_CONTACT.
  if (host_.IsStaticPeer(m.peer)) {
    PeerState* ps = PeerFor(m.peer, now);
    if (ps != nullptr && now < ps->initiated_until) {
      counters_.suppressed += folded;  // that peer's recovery is in flight
      return;
    }
    if (ps == nullptr || !ps->initiate.Available(now) || !initiate_global_.Available(now)) {
      ++counters_.rate_limited_initiate;
      Record(now, m, Decision::kRateLimited, Decision::kInitiate, folded);
      return;
    }
    ps->initiate.TryTake(now);
    initiate_global_.TryTake(now);
    if (!host_.InitiateWithInitialContact(m.peer).ok()) {
      ++counters_.action_failed;
      Record(now, m, Decision::kActionFailed, Decision::kInitiate, folded);
      return;
    }
    ++counters_.initiate;
    ps->initiated_until = now + policy_.hold_down;
    Record(now, m, Decision::kInitiate, Decision::kInitiate, folded);
    return;
  }

  // 4. Unknown source: count and drop; optionally a globally limited hint.
  if (policy_.unprotected_notify) {
    if (!unprotected_global_.TryTake(now)) {
      ++counters_.rate_limited_unprotected;
      ++counters_.drop_unknown;
      return;  // not recorded: this is the flood path
    }
    if (host_.SendUnprotectedInvalidSpi(m.peer, m.sport, m.spi).ok()) {
      ++counters_.unprotected_notify;
      Record(now, m, Decision::kUnprotectedNotify, Decision::kUnprotectedNotify, folded);
      return;
    }
    ++counters_.action_failed;
  }
  ++counters_.drop_unknown;
}

void RecoveryEngine::OnIkeSaUp(const Peer& peer) {
  auto it = peers_.find(peer);
  if (it != peers_.end()) it->second.initiated_until = TimePoint{};
  // Keys of this peer held down by an earlier notify stay held: the new IKE
  // SA does not make an old stale SPI valid again.
}

void RecoveryEngine::OnProtectedInvalidSpi(const Peer& peer, std::uint32_t spi) {
  ++counters_.protected_invalid_spi_received;
  if (!host_.RemoveOutboundAndRekey(peer, spi).ok()) ++counters_.action_failed;
}

bool RecoveryEngine::OnTrafficStall(const Peer& peer) {
  const TimePoint now = clock_.Now();
  if (!host_.HasIkeSa(peer)) return false;
  PeerState* ps = PeerFor(peer, now);
  if (ps == nullptr || !ps->liveness.TryTake(now)) {
    ++counters_.rate_limited_liveness;
    return false;
  }
  if (!host_.StartLivenessCheck(peer).ok()) {
    ++counters_.action_failed;
    return false;
  }
  ++counters_.liveness_checks;
  return true;
}

void RecoveryEngine::OnUnprotectedInvalidSpi(const Peer& peer, std::uint32_t /*spi*/) {
  ++counters_.unprotected_invalid_spi_received;
  const TimePoint now = clock_.Now();
  // Only a hint, and only about peers we talk to: spoofed sources create no state.
  if (!host_.HasIkeSa(peer)) return;
  PeerState* ps = PeerFor(peer, now);
  if (ps == nullptr || !ps->liveness.TryTake(now)) {
    ++counters_.rate_limited_liveness;
    return;
  }
  if (host_.StartLivenessCheck(peer).ok()) {
    ++counters_.liveness_checks;
  } else {
    ++counters_.action_failed;
  }
}

}  // namespace inlinesec::recovery
