// Command processor: every opcode, every completion status and the rule that
// a rejected command changes nothing (batches all or nothing, with the index
// of the first bad record in `info`).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "host_sim.h"
#include "inlinesec/common/fake_clock.h"

namespace inlinesec::model {
namespace {

using abi::CmdStatus;
using abi::Opcode;
using testing::HostSim;
using testing::InboundSa;
using testing::OutboundSa;
using testing::Record;
using testing::StatusOf;

constexpr std::uint32_t kCap = 1u << 10;

EngineConfig TestConfig() {
  EngineConfig c;
  c.sa_capacity = kCap;
  c.replay_window_max = 1024;
  c.max_batch = 64;
  c.ring_log2_max = 12;
  return c;
}

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(host_.Start()); }
  // SaState of `index`, or a zeroed one with spi 0xFFFFFFFF if not found.
  abi::SaState State(std::uint32_t index) {
    abi::SaState s{};
    if (StatusOf(host_.ReadSa(index, &s)) != CmdStatus::kOk) {
      s = abi::SaState{};
      s.spi.set(0xFFFFFFFF);
    }
    return s;
  }
  static bool Same(const abi::SaState& a, const abi::SaState& b) {
    return std::memcmp(&a, &b, sizeof(a)) == 0;
  }

  FakeClockTimers clock_;
  EngineConfig config_ = TestConfig();
  Engine engine_{config_, clock_};
  HostSim host_{engine_};
};

TEST_F(CommandsTest, NopCompletesWithTagOpcodePhaseAndDone) {
  abi::CmdDesc c = HostSim::Cmd(Opcode::kNop, 5);
  c.tag.set(0xFEEDF00D);
  const abi::CplEntry cpl = host_.Run(c);
  EXPECT_EQ(cpl.tag.get(), 0xFEEDF00Du);
  EXPECT_EQ(abi::cpl_ctl::Opcode::Get(cpl.ctl.get()), 0x01u);
  EXPECT_EQ(StatusOf(cpl), CmdStatus::kOk);
  EXPECT_EQ(abi::cpl_ctl::Phase::Get(cpl.ctl.get()), 1u);
  EXPECT_EQ(cpl.ctl.get() & 0x7FFF0000u, 0u);  // undefined ctl bits are zero
  EXPECT_EQ(cpl.info.get(), 5u);
  EXPECT_EQ(cpl.done.get(), 1u);
  EXPECT_EQ(engine_.Read32(abi::RingOff(abi::Reg::kCmdRing, abi::RingReg::kCons)), 1u);
  EXPECT_EQ(engine_.Read32(abi::RingOff(abi::Reg::kCplRing, abi::RingReg::kProd)), 1u);
}

TEST_F(CommandsTest, WriteReadInvalidateRoundTrip) {
  const abi::SaEntry in = InboundSa(0x12340000 | 300, 77);
  abi::CplEntry cpl = host_.WriteSa(300, in);
  EXPECT_EQ(StatusOf(cpl), CmdStatus::kOk);
  EXPECT_EQ(cpl.info.get(), 300u);
  EXPECT_EQ(cpl.done.get(), 1u);

  // kReadSa writes exactly 64 bytes: poison the area past it first.
  std::vector<std::uint8_t> poison(256, 0x5A);
  host_.Put(host_.dma() + 0x100000, poison);
  abi::SaState s{};
  cpl = host_.ReadSa(300, &s);
  ASSERT_EQ(StatusOf(cpl), CmdStatus::kOk);
  EXPECT_EQ(s.spi.get(), 0x12340000u | 300);
  EXPECT_EQ(s.ctl.get(), in.ctl.get());
  EXPECT_EQ(s.state.get(), 0u);
  EXPECT_EQ(s.seq.get(), 77u);
  EXPECT_EQ(s.packets.get(), 0u);
  EXPECT_EQ(s.cookie.get(), in.cookie.get());
  EXPECT_TRUE(abi::AllZero(s.rsvd_0x0c));
  std::vector<std::uint8_t> after(256 - 64);
  host_.Get(host_.dma() + 0x100000 + 64, after);
  EXPECT_EQ(after, std::vector<std::uint8_t>(256 - 64, 0x5A));

  EXPECT_EQ(StatusOf(host_.Invalidate(300, 0x12340000 | 300)), CmdStatus::kOk);
  EXPECT_EQ(StatusOf(host_.ReadSa(300)), CmdStatus::kNotFound);
}

TEST_F(CommandsTest, OutboundSaReportsItsSequence) {
  ASSERT_EQ(StatusOf(host_.WriteSa(3, OutboundSa(0x9000, 41))), CmdStatus::kOk);
  const abi::SaState s = State(3);
  EXPECT_EQ(s.seq.get(), 41u);
  EXPECT_EQ(abi::sa_ctl::Dir::Get(s.ctl.get()), 1u);
}

TEST_F(CommandsTest, BadOpcode) {
  for (std::uint8_t op : {0x00, 0x08, 0x42, 0xFF}) {
    abi::CmdDesc c = HostSim::Cmd(static_cast<Opcode>(op), 9);
    const abi::CplEntry cpl = host_.Run(c);
    EXPECT_EQ(StatusOf(cpl), CmdStatus::kBadOpcode) << int{op};
    EXPECT_EQ(abi::cpl_ctl::Opcode::Get(cpl.ctl.get()), op);
    EXPECT_EQ(cpl.done.get(), 0u);
  }
}

TEST_F(CommandsTest, BadIndex) {
  EXPECT_EQ(StatusOf(host_.WriteSa(kCap, OutboundSa(1))), CmdStatus::kBadIndex);
  EXPECT_EQ(StatusOf(host_.ReadSa(kCap)), CmdStatus::kBadIndex);
  EXPECT_EQ(StatusOf(host_.Invalidate(0xFFFFFFFF)), CmdStatus::kBadIndex);
  const abi::CplEntry cpl =
      host_.WriteBatch({Record(1, OutboundSa(1)), Record(kCap + 1, OutboundSa(2))});
  EXPECT_EQ(StatusOf(cpl), CmdStatus::kBadIndex);
  EXPECT_EQ(cpl.info.get(), 1u);
}

TEST_F(CommandsTest, ReservedNonZeroInDescriptor) {
  const std::vector<std::function<void(abi::CmdDesc&)>> mutate = {
      [](abi::CmdDesc& c) { c.rsvd_0x02[0] = 1; }, [](abi::CmdDesc& c) { c.rsvd_0x02[1] = 0x80; },
      [](abi::CmdDesc& c) { c.rsvd_0x20[0] = 1; }, [](abi::CmdDesc& c) { c.rsvd_0x20[31] = 1; },
      [](abi::CmdDesc& c) { c.flags = 2; },  // undefined flag bit
      [](abi::CmdDesc& c) { c.flags = 0x80; },  // undefined flag bit
  };
  for (const auto& m : mutate) {
    abi::CmdDesc c = HostSim::Cmd(Opcode::kNop);
    m(c);
    EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kReservedNonZero);
  }
  // Replace means something only to kWriteSa.
  abi::CmdDesc c = HostSim::Cmd(Opcode::kFlushTable);
  c.flags = 1;
  EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kReservedNonZero);
}

TEST_F(CommandsTest, ReservedNonZeroInEntryAndRecord) {
  const std::vector<std::function<void(abi::SaEntry&)>> mutate = {
      [](abi::SaEntry& e) { e.ctl.set(e.ctl.get() | (1u << 9)); },
      [](abi::SaEntry& e) { e.ctl.set(e.ctl.get() | (1u << 31)); },
      [](abi::SaEntry& e) { e.rsvd_0x1c[2] = 1; },
      [](abi::SaEntry& e) { e.rsvd_0xb0[15] = 1; },
      [](abi::SaEntry& e) { e.replay.set(e.replay.get() | 0x10000); },
      [](abi::SaEntry& e) { e.outer.set(0x4000); },
  };
  for (const auto& m : mutate) {
    abi::SaEntry e = InboundSa(0x10000 | 5);
    m(e);
    EXPECT_EQ(StatusOf(host_.WriteSa(5, e)), CmdStatus::kReservedNonZero);
  }
  abi::SaWriteRecord r = Record(5, InboundSa(0x10000 | 5));
  r.flags.set(2);
  EXPECT_EQ(StatusOf(host_.WriteBatch({r})), CmdStatus::kReservedNonZero);
  r.flags.set(0);
  r.rsvd_0x08[7] = 1;
  EXPECT_EQ(StatusOf(host_.WriteBatch({r})), CmdStatus::kReservedNonZero);
}

TEST_F(CommandsTest, BadAlgo) {
  for (std::uint32_t algo : {0u, 4u, 5u, 6u, 0xFFu}) {
    abi::SaEntry e = OutboundSa(0x500);
    e.crypto.set(abi::sa_crypto::Algo::Set(e.crypto.get(), algo));
    EXPECT_EQ(StatusOf(host_.WriteSa(1, e)), CmdStatus::kBadAlgo) << algo;
  }
}

TEST(CommandsConfig, AlgorithmNotInCapAlgosIsBadAlgo) {
  FakeClockTimers clock;
  EngineConfig config = TestConfig();
  config.algos = abi::AlgoBit(abi::Algo::kAesGcm128);
  Engine engine(config, clock);
  HostSim host(engine);
  ASSERT_TRUE(host.Start());
  EXPECT_EQ(StatusOf(host.WriteSa(1, OutboundSa(0x500))), CmdStatus::kBadAlgo);  // GCM-256
  EXPECT_EQ(StatusOf(host.WriteSa(0x300, InboundSa(0x300))), CmdStatus::kOk);    // GCM-128
}

TEST_F(CommandsTest, BadKeyLen) {
  struct Case {
    abi::Algo algo;
    std::uint32_t key_len, icv_len, auth_len;
  };
  const std::vector<Case> bad = {
      {abi::Algo::kAesGcm128, 32, 16, 0},        {abi::Algo::kAesGcm128, 24, 16, 0},
      {abi::Algo::kAesGcm256, 16, 16, 0},        {abi::Algo::kChaCha20Poly1305, 16, 16, 0},
      {abi::Algo::kAesGcm128, 16, 12, 0},        {abi::Algo::kAesGcm256, 32, 8, 0},
      {abi::Algo::kChaCha20Poly1305, 32, 16, 32}};
  for (const Case& k : bad) {
    abi::SaEntry e = OutboundSa(0x500);
    std::uint32_t crypto = abi::sa_crypto::Algo::Set(0, static_cast<std::uint32_t>(k.algo));
    crypto = abi::sa_crypto::KeyLen::Set(crypto, k.key_len);
    crypto = abi::sa_crypto::IcvLen::Set(crypto, k.icv_len);
    crypto = abi::sa_crypto::AuthKeyLen::Set(crypto, k.auth_len);
    e.crypto.set(crypto);
    EXPECT_EQ(StatusOf(host_.WriteSa(1, e)), CmdStatus::kBadKeyLen);
  }
  // Key bytes past key_len must be zero.
  abi::SaEntry e = InboundSa(0x300);  // GCM-128: 16 key bytes
  e.key[16] = 1;
  EXPECT_EQ(StatusOf(host_.WriteSa(0x300, e)), CmdStatus::kBadKeyLen);
  e = InboundSa(0x300);
  e.key[63] = 1;
  EXPECT_EQ(StatusOf(host_.WriteSa(0x300, e)), CmdStatus::kBadKeyLen);
  // Every supported algorithm with the right lengths is accepted.
  for (abi::Algo a : {abi::Algo::kAesGcm128, abi::Algo::kAesGcm256, abi::Algo::kChaCha20Poly1305}) {
    abi::SaEntry ok = OutboundSa(0x500);
    const std::uint32_t len = a == abi::Algo::kAesGcm128 ? 16 : 32;
    std::uint32_t crypto = abi::sa_crypto::Algo::Set(0, static_cast<std::uint32_t>(a));
    crypto = abi::sa_crypto::KeyLen::Set(crypto, len);
    ok.crypto.set(abi::sa_crypto::IcvLen::Set(crypto, 16));
    for (std::size_t i = len; i < ok.key.size(); ++i) ok.key[i] = 0;
    EXPECT_EQ(StatusOf(host_.WriteSa(2, ok, true)), CmdStatus::kOk);
  }
}

TEST_F(CommandsTest, DmaRange) {
  const std::uint64_t end = config_.dev_mem_base + config_.dev_mem_bytes;
  ASSERT_EQ(StatusOf(host_.WriteSa(1, OutboundSa(0x501))), CmdStatus::kOk);
  struct Op {
    Opcode op;
    std::uint32_t need;
  };
  for (const Op& o :
       {Op{Opcode::kWriteSa, 192}, Op{Opcode::kReadSa, 64}, Op{Opcode::kReadStats, 128}}) {
    // Short buffer, outside memory, straddling the end, wrapping 2^64, at the end.
    const std::vector<std::pair<std::uint64_t, std::uint32_t>> bad = {{host_.dma(), o.need - 1},
                                                                      {0, o.need},
                                                                      {end - o.need / 2, o.need},
                                                                      {UINT64_MAX - 10, o.need},
                                                                      {end, o.need}};
    for (const auto& [addr, len] : bad) {
      abi::CmdDesc c = HostSim::Cmd(o.op, 1);
      c.flags = o.op == Opcode::kWriteSa ? 1 : 0;
      c.dma_addr.set(addr);
      c.dma_len.set(len);
      EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kDmaRange)
          << "op " << int{c.opcode} << " addr " << addr << " len " << len;
    }
  }
  // Batch buffer outside device memory.
  abi::CmdDesc c = HostSim::Cmd(Opcode::kWriteSaBatch);
  c.count.set(2);
  c.dma_len.set(2 * 208);
  c.dma_addr.set(end - 208);
  EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kDmaRange);
  EXPECT_EQ(State(1).spi.get(), 0x501u);
}

TEST_F(CommandsTest, ExistsWithoutReplace) {
  ASSERT_EQ(StatusOf(host_.WriteSa(7, OutboundSa(0x700, 1))), CmdStatus::kOk);
  EXPECT_EQ(StatusOf(host_.WriteSa(7, OutboundSa(0x701, 2))), CmdStatus::kExists);
  EXPECT_EQ(State(7).spi.get(), 0x700u);
  EXPECT_EQ(StatusOf(host_.WriteBatch({Record(8, OutboundSa(1)), Record(7, OutboundSa(2))})),
            CmdStatus::kExists);
  // Replace updates the SA (and restarts its state from the new image).
  EXPECT_EQ(StatusOf(host_.WriteSa(7, OutboundSa(0x701, 2), true)), CmdStatus::kOk);
  EXPECT_EQ(State(7).spi.get(), 0x701u);
  EXPECT_EQ(State(7).seq.get(), 2u);
  EXPECT_EQ(StatusOf(host_.WriteBatch({Record(7, InboundSa(0x10007), true)})), CmdStatus::kOk);
  EXPECT_EQ(State(7).spi.get(), 0x10007u);
}

TEST_F(CommandsTest, NotFound) {
  EXPECT_EQ(StatusOf(host_.Invalidate(9)), CmdStatus::kNotFound);
  EXPECT_EQ(StatusOf(host_.ReadSa(9)), CmdStatus::kNotFound);
  ASSERT_EQ(StatusOf(host_.WriteSa(9, InboundSa(0x20009))), CmdStatus::kOk);
  EXPECT_EQ(StatusOf(host_.Invalidate(9, 0x30009)), CmdStatus::kNotFound);  // SPI mismatch
  abi::CmdDesc c = HostSim::Cmd(Opcode::kReadSa, 9);
  c.spi.set(0x30009);
  c.dma_addr.set(host_.dma());
  c.dma_len.set(64);
  EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kNotFound);
  c.spi.set(0x20009);
  EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kOk);
  EXPECT_EQ(StatusOf(host_.Invalidate(9, 0x20009)), CmdStatus::kOk);
  EXPECT_EQ(StatusOf(host_.Invalidate(9)), CmdStatus::kNotFound);
}

TEST_F(CommandsTest, BadParam) {
  const std::vector<std::function<void(abi::SaEntry&)>> mutate = {
      [](abi::SaEntry& e) { e.ctl.set(abi::sa_ctl::Valid::Set(e.ctl.get(), 0)); },
      [](abi::SaEntry& e) { e.replay.set(48); },    // not a multiple of 32
      [](abi::SaEntry& e) { e.replay.set(1056); },  // > CapReplayWindow (1024)
      [](abi::SaEntry& e) { e.ctl.set(abi::sa_ctl::DfMode::Set(e.ctl.get(), 3)); },
      [](abi::SaEntry& e) { e.seq.set(1ull << 32); },  // high bits without ESN
      [](abi::SaEntry& e) {
        e.soft_bytes.set(1000);
        e.hard_bytes.set(999);
      },
      [](abi::SaEntry& e) {
        e.soft_packets.set(10);
        e.hard_packets.set(9);
      },
      [](abi::SaEntry& e) { e.src[4] = 1; },  // IPv4 address with bytes past 4
      [](abi::SaEntry& e) { e.dst[15] = 1; },
  };
  for (std::size_t i = 0; i < mutate.size(); ++i) {
    abi::SaEntry e = InboundSa(0x40000 | 11);
    mutate[i](e);
    EXPECT_EQ(StatusOf(host_.WriteSa(11, e)), CmdStatus::kBadParam) << "case " << i;
  }
  // The edges that are fine.
  abi::SaEntry e = InboundSa(0x40000 | 11, 0xFFFFFFFF);
  e.replay.set(1024);
  e.soft_bytes.set(999);
  e.hard_bytes.set(999);
  EXPECT_EQ(StatusOf(host_.WriteSa(11, e)), CmdStatus::kOk);
  e = InboundSa(0x40000 | 12, 1ull << 40);
  e.ctl.set(abi::sa_ctl::Esn::Set(e.ctl.get(), 1));
  EXPECT_EQ(StatusOf(host_.WriteSa(12, e)), CmdStatus::kOk);
  EXPECT_EQ(State(12).seq.get(), 1ull << 40);
}

TEST_F(CommandsTest, BadBatch) {
  abi::CmdDesc c = HostSim::Cmd(Opcode::kWriteSaBatch);
  c.dma_addr.set(host_.dma());
  c.count.set(0);
  c.dma_len.set(0);
  EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kBadBatch);
  c.count.set(65);  // > CapMaxBatch
  c.dma_len.set(65 * 208);
  EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kBadBatch);
  c.count.set(2);
  c.dma_len.set(2 * 208 + 1);
  EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kBadBatch);
  c.dma_len.set(208);
  EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kBadBatch);
  c.count.set(0x80000000u);  // count * 208 overflows 32 bits
  c.dma_len.set(0);
  EXPECT_EQ(StatusOf(host_.Run(c)), CmdStatus::kBadBatch);
}

TEST_F(CommandsTest, DuplicateInBatch) {
  const abi::CplEntry cpl = host_.WriteBatch({Record(1, OutboundSa(1)), Record(2, OutboundSa(2)),
                                              Record(3, OutboundSa(3)), Record(2, OutboundSa(4))});
  EXPECT_EQ(StatusOf(cpl), CmdStatus::kDuplicate);
  EXPECT_EQ(cpl.info.get(), 3u);
  EXPECT_EQ(cpl.done.get(), 0u);
  EXPECT_EQ(StatusOf(host_.ReadSa(1)), CmdStatus::kNotFound);
}

TEST(CommandsConfig, FeatureNotInCapFeaturesIsUnsupported) {
  FakeClockTimers clock;
  EngineConfig config = TestConfig();
  config.features = abi::cap_features::Tunnel::kMask;  // tunnel only, nothing else
  Engine engine(config, clock);
  HostSim host(engine);
  ASSERT_TRUE(host.Start());
  const std::vector<std::function<void(abi::SaEntry&)>> mutate = {
      [](abi::SaEntry& e) { e.ctl.set(abi::sa_ctl::Esn::Set(e.ctl.get(), 1)); },
      [](abi::SaEntry& e) { e.ctl.set(abi::sa_ctl::UdpEncap::Set(e.ctl.get(), 1)); },
      [](abi::SaEntry& e) { e.ctl.set(abi::sa_ctl::OuterV6::Set(e.ctl.get(), 1)); },
      [](abi::SaEntry& e) { e.ctl.set(abi::sa_ctl::Mode::Set(e.ctl.get(), 0)); },  // transport
      [](abi::SaEntry& e) { e.hard_bytes.set(1); },
      [](abi::SaEntry& e) { e.soft_packets.set(1); },
      [](abi::SaEntry& e) { e.ctl.set(abi::sa_ctl::DfMode::Set(e.ctl.get(), 1)); },
      [](abi::SaEntry& e) { e.ctl.set(abi::sa_ctl::DscpMode::Set(e.ctl.get(), 1)); },
  };
  for (std::size_t i = 0; i < mutate.size(); ++i) {
    abi::SaEntry e = InboundSa(0x300);
    mutate[i](e);
    EXPECT_EQ(StatusOf(host.WriteSa(0x300, e)), CmdStatus::kUnsupported) << "case " << i;
  }
  EXPECT_EQ(StatusOf(host.WriteSa(0x300, InboundSa(0x300))), CmdStatus::kOk);
}

TEST_F(CommandsTest, BadSpi) {
  EXPECT_EQ(StatusOf(host_.WriteSa(0, InboundSa(0))), CmdStatus::kBadSpi);
  EXPECT_EQ(StatusOf(host_.WriteSa(255, InboundSa(255))), CmdStatus::kBadSpi);
  EXPECT_EQ(StatusOf(host_.WriteSa(5, InboundSa(kCap + 6))), CmdStatus::kBadSpi);  // mod != idx
  EXPECT_EQ(StatusOf(host_.WriteSa(256, InboundSa(256))), CmdStatus::kOk);
  EXPECT_EQ(StatusOf(host_.WriteSa(5, InboundSa(kCap + 5))), CmdStatus::kOk);
  // Outbound SAs are addressed by index: no SPI rule.
  EXPECT_EQ(StatusOf(host_.WriteSa(6, OutboundSa(1))), CmdStatus::kOk);
  const abi::CplEntry cpl =
      host_.WriteBatch({Record(9, InboundSa(kCap + 9)), Record(10, InboundSa(kCap + 11))});
  EXPECT_EQ(StatusOf(cpl), CmdStatus::kBadSpi);
  EXPECT_EQ(cpl.info.get(), 1u);
}

TEST_F(CommandsTest, InternalFromFaultPlanChangesNothing) {
  ASSERT_EQ(StatusOf(host_.WriteSa(4, OutboundSa(0x400))), CmdStatus::kOk);
  engine_.faults().fail_commands = 2;
  EXPECT_EQ(StatusOf(host_.Invalidate(4)), CmdStatus::kInternal);
  EXPECT_EQ(StatusOf(host_.WriteSa(5, OutboundSa(0x500))), CmdStatus::kInternal);
  EXPECT_EQ(engine_.faults().fail_commands, 0u);
  EXPECT_EQ(State(4).spi.get(), 0x400u);
  EXPECT_EQ(StatusOf(host_.ReadSa(5)), CmdStatus::kNotFound);
}

TEST_F(CommandsTest, RejectedCommandsLeaveTheTableUnchanged) {
  std::vector<abi::SaWriteRecord> recs;
  for (std::uint32_t i = 0; i < 8; ++i) recs.push_back(Record(256 + i, InboundSa(256 + i, i)));
  ASSERT_EQ(StatusOf(host_.WriteBatch(recs)), CmdStatus::kOk);
  std::vector<abi::SaState> before;
  for (std::uint32_t i = 0; i < 8; ++i) before.push_back(State(256 + i));

  // Single writes with Replace that fail validation.
  abi::SaEntry bad = InboundSa(256);
  bad.replay.set(33);
  EXPECT_EQ(StatusOf(host_.WriteSa(256, bad, true)), CmdStatus::kBadParam);
  bad = InboundSa(257);
  bad.crypto.set(0);
  EXPECT_EQ(StatusOf(host_.WriteSa(257, bad, true)), CmdStatus::kBadAlgo);
  // A batch that replaces everything but fails at its last record.
  std::vector<abi::SaWriteRecord> upd;
  for (std::uint32_t i = 0; i < 8; ++i) upd.push_back(Record(256 + i, OutboundSa(9, 9), true));
  upd.push_back(Record(300, InboundSa(301)));  // kBadSpi at record 8
  const abi::CplEntry cpl = host_.WriteBatch(upd);
  EXPECT_EQ(StatusOf(cpl), CmdStatus::kBadSpi);
  EXPECT_EQ(cpl.info.get(), 8u);
  EXPECT_EQ(cpl.done.get(), 0u);
  // Invalidate with the wrong SPI.
  EXPECT_EQ(StatusOf(host_.Invalidate(258, 1)), CmdStatus::kNotFound);
  for (std::uint32_t i = 0; i < 8; ++i) EXPECT_TRUE(Same(State(256 + i), before[i])) << i;
  EXPECT_EQ(StatusOf(host_.ReadSa(300)), CmdStatus::kNotFound);
}

TEST_F(CommandsTest, BatchAppliesEveryRecord) {
  std::vector<abi::SaWriteRecord> recs;
  for (std::uint32_t i = 0; i < 64; ++i)
    recs.push_back(i % 2 ? Record(i, OutboundSa(0x1000 + i, i))
                         : Record(i + 256, InboundSa(i + 256)));
  const abi::CplEntry cpl = host_.WriteBatch(recs);
  EXPECT_EQ(StatusOf(cpl), CmdStatus::kOk);
  EXPECT_EQ(cpl.done.get(), 64u);
  EXPECT_EQ(cpl.info.get(), 0u);
  for (std::uint32_t i = 1; i < 64; i += 2) EXPECT_EQ(State(i).seq.get(), i);
  for (std::uint32_t i = 0; i < 64; i += 2) EXPECT_EQ(State(i + 256).spi.get(), i + 256);
}

TEST_F(CommandsTest, FlushTableInvalidatesEverything) {
  std::vector<abi::SaWriteRecord> recs;
  for (std::uint32_t i = 0; i < 32; ++i) recs.push_back(Record(i * 7, OutboundSa(i)));
  ASSERT_EQ(StatusOf(host_.WriteBatch(recs)), CmdStatus::kOk);
  const abi::CplEntry cpl = host_.Run(HostSim::Cmd(Opcode::kFlushTable));
  EXPECT_EQ(StatusOf(cpl), CmdStatus::kOk);
  for (std::uint32_t i = 0; i < 32; ++i)
    EXPECT_EQ(StatusOf(host_.ReadSa(i * 7)), CmdStatus::kNotFound);
  // The slots are free again.
  EXPECT_EQ(StatusOf(host_.WriteBatch(recs)), CmdStatus::kOk);
}

TEST_F(CommandsTest, ReadStatsReportsCommandCounters) {
  (void)host_.Run(HostSim::Cmd(Opcode::kNop));
  (void)host_.Run(HostSim::Cmd(static_cast<Opcode>(0x99)));
  (void)host_.ReadSa(1);  // kNotFound
  abi::GlobalStats g{};
  EXPECT_EQ(StatusOf(host_.ReadStats(&g)), CmdStatus::kOk);
  EXPECT_EQ(g.cmd_done.get(), 3u);  // the kReadStats itself is not complete yet
  EXPECT_EQ(g.cmd_errors.get(), 2u);
  EXPECT_EQ(g.rx_packets.get(), 0u);
  EXPECT_EQ(g.exq_dropped.get(), 0u);
}

}  // namespace
}  // namespace inlinesec::model
