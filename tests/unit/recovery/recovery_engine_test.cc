// RecoveryEngine: every decision branch, every limit, aggregation, hold-down
// and flood behaviour, on a fake clock against a host that records requests.
#include "inlinesec/recovery/recovery_engine.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "inlinesec/common/fake_clock.h"

namespace inlinesec::recovery {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Peer V4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  Peer p;
  p.addr[0] = a;
  p.addr[1] = b;
  p.addr[2] = c;
  p.addr[3] = d;
  return p;
}

class FakeHost : public RecoveryHost {
 public:
  std::set<std::uint32_t> shadow;
  std::vector<Peer> ike_peers, static_peers;
  std::set<std::pair<std::string, std::uint32_t>> ours;
  bool fail_actions = false;
  std::vector<std::string> calls;

  static bool In(const std::vector<Peer>& v, const Peer& p) {
    for (const auto& x : v)
      if (x == p) return true;
    return false;
  }
  Status Act(std::string what) {
    calls.push_back(std::move(what));
    return fail_actions ? Status(Code::kUnavailable, "down") : Status::Ok();
  }
  bool ShadowHasInbound(std::uint32_t spi) override { return shadow.count(spi) != 0; }
  Status Resync(std::uint32_t spi) override { return Act("resync " + std::to_string(spi)); }
  bool HasIkeSa(const Peer& p) override { return In(ike_peers, p); }
  bool WasOurChildSpi(const Peer& p, std::uint32_t spi) override {
    return ours.count({PeerToString(p), spi}) != 0;
  }
  Status SendInvalidSpi(const Peer& p, std::uint32_t spi, bool del) override {
    return Act("notify " + PeerToString(p) + " " + std::to_string(spi) + (del ? " +delete" : ""));
  }
  bool IsStaticPeer(const Peer& p) override { return In(static_peers, p); }
  Status InitiateWithInitialContact(const Peer& p) override {
    return Act("initiate " + PeerToString(p));
  }
  Status SendUnprotectedInvalidSpi(const Peer& p, std::uint16_t, std::uint32_t spi) override {
    return Act("unprotected " + PeerToString(p) + " " + std::to_string(spi));
  }
  Status RemoveOutboundAndRekey(const Peer& p, std::uint32_t spi) override {
    return Act("rekey " + PeerToString(p) + " " + std::to_string(spi));
  }
  Status StartLivenessCheck(const Peer& p) override { return Act("dpd " + PeerToString(p)); }
};

class RecoveryTest : public ::testing::Test {
 protected:
  FakeClockTimers env;
  FakeHost host;
  RecoveryPolicy policy;
  const Peer p1 = V4(192, 168, 77, 2);
  const Peer p2 = V4(192, 168, 77, 3);
};

TEST_F(RecoveryTest, ShadowedSpiIsResyncedLocallyAndHeldDown) {
  host.shadow = {0x10001};
  host.ike_peers = {p1};  // an IKE SA exists too: resync still comes first
  RecoveryEngine eng(policy, env, host);
  std::vector<DecisionRecord> log;
  eng.set_observer([&](const DecisionRecord& r) { log.push_back(r); });
  eng.OnSpiMiss({p1, 0, 0x10001});
  ASSERT_EQ(host.calls, std::vector<std::string>({"resync 65537"}));
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].decision, Decision::kResync);
  // The peer's in-flight packets do not re-trigger within the hold-down...
  env.Advance(milliseconds(500));
  eng.OnSpiMiss({p1, 0, 0x10001});
  EXPECT_EQ(host.calls.size(), 1u);
  EXPECT_EQ(eng.counters().suppressed, 1u);
  // ...but after it, a miss that still happens is acted on again.
  env.Advance(policy.hold_down);
  eng.OnSpiMiss({p1, 0, 0x10001});
  EXPECT_EQ(host.calls.size(), 2u);
  EXPECT_EQ(eng.counters().resync, 2u);
}

TEST_F(RecoveryTest, IkeSaPeerGetsProtectedNotifyWithDeleteOnlyForOurStaleSpi) {
  host.ike_peers = {p1};
  host.ours = {{PeerToString(p1), 0x2222}};
  RecoveryEngine eng(policy, env, host);
  eng.OnSpiMiss({p1, 4500, 0x2222});
  eng.OnSpiMiss({p1, 4500, 0x3333});
  EXPECT_EQ(host.calls, std::vector<std::string>(
                            {"notify 192.168.77.2 8738 +delete", "notify 192.168.77.2 13107"}));
  EXPECT_EQ(eng.counters().notify, 2u);
  EXPECT_EQ(eng.counters().notify_with_delete, 1u);
}

TEST_F(RecoveryTest, NotifiesAreLimitedPerPeerAndRefill) {
  host.ike_peers = {p1};
  RecoveryEngine eng(policy, env, host);  // per peer: burst 2, 1/s
  for (std::uint32_t spi = 1000; spi < 1010; ++spi) eng.OnSpiMiss({p1, 0, spi});
  EXPECT_EQ(eng.counters().notify, 2u);
  EXPECT_EQ(eng.counters().rate_limited_notify, 8u);
  env.Advance(seconds(1));
  eng.OnSpiMiss({p1, 0, 2000});
  eng.OnSpiMiss({p1, 0, 2001});
  EXPECT_EQ(eng.counters().notify, 3u);
}

TEST_F(RecoveryTest, NotifiesAreLimitedGloballyAcrossPeers) {
  policy.notify_global = {5, seconds(1), 5};
  for (std::uint8_t i = 1; i <= 20; ++i) host.ike_peers.push_back(V4(10, 0, 0, i));
  RecoveryEngine eng(policy, env, host);
  for (const Peer& p : host.ike_peers) eng.OnSpiMiss({p, 0, 777});
  EXPECT_EQ(eng.counters().notify, 5u);
  EXPECT_EQ(eng.counters().rate_limited_notify, 15u);
}

TEST_F(RecoveryTest, StaticPeerWithoutIkeSaIsReinitiatedOnceWhileInFlight) {
  host.static_peers = {p1};
  RecoveryEngine eng(policy, env, host);
  eng.OnSpiMiss({p1, 4500, 0xabc});
  eng.OnSpiMiss({p1, 4500, 0xabd});  // another stale SPI of the same peer
  EXPECT_EQ(host.calls, std::vector<std::string>({"initiate 192.168.77.2"}));
  EXPECT_EQ(eng.counters().suppressed, 1u);
  // IKE came up: the same peer's next miss goes to decision 2.
  host.ike_peers = {p1};
  eng.OnIkeSaUp(p1);
  eng.OnSpiMiss({p1, 4500, 0xabe});
  EXPECT_EQ(host.calls.back(), "notify 192.168.77.2 2750");
}

TEST_F(RecoveryTest, InitiationsAreLimitedPerPeerAndGlobally) {
  policy.hold_down = milliseconds(100);
  policy.initiate_global = {3, seconds(1), 3};
  for (std::uint8_t i = 1; i <= 10; ++i) host.static_peers.push_back(V4(10, 9, 0, i));
  RecoveryEngine eng(policy, env, host);
  for (const Peer& p : host.static_peers) eng.OnSpiMiss({p, 0, 1});
  EXPECT_EQ(eng.counters().initiate, 3u);
  EXPECT_EQ(eng.counters().rate_limited_initiate, 7u);
  // Per peer: one every 10 s, even after the hold-down ends.
  env.Advance(seconds(2));
  eng.OnSpiMiss({host.static_peers[0], 0, 2});
  EXPECT_EQ(eng.counters().initiate, 3u);
  env.Advance(seconds(8));
  eng.OnSpiMiss({host.static_peers[0], 0, 3});
  EXPECT_EQ(eng.counters().initiate, 4u);
}

TEST_F(RecoveryTest, UnknownSourcesAreCountedAndDroppedByDefault) {
  RecoveryEngine eng(policy, env, host);
  eng.OnSpiMiss({p2, 0, 5});
  EXPECT_TRUE(host.calls.empty());
  EXPECT_EQ(eng.counters().drop_unknown, 1u);
}

TEST_F(RecoveryTest, UnprotectedNotifyWhenEnabledIsGloballyLimited) {
  policy.unprotected_notify = true;
  policy.unprotected_global = {10, seconds(1), 10};
  RecoveryEngine eng(policy, env, host);
  for (std::uint32_t i = 0; i < 100; ++i) eng.OnSpiMiss({V4(10, 5, 0, 1), 0, 256 + i});
  EXPECT_EQ(eng.counters().unprotected_notify, 10u);
  EXPECT_EQ(eng.counters().rate_limited_unprotected, 90u);
  EXPECT_EQ(host.calls.size(), 10u);
}

TEST_F(RecoveryTest, BatchIsAggregatedByPeerAndSpi) {
  host.ike_peers = {p1};
  RecoveryEngine eng(policy, env, host);
  std::vector<DecisionRecord> log;
  eng.set_observer([&](const DecisionRecord& r) { log.push_back(r); });
  std::vector<SpiMiss> batch(1000, SpiMiss{p1, 4500, 0x4242});
  eng.OnSpiMisses(batch);
  EXPECT_EQ(host.calls.size(), 1u);
  EXPECT_EQ(eng.counters().events, 1000u);
  EXPECT_EQ(eng.counters().aggregated, 999u);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].folded, 1000u);
  EXPECT_EQ(ToString(log[0]),
            "t=1.000000 spi-miss peer=192.168.77.2 spi=0x00004242 x1000 -> "
            "notify-invalid-spi");
}

TEST_F(RecoveryTest, FloodFromSpoofedSourcesNeverStarvesAGoodPeer) {
  host.ike_peers = {p1};
  RecoveryEngine eng(policy, env, host);
  std::mt19937 rng(7);
  std::vector<SpiMiss> flood;
  for (int i = 0; i < 50000; ++i) {
    const std::uint32_t r = rng();
    flood.push_back({V4(10, static_cast<std::uint8_t>(r >> 24), static_cast<std::uint8_t>(r >> 16),
                        static_cast<std::uint8_t>(r)),
                     4500, static_cast<std::uint32_t>(rng())});
  }
  flood.push_back({p1, 4500, 0x99});  // the one real stale SPI, inside the flood
  eng.OnSpiMisses(flood);
  EXPECT_EQ(host.calls, std::vector<std::string>({"notify 192.168.77.2 153"}));
  EXPECT_EQ(eng.counters().drop_unknown + eng.counters().aggregated, 50000u);
}

TEST_F(RecoveryTest, FailedActionsAreCountedAndNotHeldDown) {
  host.shadow = {7};
  host.fail_actions = true;
  RecoveryEngine eng(policy, env, host);
  eng.OnSpiMiss({p1, 0, 7});
  EXPECT_EQ(eng.counters().action_failed, 1u);
  host.fail_actions = false;
  eng.OnSpiMiss({p1, 0, 7});  // retried at once: nothing was done the first time
  EXPECT_EQ(eng.counters().resync, 1u);
}

TEST_F(RecoveryTest, ReceivedInvalidSpiProtectedRekeysUnprotectedOnlyHints) {
  host.ike_peers = {p1};
  RecoveryEngine eng(policy, env, host);
  eng.OnProtectedInvalidSpi(p1, 0x1234);
  EXPECT_EQ(host.calls.back(), "rekey 192.168.77.2 4660");
  eng.OnUnprotectedInvalidSpi(p2, 0x1);  // no IKE SA with p2: ignored
  EXPECT_EQ(host.calls.size(), 1u);
  eng.OnUnprotectedInvalidSpi(p1, 0x1);
  eng.OnUnprotectedInvalidSpi(p1, 0x2);  // limited: one check per 10 s
  EXPECT_EQ(host.calls.back(), "dpd 192.168.77.2");
  EXPECT_EQ(eng.counters().liveness_checks, 1u);
  EXPECT_EQ(eng.counters().rate_limited_liveness, 1u);
  EXPECT_EQ(eng.counters().unprotected_invalid_spi_received, 3u);
}

TEST_F(RecoveryTest, TrafficStallStartsOneLivenessCheckPerPeerInterval) {
  host.ike_peers = {p1};
  RecoveryEngine eng(policy, env, host);
  EXPECT_FALSE(eng.OnTrafficStall(p2));  // no IKE SA with p2: nothing to probe
  EXPECT_TRUE(host.calls.empty());
  EXPECT_TRUE(eng.OnTrafficStall(p1));
  EXPECT_EQ(host.calls.back(), "dpd 192.168.77.2");
  EXPECT_FALSE(eng.OnTrafficStall(p1));  // same per-peer limit as the hint path
  EXPECT_EQ(eng.counters().rate_limited_liveness, 1u);
  env.Advance(policy.liveness_per_peer.per);
  EXPECT_TRUE(eng.OnTrafficStall(p1));
  EXPECT_EQ(eng.counters().liveness_checks, 2u);
}

TEST_F(RecoveryTest, TrackingTableIsBounded) {
  policy.max_tracked = 4;
  host.shadow = {1, 2, 3, 4, 5, 6};
  RecoveryEngine eng(policy, env, host);
  for (std::uint32_t spi = 1; spi <= 6; ++spi) eng.OnSpiMiss({p1, 0, spi});
  EXPECT_EQ(eng.counters().resync, 6u);
  EXPECT_EQ(eng.counters().untracked, 2u);
}

}  // namespace
}  // namespace inlinesec::recovery
