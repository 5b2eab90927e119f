// SA table: the inbound lookup rule of DESIGN decision 2 (index = SPI mod
// capacity; empty slot, other SPI or outbound entry is a miss), a 2^20-entry
// table driven through the command ring, 2^24 configurations that cost no
// memory until used, SaSlot runtime built at write, key wiping, and SaSlots
// (with their AEAD contexts) reused after a removal with the new SA's key.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <new>
#include <random>
#include <vector>

#include "engine_impl.h"
#include "host_sim.h"
#include "inlinesec/common/fake_clock.h"

namespace inlinesec::model {
namespace {

using abi::CmdStatus;
using testing::CoreHostSim;
using testing::InboundSa;
using testing::OutboundSa;
using testing::Record;
using testing::StatusOf;

EngineConfig CapacityConfig(std::uint32_t log2) {
  EngineConfig c;
  c.sa_capacity = 1u << log2;
  c.max_batch = 1024;
  c.ring_log2_max = 12;
  return c;
}

TEST(SaTable, LookupInboundFollowsTheSpiRule) {
  FakeClockTimers clock;
  EngineCore core(CapacityConfig(10), clock);
  CoreHostSim host(core);
  ASSERT_TRUE(host.Start());
  const std::uint32_t spi = 0x5000 | 300;       // index 300
  EXPECT_EQ(core.LookupInbound(spi), kNoSlot);  // empty
  ASSERT_EQ(StatusOf(host.WriteSa(300, InboundSa(spi))), CmdStatus::kOk);
  EXPECT_EQ(core.LookupInbound(spi), 300u);
  EXPECT_EQ(core.LookupInbound(spi + 1024), kNoSlot);  // same slot, another generation
  EXPECT_EQ(core.LookupInbound(0x300 | 300), kNoSlot);
  // Outbound SAs never match an inbound packet, even with the same SPI.
  ASSERT_EQ(StatusOf(host.WriteSa(301, OutboundSa(0x5000 | 301))), CmdStatus::kOk);
  EXPECT_EQ(core.LookupInbound(0x5000 | 301), kNoSlot);
  // SlotAt gives the runtime of valid entries only.
  SaSlot* in = core.SlotAt(300);
  ASSERT_NE(in, nullptr);
  EXPECT_TRUE(in->inbound());
  EXPECT_TRUE(in->aead.has_value());
  EXPECT_EQ(in->aead->algo(), abi::Algo::kAesGcm128);
  ASSERT_TRUE(in->replay.has_value());
  EXPECT_EQ(in->replay->size(), 64u);
  SaSlot* out = core.SlotAt(301);
  ASSERT_NE(out, nullptr);
  EXPECT_FALSE(out->replay.has_value());
  EXPECT_EQ(out->aead->algo(), abi::Algo::kAesGcm256);
  EXPECT_EQ(core.SlotAt(302), nullptr);
  EXPECT_EQ(core.SlotAt(1024), nullptr);
  EXPECT_EQ(core.SlotAt(0xFFFFFFFF), nullptr);
  EXPECT_EQ(core.valid_count(), 2u);
  // Invalidation makes the SPI miss again.
  ASSERT_EQ(StatusOf(host.Invalidate(300)), CmdStatus::kOk);
  EXPECT_EQ(core.LookupInbound(spi), kNoSlot);
  EXPECT_EQ(core.valid_count(), 1u);
}

TEST(SaTable, RuntimeStateSeedsFromTheEntry) {
  FakeClockTimers clock;
  EngineCore core(CapacityConfig(10), clock);
  CoreHostSim host(core);
  ASSERT_TRUE(host.Start());
  abi::SaEntry e = InboundSa(0x7000 | 400, 0x12345678ABull);
  e.ctl.set(abi::sa_ctl::Esn::Set(e.ctl.get(), 1));
  e.replay.set(1024);
  ASSERT_EQ(StatusOf(host.WriteSa(400, e)), CmdStatus::kOk);
  const SaSlot* s = core.SlotAt(400);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->esn());
  EXPECT_EQ(s->replay->top(), 0x12345678ABull);
  EXPECT_EQ(s->replay->size(), 1024u);
  EXPECT_TRUE(s->replay->esn());
  EXPECT_EQ(s->CurrentSeq(), 0x12345678ABull);
  EXPECT_EQ(std::memcmp(&s->entry, &e, sizeof(e)), 0);  // the image as written
  ASSERT_EQ(StatusOf(host.WriteSa(5, OutboundSa(1, 99))), CmdStatus::kOk);
  EXPECT_EQ(core.SlotAt(5)->tx_seq, 99u);
  // Per-SA counters and state bits reach kReadSa.
  SaSlot* w = core.SlotAt(5);
  w->counters = SaCounters{1, 2, 3, 4};
  w->tx_seq = 1234;
  w->state = abi::sa_state::SoftExpired::kMask | abi::sa_state::SeqOverflow::kMask;
  abi::SaState st{};
  ASSERT_EQ(StatusOf(host.ReadSa(5, &st)), CmdStatus::kOk);
  EXPECT_EQ(st.packets.get(), 1u);
  EXPECT_EQ(st.bytes.get(), 2u);
  EXPECT_EQ(st.replay_drops.get(), 3u);
  EXPECT_EQ(st.auth_fails.get(), 4u);
  EXPECT_EQ(st.seq.get(), 1234u);
  EXPECT_EQ(st.state.get(), 5u);
}

TEST(SaTable, Capacity2To20ThroughTheCommandRing) {
  FakeClockTimers clock;
  EngineCore core(CapacityConfig(20), clock);
  CoreHostSim host(core);
  ASSERT_TRUE(host.Start());
  const std::uint32_t cap = 1u << 20;
  EXPECT_EQ(core.Read32(abi::Off(abi::Reg::kCapSaCapacity)), cap);
  // Spread 2048 SAs over the whole index range, in batches of 1024.
  std::mt19937 rng(7);
  std::vector<std::uint32_t> spis;
  for (int b = 0; b < 2; ++b) {
    std::vector<abi::SaWriteRecord> recs;
    for (std::uint32_t i = 0; i < 1024; ++i) {
      const std::uint32_t index = (b * 1024 + i) * 509 % cap + 256;
      const std::uint32_t spi = (rng() & 0xFFF00000u) | index;
      spis.push_back(spi);
      recs.push_back(Record(index, InboundSa(spi)));
    }
    ASSERT_EQ(StatusOf(host.WriteBatch(recs)), CmdStatus::kOk);
  }
  EXPECT_EQ(core.valid_count(), 2048u);
  for (std::uint32_t spi : spis) {
    EXPECT_EQ(core.LookupInbound(spi), spi & (cap - 1));
    EXPECT_EQ(core.LookupInbound(spi ^ 0x80000000u), kNoSlot);
  }
  // The top index works, and capacity itself is out of range.
  ASSERT_EQ(StatusOf(host.WriteSa(cap - 1, InboundSa(0x7FF00000u | (cap - 1)))), CmdStatus::kOk);
  EXPECT_EQ(core.LookupInbound(0x7FF00000u | (cap - 1)), cap - 1);
  EXPECT_EQ(StatusOf(host.WriteSa(cap, OutboundSa(1))), CmdStatus::kBadIndex);
  ASSERT_EQ(StatusOf(host.Run(testing::HostSim::Cmd(abi::Opcode::kFlushTable))), CmdStatus::kOk);
  EXPECT_EQ(core.valid_count(), 0u);
  for (std::uint32_t spi : spis) EXPECT_EQ(core.LookupInbound(spi), kNoSlot);
}

TEST(SaTable, Capacity2To24IsAccepted) {
  FakeClockTimers clock;
  EngineCore core(CapacityConfig(24), clock);
  CoreHostSim host(core);
  ASSERT_TRUE(host.Start());
  const std::uint32_t top = (1u << 24) - 1;
  ASSERT_EQ(StatusOf(host.WriteSa(top, InboundSa(0xAF000000u | top))), CmdStatus::kOk);
  EXPECT_EQ(core.LookupInbound(0xAF000000u | top), top);
  EXPECT_EQ(core.LookupInbound(0xAE000000u | top), kNoSlot);
}

TEST(SaTable, RemovingAnSaWipesItsKey) {
  // The wipe is in SaSlot's destructor, which every removal path runs
  // (invalidate, replace, flush, reset).
  alignas(SaSlot) unsigned char storage[sizeof(SaSlot)];
  auto* slot = new (storage) SaSlot();
  for (auto& b : slot->entry.key) b = 0xA5;
  const std::size_t key_off =
      static_cast<std::size_t>(reinterpret_cast<unsigned char*>(slot->entry.key.data()) - storage);
  slot->~SaSlot();
  for (std::size_t i = 0; i < abi::kSaKeyBytes; ++i) EXPECT_EQ(storage[key_off + i], 0) << i;
}

TEST(SaTable, ReplaceKeepsTheSlotCountAndReusesPoolSlots) {
  FakeClockTimers clock;
  EngineCore core(CapacityConfig(10), clock);
  CoreHostSim host(core);
  ASSERT_TRUE(host.Start());
  for (int round = 0; round < 5; ++round) {
    for (std::uint32_t i = 0; i < 100; ++i)
      ASSERT_EQ(StatusOf(host.WriteSa(i, OutboundSa(i, round), true)), CmdStatus::kOk);
    EXPECT_EQ(core.valid_count(), 100u);
    for (std::uint32_t i = 0; i < 50; ++i) ASSERT_EQ(StatusOf(host.Invalidate(i)), CmdStatus::kOk);
    EXPECT_EQ(core.valid_count(), 50u);
  }
  EXPECT_LE(core.pool.size(), 100u);
}

// One packet sealed with `a`: ciphertext then tag.
std::vector<std::uint8_t> SealSample(esp::Aead& a) {
  const std::array<std::uint8_t, esp::kIvBytes> iv{0, 0, 0, 0, 0, 0, 0, 1};
  const std::array<std::uint8_t, 8> aad{0, 0, 0x10, 0x01, 0, 0, 0, 1};
  std::vector<std::uint8_t> data(64, 0x42);
  std::array<std::uint8_t, esp::kIcvBytes> tag{};
  EXPECT_TRUE(a.Seal(iv, aad, data, tag));
  data.insert(data.end(), tag.begin(), tag.end());
  return data;
}

// What a context freshly created from the entry's key and salt seals.
std::vector<std::uint8_t> FreshSeal(const abi::SaEntry& e) {
  const auto algo = static_cast<abi::Algo>(abi::sa_crypto::Algo::Get(e.crypto.get()));
  const std::size_t key_len = abi::sa_crypto::KeyLen::Get(e.crypto.get());
  auto a = esp::Aead::Create(algo, std::span<const std::uint8_t>(e.key).first(key_len),
                             std::span<const std::uint8_t, esp::kSaltBytes>(e.salt));
  EXPECT_TRUE(a.ok());
  return a.ok() ? SealSample(*a) : std::vector<std::uint8_t>{};
}

abi::SaEntry WithKey(abi::SaEntry e, std::uint8_t seed) {
  for (std::size_t i = 0; i < abi::sa_crypto::KeyLen::Get(e.crypto.get()); ++i)
    e.key[i] = static_cast<std::uint8_t>(seed + 3 * i);
  e.salt = {seed, 1, 2, 3};
  return e;
}

TEST(SaTable, ReusedSlotsEncryptWithTheirOwnKey) {
  FakeClockTimers clock;
  EngineCore core(CapacityConfig(10), clock);
  CoreHostSim host(core);
  ASSERT_TRUE(host.Start());
  const abi::SaEntry a = WithKey(OutboundSa(0x1001, 7), 0xA0);
  ASSERT_EQ(StatusOf(host.WriteSa(1, a)), CmdStatus::kOk);
  SaSlot* first = core.SlotAt(1);
  ASSERT_NE(first, nullptr);
  first->counters = SaCounters{5, 6, 7, 8};
  first->state = abi::sa_state::SoftExpired::kMask;
  const std::vector<std::uint8_t> sealed_a = SealSample(*first->aead);
  EXPECT_EQ(sealed_a, FreshSeal(a));
  ASSERT_EQ(StatusOf(host.Invalidate(1)), CmdStatus::kOk);

  // Same algorithm: the parked SaSlot and its context come back, re-keyed,
  // with nothing else of the old SA left.
  const abi::SaEntry b = WithKey(OutboundSa(0x2003, 9), 0x31);
  ASSERT_EQ(StatusOf(host.WriteSa(3, b)), CmdStatus::kOk);
  SaSlot* reused = core.SlotAt(3);
  ASSERT_EQ(reused, first);
  EXPECT_EQ(reused->index, 3u);
  EXPECT_EQ(reused->spi, 0x2003u);
  EXPECT_EQ(reused->tx_seq, 9u);
  EXPECT_EQ(reused->counters.packets, 0u);
  EXPECT_EQ(reused->counters.auth_fails, 0u);
  EXPECT_EQ(reused->state, 0u);
  EXPECT_EQ(std::memcmp(&reused->entry, &b, sizeof(b)), 0);
  const std::vector<std::uint8_t> sealed_b = SealSample(*reused->aead);
  EXPECT_EQ(sealed_b, FreshSeal(b));
  EXPECT_NE(sealed_b, sealed_a);

  // Another algorithm (AES-128 inbound) in a parked AES-256 slot: a context
  // of the right algorithm, with the new key.
  ASSERT_EQ(StatusOf(host.Invalidate(3)), CmdStatus::kOk);
  const abi::SaEntry c = WithKey(InboundSa(0x7000 | 4, 100), 0x55);
  ASSERT_EQ(StatusOf(host.WriteSa(4, c)), CmdStatus::kOk);
  ASSERT_NE(core.SlotAt(4), nullptr);
  EXPECT_EQ(core.SlotAt(4)->aead->algo(), abi::Algo::kAesGcm128);
  EXPECT_EQ(core.SlotAt(4)->replay->top(), 100u);
  EXPECT_EQ(SealSample(*core.SlotAt(4)->aead), FreshSeal(c));

  // Batches into slots parked by a flush: every SA with its own key.
  std::vector<abi::SaWriteRecord> recs;
  for (std::uint32_t i = 0; i < 3; ++i)
    recs.push_back(Record(10 + i, WithKey(OutboundSa(0x3000 + i), static_cast<std::uint8_t>(i))));
  ASSERT_EQ(StatusOf(host.WriteBatch(recs)), CmdStatus::kOk);
  ASSERT_EQ(StatusOf(host.Run(testing::HostSim::Cmd(abi::Opcode::kFlushTable))), CmdStatus::kOk);
  recs.clear();
  for (std::uint32_t i = 0; i < 4; ++i) {
    recs.push_back(
        Record(20 + i, WithKey(OutboundSa(0x4000 + i), static_cast<std::uint8_t>(0x80 + i))));
  }
  ASSERT_EQ(StatusOf(host.WriteBatch(recs)), CmdStatus::kOk);
  for (std::uint32_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    ASSERT_NE(core.SlotAt(20 + i), nullptr);
    EXPECT_EQ(SealSample(*core.SlotAt(20 + i)->aead), FreshSeal(recs[i].entry));
  }
}

}  // namespace
}  // namespace inlinesec::model
