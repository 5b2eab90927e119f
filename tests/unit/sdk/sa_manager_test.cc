// SaManager on the stepped model with simulated time (FakeClockTimers): SPI
// allocation rules, batch semantics, lifetimes, per-SA event streams, the
// shadow's encoding, and validation.
#include "inlinesec/sdk/sa_manager.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

#include "driver_test_env.h"
#include "inlinesec/common/fake_clock.h"

namespace inlinesec::sdk {
namespace {

using testenv::Inbound;
using testenv::Outbound;

class SaManagerTest : public ::testing::Test {
 protected:
  // extra: more model options, e.g. ",features=0x3FE".
  void Make(std::uint32_t capacity, std::uint32_t max_batch = 1024, const std::string& extra = "") {
    auto d = driver::Device::Open("model:capacity=" + std::to_string(capacity) +
                                      ",max_batch=" + std::to_string(max_batch) + extra,
                                  env_, testenv::FastOptions());
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    dev_ = std::move(d).value();
    SaManagerOptions o;
    o.spi_quarantine = std::chrono::seconds(30);
    sa_ = std::make_unique<SaManager>(*dev_, env_, env_, o);
  }
  void SetUp() override { Make(256); }

  // The device deadlines also run on this clock; stepped mode never waits
  // for them unless a command is lost, which these tests do not do.
  FakeClockTimers env_;
  std::unique_ptr<driver::Device> dev_;
  std::unique_ptr<SaManager> sa_;
};

TEST_F(SaManagerTest, InboundSpisIndexTheTableAndAvoidReservedRange) {
  std::set<std::uint32_t> spis;
  for (int i = 0; i < 200; ++i) {
    auto h = sa_->Add(Inbound());
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(h->spi % 256, h->index);
    EXPECT_GE(h->spi, 256u);
    EXPECT_TRUE(spis.insert(h->spi).second);
  }
}

TEST_F(SaManagerTest, SmallTablesStillNeverUseReservedSpis) {
  Make(16);
  for (int i = 0; i < 16; ++i) {
    auto h = sa_->Add(Inbound());
    ASSERT_TRUE(h.ok());
    EXPECT_GE(h->spi, 256u);
    EXPECT_EQ(h->spi % 16, h->index);
  }
  EXPECT_EQ(sa_->Add(Inbound()).status().code(), Code::kResourceExhausted);
}

TEST_F(SaManagerTest, DeletedIndexIsQuarantinedThenReusedWithNewGeneration) {
  Make(16);
  std::vector<SaHandle> hs;
  for (int i = 0; i < 16; ++i) hs.push_back(*sa_->Add(Inbound()));
  SaHandle old = hs[5];
  ASSERT_TRUE(sa_->Delete(old).ok());
  // Full table but for the quarantined slot: nothing to allocate.
  EXPECT_EQ(sa_->Add(Inbound()).status().code(), Code::kResourceExhausted);
  // Nor can a caller pick that slot explicitly.
  auto again = Inbound(old.spi + 16);
  EXPECT_EQ(sa_->Add(again).status().code(), Code::kAlreadyExists);
  env_.Advance(std::chrono::seconds(29));
  EXPECT_FALSE(sa_->Add(Inbound()).ok());
  env_.Advance(std::chrono::seconds(1));
  auto h = sa_->Add(Inbound());
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->index, old.index);
  EXPECT_NE(h->spi, old.spi);  // next generation
  EXPECT_EQ(h->spi, old.spi + 16);
  EXPECT_FALSE(sa_->Contains(old));
  EXPECT_EQ(sa_->Delete(old).code(), Code::kNotFound);  // stale handle
}

TEST_F(SaManagerTest, ReservedSpiIsConsumedByAdd) {
  auto spi = sa_->AllocateInboundSpi();
  ASSERT_TRUE(spi.ok());
  auto h = sa_->Add(Inbound(*spi));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->spi, *spi);
  auto spi2 = sa_->AllocateInboundSpi();
  ASSERT_TRUE(spi2.ok());
  EXPECT_TRUE(sa_->ReleaseSpi(*spi2).ok());
  EXPECT_EQ(sa_->ReleaseSpi(*spi2).code(), Code::kNotFound);
  EXPECT_EQ(sa_->Add(Inbound(*spi2)).status().code(), Code::kAlreadyExists);  // quarantined
}

TEST_F(SaManagerTest, ExplicitInboundSpiRules) {
  EXPECT_EQ(sa_->Add(Inbound(255)).status().code(), Code::kInvalidArgument);
  auto h = sa_->Add(Inbound(0x1234 * 256 + 9));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->index, 9u);
  EXPECT_EQ(sa_->Add(Inbound(0x4321 * 256 + 9)).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(sa_->Add(Outbound(7)).status().code(), Code::kInvalidArgument);
}

TEST_F(SaManagerTest, ValidationRefusesBadDescriptions) {
  auto short_key = Outbound(0x1000);
  short_key.key = testenv::Key(1, 16);  // AES-256 needs 32
  EXPECT_EQ(sa_->Add(short_key).status().code(), Code::kInvalidArgument);
  auto window = Inbound();
  window.replay_window = 33;
  EXPECT_EQ(sa_->Add(window).status().code(), Code::kInvalidArgument);
  auto life = Outbound(0x1001);
  life.life.packets_soft = 10;
  life.life.packets_hard = 5;
  EXPECT_EQ(sa_->Add(life).status().code(), Code::kInvalidArgument);
  auto mixed = Outbound(0x1002);
  mixed.tunnel_dst = IpAddress::V6({0x20, 0x01, 0x0d, 0xb8});
  EXPECT_EQ(sa_->Add(mixed).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(sa_->size(), 0u);
}

// An engine that lacks one SA option (its CAP_FEATURES bit clear) refuses,
// before anything is written, exactly the SAs that need that option, with
// the option named, singly and in batches; SAs that do not need it go in.
TEST_F(SaManagerTest, EngineWithoutAnOptionRefusesOnlySasThatNeedIt) {
  namespace cf = abi::cap_features;
  struct Case {
    std::uint32_t bit;
    const char* name;
    void (*need)(SaDescription&);
  };
  const Case cases[] = {
      {cf::Esn::Set(0, 1), "ESN", [](SaDescription& d) { d.esn = true; }},
      {cf::NatT::Set(0, 1), "NAT-T",
       [](SaDescription& d) {
         d.udp_encap = true;
         d.udp_sport = d.udp_dport = 4500;
       }},
      {cf::Ipv6::Set(0, 1), "IPv6",
       [](SaDescription& d) {
         d.tunnel_src = IpAddress::V6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
         d.tunnel_dst = IpAddress::V6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
       }},
      {cf::Transport::Set(0, 1), "transport mode",
       [](SaDescription& d) { d.mode = SaMode::kTransport; }},
      {cf::DfControl::Set(0, 1), "DF control", [](SaDescription& d) { d.df = DfPolicy::kSet; }},
      {cf::DscpCopy::Set(0, 1), "DSCP control", [](SaDescription& d) { d.copy_dscp = false; }},
      {cf::LifetimeBytes::Set(0, 1), "byte lifetimes",
       [](SaDescription& d) { d.life.bytes_hard = 1 << 20; }},
      {cf::LifetimePkts::Set(0, 1), "packet lifetimes",
       [](SaDescription& d) { d.life.packets_hard = 1000; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::uint32_t features = 0x3FF & ~c.bit;
    char extra[32];
    std::snprintf(extra, sizeof extra, ",features=0x%X", features);
    Make(256, 1024, extra);
    ASSERT_EQ(dev_->caps().esn, (features & cf::Esn::Set(0, 1)) != 0);
    SaDescription needs = Outbound(0x5000);
    c.need(needs);
    auto one = sa_->Add(needs);
    EXPECT_EQ(one.status().code(), Code::kUnimplemented);
    EXPECT_EQ(one.status().message(), std::string("engine lacks ") + c.name);
    std::vector<SaDescription> batch;
    batch.push_back(Outbound(0x5001));
    batch.push_back(std::move(needs));
    batch.push_back(Outbound(0x5002));
    auto r = sa_->AddBatch(batch);
    EXPECT_EQ(r.status.code(), Code::kUnimplemented);
    ASSERT_EQ(r.item_status.size(), 3u);
    EXPECT_EQ(r.item_status[1].code(), Code::kUnimplemented);
    EXPECT_EQ(sa_->size(), 0u);
    // Without the option the same SA goes in.
    EXPECT_TRUE(sa_->Add(Outbound(0x5003)).ok());
    EXPECT_EQ(sa_->size(), 1u);
  }
  // And on a full engine every one of them does.
  Make(256);
  for (const Case& c : cases) {
    SaDescription d = Outbound(0x6000);
    c.need(d);
    auto h = sa_->Add(d);
    EXPECT_TRUE(h.ok()) << c.name << ": " << h.status().ToString();
  }
}

TEST_F(SaManagerTest, ShadowEncodingHasNoKey) {
  auto d = Outbound(0x2000);
  d.esn = true;
  d.udp_encap = true;
  d.udp_sport = 4500;
  d.udp_dport = 4500;
  d.copy_dscp = false;
  d.dscp = 46;
  d.df = DfPolicy::kSet;
  auto h = sa_->Add(d);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto e = sa_->ShadowEntry(*h);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(abi::AllZero(e->key));
  std::uint32_t ctl = e->ctl.get();
  EXPECT_EQ(abi::sa_ctl::Esn::Get(ctl), 1u);
  EXPECT_EQ(abi::sa_ctl::UdpEncap::Get(ctl), 1u);
  EXPECT_EQ(abi::sa_ctl::Dir::Get(ctl), static_cast<std::uint32_t>(abi::Dir::kOutbound));
  EXPECT_EQ(abi::sa_ctl::DfMode::Get(ctl), static_cast<std::uint32_t>(abi::DfMode::kSet));
  EXPECT_EQ(abi::sa_outer::Dscp::Get(e->outer.get()), 46u);
  EXPECT_EQ(e->udp_dport.get(), 4500);
  auto st = dev_->ReadSa(h->index);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->ctl.get(), ctl);
}

// Store positions are reused oldest-dropped first: SAs added after a bulk
// delete are listed by Handles() in the order they were added (the order in
// which DeleteBatch(Handles()) then hands them to the engine).
TEST_F(SaManagerTest, HandlesListReaddedSasInAddOrder) {
  Make(64);
  std::vector<SaDescription> descs;
  for (int i = 0; i < 10; ++i) descs.push_back(Outbound(0x5000 + i));
  for (int lap = 0; lap < 3; ++lap) {
    SCOPED_TRACE(lap);
    BatchResult added = sa_->AddBatch(descs);
    ASSERT_TRUE(added.status.ok()) << added.status.ToString();
    EXPECT_EQ(sa_->Handles(), added.handles);
    BatchResult gone = sa_->DeleteBatch(sa_->Handles());
    ASSERT_TRUE(gone.status.ok()) << gone.status.ToString();
    EXPECT_TRUE(sa_->Handles().empty());
    env_.Advance(std::chrono::seconds(30));  // quarantine over
  }
}

// The shadow is a flat store by table index: every index of a full table,
// the top index of a 2^20 table, store positions reused after deletes, and
// only live SAs reported or re-programmed.
TEST_F(SaManagerTest, ShadowStoreAtCapacityEdges) {
  Make(16);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    std::vector<SaHandle> hs;
    for (int i = 0; i < 16; ++i) {
      auto h = sa_->Add(i % 2 ? Inbound() : Outbound(0x3000 + i));
      ASSERT_TRUE(h.ok()) << h.status().ToString();
      hs.push_back(*h);
    }
    EXPECT_EQ(sa_->size(), 16u);
    EXPECT_EQ(sa_->Add(Outbound(0x3999)).status().code(), Code::kResourceExhausted);
    std::set<std::uint32_t> indices;
    for (SaHandle h : sa_->Handles()) indices.insert(h.index);
    EXPECT_EQ(indices.size(), 16u);
    for (int i = 0; i < 16; ++i) {
      EXPECT_TRUE(sa_->Contains(hs[i]));
      EXPECT_EQ(sa_->LookupIndex(hs[i].index), hs[i]);
      EXPECT_EQ(sa_->LookupInbound(hs[i].spi).has_value(), i % 2 == 1);
      auto e = sa_->ShadowEntry(hs[i]);
      ASSERT_TRUE(e.ok());
      EXPECT_EQ(e->spi.get(), hs[i].spi);
      EXPECT_TRUE(abi::AllZero(e->key));
    }
    // Delete every other SA: the rest stay intact and only they are
    // re-programmed by a resync.
    for (int i = 0; i < 16; i += 2) ASSERT_TRUE(sa_->Delete(hs[i]).ok());
    EXPECT_EQ(sa_->size(), 8u);
    EXPECT_EQ(sa_->Handles().size(), 8u);
    ASSERT_TRUE(sa_->Resync().ok());
    for (int i = 0; i < 16; ++i) {
      EXPECT_EQ(sa_->Contains(hs[i]), i % 2 == 1);
      EXPECT_EQ(dev_->ReadSa(hs[i].index).ok(), i % 2 == 1);
    }
    for (int i = 1; i < 16; i += 2) ASSERT_TRUE(sa_->Delete(hs[i]).ok());
    EXPECT_EQ(sa_->size(), 0u);
    EXPECT_TRUE(sa_->Handles().empty());
    env_.Advance(std::chrono::seconds(30));  // quarantine over: refill
  }
  // A large table: the top index through an explicit inbound SPI.
  Make(1u << 20);
  const std::uint32_t top = (1u << 20) - 1;
  auto h = sa_->Add(Inbound((7u << 20) | top));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->index, top);
  EXPECT_EQ(sa_->LookupInbound((7u << 20) | top), *h);
  EXPECT_FALSE(sa_->LookupInbound((6u << 20) | top).has_value());
  EXPECT_FALSE(sa_->LookupIndex(0).has_value());
  EXPECT_FALSE(sa_->LookupIndex(top + 1).has_value());
  EXPECT_TRUE(sa_->Reprogram(*h).ok());
  ASSERT_TRUE(sa_->Delete(*h).ok());
  EXPECT_FALSE(sa_->LookupInbound((7u << 20) | top).has_value());
  EXPECT_EQ(sa_->size(), 0u);
}

TEST_F(SaManagerTest, AddBatchIsAllOrNothingOnValidation) {
  std::vector<SaDescription> batch;
  for (std::uint32_t i = 0; i < 10; ++i) batch.push_back(Outbound(0x3000 + i));
  batch[6].key = testenv::Key(9, 5);
  auto r = sa_->AddBatch(batch);
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
  EXPECT_NE(r.status.message().find("batch item 6"), std::string::npos);
  ASSERT_EQ(r.item_status.size(), 10u);
  EXPECT_EQ(r.item_status[6].code(), Code::kInvalidArgument);
  EXPECT_EQ(r.item_status[0].code(), Code::kFailedPrecondition);
  EXPECT_TRUE(r.handles.empty());
  EXPECT_EQ(sa_->size(), 0u);
  // The indices reserved for the refused batch are free again.
  auto ok = sa_->AddBatch(std::span(batch).first(6));
  EXPECT_TRUE(ok.status.ok());
  EXPECT_EQ(ok.handles[0].index, 0u);
}

TEST_F(SaManagerTest, AddBatchRollsBackEarlierChunksWhenTheEngineRefuses) {
  Make(256, /*max_batch=*/4);
  // A ghost the SA manager does not know, at the index item 9 will get.
  abi::SaEntry ghost{};
  ghost.spi.set(0x999);
  ghost.ctl.set(abi::sa_ctl::Valid::Set(abi::sa_ctl::Dir::Set(0, 1), 1));
  std::uint32_t crypto = abi::sa_crypto::Algo::Set(0, 2);
  crypto = abi::sa_crypto::IcvLen::Set(crypto, 16);
  ghost.crypto.set(abi::sa_crypto::KeyLen::Set(crypto, 32));
  ASSERT_TRUE(dev_->WriteSa(9, ghost, false).ok());
  std::vector<SaDescription> batch;
  for (std::uint32_t i = 0; i < 10; ++i) batch.push_back(Outbound(0x4000 + i));
  auto r = sa_->AddBatch(batch);
  EXPECT_EQ(r.status.code(), Code::kAlreadyExists) << r.status.ToString();
  EXPECT_EQ(r.item_status[9].code(), Code::kAlreadyExists);
  EXPECT_EQ(r.item_status[0].code(), Code::kFailedPrecondition);
  EXPECT_EQ(sa_->size(), 0u);
  for (std::uint32_t i = 0; i < 9; ++i) {
    EXPECT_EQ(dev_->ReadSa(i).status().code(), Code::kNotFound) << "index " << i;
  }
}

TEST_F(SaManagerTest, UpdateBatchRefusesTheSameSaTwice) {
  std::vector<SaDescription> batch;
  batch.push_back(Outbound(0x5000));
  batch.push_back(Inbound(0x77 * 256 + 40));
  auto r = sa_->AddBatch(batch);
  ASSERT_TRUE(r.status.ok());
  std::vector<SaDescription> upd;
  upd.push_back(Outbound(0x5000));
  upd.push_back(Outbound(0x5000));
  auto u = sa_->UpdateBatch(std::vector<SaHandle>{r.handles[0], r.handles[0]}, upd);
  EXPECT_EQ(u.status.code(), Code::kInvalidArgument);  // caught before the engine
}

TEST_F(SaManagerTest, UpdateKeepsSequenceMovingForward) {
  auto h = sa_->Add(Outbound(0x6000));
  ASSERT_TRUE(h.ok());
  auto* model = testenv::ModelOf(*dev_);
  for (int i = 0; i < 5; ++i) {
    auto pkt = testenv::Ipv4Udp(64);
    ASSERT_EQ(model->WithEngine([&](model::Engine& e) {
      return e.Transmit(testenv::TxFor(h->index), pkt.frame);
    }),
              abi::ExqReason::kNone);
  }
  auto d = Outbound(0x6000, 9);  // new key and endpoints, same SPI
  d.tunnel_dst = IpAddress::V4(198, 51, 100, 99);
  ASSERT_TRUE(sa_->Update(*h, d).ok());
  auto c = sa_->ReadCounters(*h);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->seq, 5u);
  auto bad = Inbound();
  EXPECT_EQ(sa_->Update(*h, bad).code(), Code::kInvalidArgument);
}

TEST_F(SaManagerTest, TimeLifetimesOnTheFakeClock) {
  auto d = Outbound(0x7000);
  d.life.time_soft = std::chrono::seconds(10);
  d.life.time_hard = std::chrono::seconds(20);
  auto h = sa_->Add(d);
  auto other = sa_->Add(Outbound(0x7001));
  ASSERT_TRUE(h.ok() && other.ok());
  std::vector<SaEvent> mine, global;
  ASSERT_TRUE(sa_->SetEventHandler(*h, [&](const SaEvent& e) { mine.push_back(e); }).ok());
  sa_->SetEventHandler([&](const SaEvent& e) { global.push_back(e); });
  env_.Advance(std::chrono::seconds(9));
  EXPECT_TRUE(mine.empty());
  env_.Advance(std::chrono::seconds(1));
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].kind, SaEventKind::kSoftTime);
  EXPECT_EQ(mine[0].cookie, d.cookie);
  EXPECT_TRUE(dev_->ReadSa(h->index).ok());
  env_.Advance(std::chrono::seconds(10));
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[1].kind, SaEventKind::kHardTime);
  // Hard expiry fails closed: the engine entry is gone, the shadow keeps the
  // SA (for its counters) until the owner deletes it, and resync skips it.
  EXPECT_EQ(dev_->ReadSa(h->index).status().code(), Code::kNotFound);
  EXPECT_TRUE(sa_->Contains(*h));
  EXPECT_TRUE(global.empty());
  ASSERT_TRUE(sa_->Resync().ok());
  EXPECT_EQ(dev_->ReadSa(h->index).status().code(), Code::kNotFound);
  EXPECT_TRUE(dev_->ReadSa(other->index).ok());
  EXPECT_TRUE(sa_->Delete(*h).ok());
}

TEST_F(SaManagerTest, DeleteCancelsLifetimeTimers) {
  auto d = Outbound(0x7100);
  d.life.time_hard = std::chrono::seconds(5);
  auto h = sa_->Add(d);
  ASSERT_TRUE(h.ok());
  int events = 0;
  sa_->SetEventHandler([&](const SaEvent&) { ++events; });
  ASSERT_TRUE(sa_->Delete(*h).ok());
  env_.Advance(std::chrono::seconds(10));
  EXPECT_EQ(events, 0);
  EXPECT_EQ(env_.pending(), 0u);
}

TEST_F(SaManagerTest, HandlerMayDeleteItsSa) {
  auto d = Outbound(0x7200);
  d.life.time_soft = std::chrono::seconds(1);
  d.life.time_hard = std::chrono::seconds(2);
  auto h = sa_->Add(d);
  ASSERT_TRUE(h.ok());
  sa_->SetEventHandler([&](const SaEvent& e) { EXPECT_TRUE(sa_->Delete(e.sa).ok()); });
  env_.Advance(std::chrono::seconds(3));
  EXPECT_EQ(sa_->size(), 0u);
}

}  // namespace
}  // namespace inlinesec::sdk

namespace inlinesec::sdk {
namespace {

TEST_F(SaManagerTest, UpdateBatchAppliesAllAndDeleteBatchReportsPerItem) {
  std::vector<SaDescription> batch;
  for (std::uint32_t i = 0; i < 6; ++i) batch.push_back(Outbound(0x8000 + i));
  auto r = sa_->AddBatch(batch);
  ASSERT_TRUE(r.status.ok());
  std::vector<SaDescription> upd;
  for (std::uint32_t i = 0; i < 6; ++i) {
    upd.push_back(Outbound(0x8000 + i, 50));
    upd.back().cookie = 1000 + i;
  }
  auto u = sa_->UpdateBatch(r.handles, upd);
  ASSERT_TRUE(u.status.ok()) << u.status.ToString();
  for (std::uint32_t i = 0; i < 6; ++i) {
    auto st = dev_->ReadSa(r.handles[i].index);
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->cookie.get(), 1000u + i);
  }
  // One handle already deleted: reported for that item only, the rest go.
  ASSERT_TRUE(sa_->Delete(r.handles[2]).ok());
  auto d = sa_->DeleteBatch(r.handles);
  EXPECT_EQ(d.status.code(), Code::kNotFound);
  EXPECT_EQ(d.item_status[2].code(), Code::kNotFound);
  for (std::size_t i = 0; i < 6; ++i) {
    if (i != 2) {
      EXPECT_TRUE(d.item_status[i].ok()) << i;
    }
    EXPECT_EQ(dev_->ReadSa(r.handles[i].index).status().code(), Code::kNotFound);
  }
  EXPECT_EQ(sa_->size(), 0u);
}

}  // namespace
}  // namespace inlinesec::sdk

namespace inlinesec::sdk {
namespace {

TEST_F(SaManagerTest, UpdateRestartsTimeLifetimesWithoutStaleTimers) {
  auto d = Outbound(0x9000);
  d.life.time_soft = std::chrono::seconds(10);
  auto h = sa_->Add(d);
  ASSERT_TRUE(h.ok());
  std::vector<SaEvent> got;
  sa_->SetEventHandler([&](const SaEvent& e) { got.push_back(e); });
  env_.Advance(std::chrono::seconds(6));
  ASSERT_TRUE(sa_->Update(*h, d).ok());
  env_.Advance(std::chrono::seconds(6));  // the old timer would fire here
  EXPECT_TRUE(got.empty());
  env_.Advance(std::chrono::seconds(4));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, SaEventKind::kSoftTime);
  EXPECT_EQ(env_.pending(), 0u);
}

}  // namespace
}  // namespace inlinesec::sdk
