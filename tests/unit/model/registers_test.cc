// Engine register file: identity and capability words, reset values, RO
// writes ignored, IRQ_CAUSE W1C, IRQ_MASK and the interrupt line, SCRATCH,
// ring registers writable only while disabled, enable refused on a bad ring
// configuration, CTRL.Reset, counter LO/HI latching, unmapped offsets, and
// device-memory bounds.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine_impl.h"
#include "host_sim.h"
#include "inlinesec/common/fake_clock.h"

namespace inlinesec::model {
namespace {

using abi::Off;
using abi::Reg;
using abi::RingOff;
using abi::RingReg;
using testing::HostSim;
using testing::InboundSa;
using testing::StatusOf;

EngineConfig SmallConfig() {
  EngineConfig c;
  c.sa_capacity = 1u << 10;
  c.replay_window_max = 1024;
  c.max_batch = 64;
  c.ring_log2_max = 12;
  return c;
}

class RegistersTest : public ::testing::Test {
 protected:
  FakeClockTimers clock_;
  EngineConfig config_ = SmallConfig();
  Engine engine_{config_, clock_};
  HostSim host_{engine_};
  std::uint32_t R(abi::RegOffset o) { return engine_.Read32(o); }
  std::uint32_t R(Reg r) { return engine_.Read32(Off(r)); }
  void W(Reg r, std::uint32_t v) { engine_.Write32(Off(r), v); }
};

TEST_F(RegistersTest, IdentityAndCapabilities) {
  EXPECT_EQ(R(Reg::kId), 0x534C4E49u);
  EXPECT_EQ(R(Reg::kAbiVersion), 0x00010000u);  // major 1, minor 0
  EXPECT_EQ(R(Reg::kBuild), kModelBuildId);
  EXPECT_EQ(R(Reg::kEpoch), 1u);  // power-on counts as a reset
  EXPECT_EQ(R(Reg::kCapSaCapacity), 1024u);
  EXPECT_EQ(R(Reg::kCapRings), 0x000C0C0Cu);
  EXPECT_EQ(R(Reg::kCapAlgos), 0x0000000Eu);
  EXPECT_EQ(R(Reg::kCapFeatures), 0x3FFu);
  EXPECT_EQ(R(Reg::kCapReplayWindow), 1024u);
  EXPECT_EQ(R(Reg::kCapMaxBatch), 64u);
}

TEST_F(RegistersTest, ResetValues) {
  EXPECT_EQ(R(Reg::kCtrl), 0u);
  EXPECT_EQ(R(Reg::kStatus), abi::status::Ready::kMask);
  EXPECT_EQ(R(Reg::kIrqCause), abi::irq::ResetDone::kMask);
  EXPECT_EQ(R(Reg::kIrqMask), 0u);
  EXPECT_EQ(R(Reg::kScratch), 0u);
  for (Reg ring : {Reg::kCmdRing, Reg::kCplRing, Reg::kExqRing})
    for (abi::RegOffset rel = 0; rel <= 0x10; rel += 4) EXPECT_EQ(R(Off(ring) + rel), 0u);
  for (abi::RegOffset o = Off(Reg::kCntRxPkts); o < 0x240; o += 4) EXPECT_EQ(R(o), 0u);
  EXPECT_FALSE(engine_.IrqAsserted());
}

TEST_F(RegistersTest, ReadOnlyRegistersIgnoreWrites) {
  const std::vector<Reg> ro = {Reg::kId,          Reg::kAbiVersion,    Reg::kBuild,
                               Reg::kEpoch,       Reg::kCapSaCapacity, Reg::kCapRings,
                               Reg::kCapAlgos,    Reg::kCapFeatures,   Reg::kCapReplayWindow,
                               Reg::kCapMaxBatch, Reg::kStatus};
  for (Reg r : ro) {
    const std::uint32_t before = R(r);
    W(r, ~before);
    W(r, 0);
    EXPECT_EQ(R(r), before) << "offset " << Off(r);
  }
  // Device-owned ring counters and the counters block.
  for (abi::RegOffset o :
       {RingOff(Reg::kCmdRing, RingReg::kCons), RingOff(Reg::kCplRing, RingReg::kProd),
        RingOff(Reg::kExqRing, RingReg::kProd), Off(Reg::kCntCmdDone), Off(Reg::kCntCmdDone) + 4}) {
    engine_.Write32(o, 0x55);
    EXPECT_EQ(R(o), 0u) << "offset " << o;
  }
}

TEST_F(RegistersTest, ScratchIsReadWrite) {
  W(Reg::kScratch, 0xA5A5F00Du);
  EXPECT_EQ(R(Reg::kScratch), 0xA5A5F00Du);
  W(Reg::kScratch, 0);
  EXPECT_EQ(R(Reg::kScratch), 0u);
}

TEST_F(RegistersTest, IrqCauseIsWriteOneToClear) {
  EXPECT_EQ(R(Reg::kIrqCause), abi::irq::ResetDone::kMask);
  W(Reg::kIrqCause, 0);  // writing 0 changes nothing
  EXPECT_EQ(R(Reg::kIrqCause), abi::irq::ResetDone::kMask);
  ASSERT_TRUE(host_.Start());
  EXPECT_EQ(StatusOf(host_.Run(HostSim::Cmd(abi::Opcode::kNop))), abi::CmdStatus::kOk);
  EXPECT_EQ(R(Reg::kIrqCause), abi::irq::ResetDone::kMask | abi::irq::Cpl::kMask);
  W(Reg::kIrqCause, abi::irq::Cpl::kMask);  // clears only the bit written
  EXPECT_EQ(R(Reg::kIrqCause), abi::irq::ResetDone::kMask);
  W(Reg::kIrqCause, 0xFFFFFFFF);
  EXPECT_EQ(R(Reg::kIrqCause), 0u);
}

TEST_F(RegistersTest, IrqMaskGatesTheLine) {
  W(Reg::kIrqMask, 0xFFFFFFFF);
  EXPECT_EQ(R(Reg::kIrqMask), abi::irq::kAll);  // undefined bits read 0
  EXPECT_TRUE(engine_.IrqAsserted());           // ResetDone is pending
  W(Reg::kIrqMask, abi::irq::Cpl::kMask);
  EXPECT_FALSE(engine_.IrqAsserted());
  ASSERT_TRUE(host_.Start());
  (void)host_.Run(HostSim::Cmd(abi::Opcode::kNop));
  EXPECT_TRUE(engine_.IrqAsserted());
  W(Reg::kIrqCause, abi::irq::Cpl::kMask);
  EXPECT_FALSE(engine_.IrqAsserted());
}

TEST_F(RegistersTest, UnknownAndUnalignedOffsetsReadZeroAndIgnoreWrites) {
  W(Reg::kScratch, 0x12345678);
  for (abi::RegOffset o : {0x028u, 0x03Cu, 0x054u, 0x0FCu, 0x114u, 0x13Cu, 0x154u, 0x1FCu, 0x240u,
                           0xFFCu, 0x1000u, 0xFFFFFFFCu}) {
    engine_.Write32(o, 0xFFFFFFFF);
    EXPECT_EQ(R(o), 0u) << "offset " << o;
  }
  for (abi::RegOffset o : {0x051u, 0x052u, 0x053u, 0x041u, 0x10Du}) {
    engine_.Write32(o, 0xFFFFFFFF);
    EXPECT_EQ(R(o), 0u) << "offset " << o;
  }
  EXPECT_EQ(R(Reg::kScratch), 0x12345678u);  // unaligned writes hit nothing
  EXPECT_EQ(R(Reg::kCtrl), 0u);
  EXPECT_EQ(R(RingOff(Reg::kCmdRing, RingReg::kProd)), 0u);
}

TEST_F(RegistersTest, RingRegistersWritableOnlyWhileDisabled) {
  ASSERT_TRUE(host_.Start());
  const abi::RegOffset base_lo = RingOff(Reg::kCplRing, RingReg::kBaseLo);
  const abi::RegOffset size = RingOff(Reg::kCplRing, RingReg::kSizeLog2);
  const std::uint32_t lo = R(base_lo);
  engine_.Write32(base_lo, lo + 0x1000);
  engine_.Write32(RingOff(Reg::kCplRing, RingReg::kBaseHi), 7);
  engine_.Write32(size, 5);
  EXPECT_EQ(R(base_lo), lo);
  EXPECT_EQ(R(RingOff(Reg::kCplRing, RingReg::kBaseHi)), 1u);
  EXPECT_EQ(R(size), 6u);
  W(Reg::kCtrl, 0);  // disable
  EXPECT_EQ(R(Reg::kStatus) & abi::status::Enabled::kMask, 0u);
  engine_.Write32(size, 5);
  EXPECT_EQ(R(size), 5u);
}

TEST_F(RegistersTest, EnableRefusedOnBadRingConfig) {
  struct Bad {
    std::uint64_t addr;
    std::uint32_t log2;
  };
  const std::uint64_t b = config_.dev_mem_base;
  const std::vector<Bad> bad = {
      {b + 8, 6},                                // not 64-byte aligned
      {b - 0x1000, 6},                           // below device memory
      {b + config_.dev_mem_bytes, 6},            // past the end
      {b + config_.dev_mem_bytes - 64 * 32, 6},  // straddles the end
      {b, 3},                                    // below kRingLog2Min
      {b, 13},                                   // above cap_rings
      {0xFFFFFFFFFFFFFFC0ull, 6},                // would wrap 2^64
  };
  for (const Bad& x : bad) {
    W(Reg::kCtrl, abi::ctrl::Reset::kMask);
    host_.ProgramRing(Reg::kCplRing, b + HostSim::kCplOff, 6);
    host_.ProgramRing(Reg::kExqRing, 0, 0);
    host_.ProgramRing(Reg::kCmdRing, x.addr, x.log2);
    W(Reg::kCtrl, abi::ctrl::Enable::kMask);
    EXPECT_EQ(R(Reg::kCtrl), 0u) << std::hex << x.addr << " " << x.log2;
    EXPECT_EQ(R(Reg::kStatus), abi::status::Ready::kMask | abi::status::CfgError::kMask);
  }
  // A command ring needs a completion ring.
  W(Reg::kCtrl, abi::ctrl::Reset::kMask);
  host_.ProgramRing(Reg::kCmdRing, b, 6);
  W(Reg::kCtrl, abi::ctrl::Enable::kMask);
  EXPECT_NE(R(Reg::kStatus) & abi::status::CfgError::kMask, 0u);
  // Fixing the configuration lets the next enable through and clears CfgError.
  host_.ProgramRing(Reg::kCplRing, b + HostSim::kCplOff, 12);
  W(Reg::kCtrl, abi::ctrl::Enable::kMask);
  EXPECT_EQ(R(Reg::kCtrl), 1u);
  EXPECT_EQ(R(Reg::kStatus), abi::status::Ready::kMask | abi::status::Enabled::kMask);
}

TEST_F(RegistersTest, AllRingsOffIsAValidConfiguration) {
  W(Reg::kCtrl, abi::ctrl::Enable::kMask);
  EXPECT_EQ(R(Reg::kStatus), abi::status::Ready::kMask | abi::status::Enabled::kMask);
  EXPECT_EQ(engine_.ProcessCommands(), 0u);
}

TEST_F(RegistersTest, ResetRestoresEveryResetValue) {
  ASSERT_TRUE(host_.Start());
  EXPECT_EQ(StatusOf(host_.WriteSa(300, InboundSa(300))), abi::CmdStatus::kOk);
  W(Reg::kScratch, 0x1234);
  W(Reg::kIrqMask, abi::irq::kAll);
  ASSERT_NE(R(Off(Reg::kCntCmdDone)), 0u);
  W(Reg::kCtrl, abi::ctrl::Reset::kMask | abi::ctrl::Enable::kMask);
  EXPECT_EQ(R(Reg::kEpoch), 2u);
  EXPECT_EQ(R(Reg::kCtrl), 0u);  // reset wins; Enable in the same write is ignored
  EXPECT_EQ(R(Reg::kStatus), abi::status::Ready::kMask);
  EXPECT_EQ(R(Reg::kIrqCause), abi::irq::ResetDone::kMask);
  EXPECT_EQ(R(Reg::kIrqMask), 0u);
  EXPECT_EQ(R(Reg::kScratch), 0u);
  for (Reg ring : {Reg::kCmdRing, Reg::kCplRing, Reg::kExqRing})
    for (abi::RegOffset rel = 0; rel <= 0x10; rel += 4) EXPECT_EQ(R(Off(ring) + rel), 0u);
  for (abi::RegOffset o = Off(Reg::kCntRxPkts); o < 0x240; o += 4) EXPECT_EQ(R(o), 0u);
  // The table is empty after the reset.
  ASSERT_TRUE(host_.Start());
  EXPECT_EQ(StatusOf(host_.ReadSa(300)), abi::CmdStatus::kNotFound);
  W(Reg::kCtrl, abi::ctrl::Reset::kMask);
  EXPECT_EQ(R(Reg::kEpoch), 3u);
}

TEST_F(RegistersTest, CountersLatchHighHalfOnLowRead) {
  ASSERT_TRUE(host_.Start());
  for (int i = 0; i < 3; ++i) (void)host_.Run(HostSim::Cmd(abi::Opcode::kNop));
  (void)host_.Run(HostSim::Cmd(static_cast<abi::Opcode>(0x77)));
  EXPECT_EQ(R(Off(Reg::kCntCmdDone)), 4u);
  EXPECT_EQ(R(Off(Reg::kCntCmdDone) + 4), 0u);
  EXPECT_EQ(R(Off(Reg::kCntCmdErrors)), 1u);
}

TEST(CounterLatch, HighHalfComesFromTheLowRead) {
  FakeClockTimers clock;
  EngineConfig config = SmallConfig();
  EngineCore core(config, clock);
  const abi::RegOffset lo = Off(Reg::kCntRxPkts);
  core.counters.rx_packets = 0x00000001FFFFFFFFull;
  EXPECT_EQ(core.Read32(lo), 0xFFFFFFFFu);
  core.counters.rx_packets = 0x0000000200000000ull;  // carries into HI after the latch
  EXPECT_EQ(core.Read32(lo + 4), 1u);                // the latched half, not 2
  EXPECT_EQ(core.Read32(lo + 4), 1u);                // HI reads do not re-latch
  EXPECT_EQ(core.Read32(lo), 0u);
  EXPECT_EQ(core.Read32(lo + 4), 2u);
  // Each counter has its own latch, and each maps to its own field.
  core.counters.tx_packets = 0x1100000022ull;
  core.counters.spi_miss = 0x3300000044ull;
  core.counters.exq_dropped = 0x5500000066ull;
  core.counters.cmd_done = 0x7700000088ull;
  core.counters.cmd_errors = 0x99000000AAull;
  core.counters.rx_dropped = 0xBB000000CCull;
  core.counters.tx_dropped = 0xDD000000EEull;
  const std::uint32_t want[][2] = {{0x22, 0x11}, {0x44, 0x33}, {0x66, 0x55}, {0x88, 0x77},
                                   {0xAA, 0x99}, {0xCC, 0xBB}, {0xEE, 0xDD}};
  for (int i = 0; i < 7; ++i) EXPECT_EQ(core.Read32(lo + 8 * (i + 1)), want[i][0]);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(core.Read32(lo + 8 * (i + 1) + 4), want[i][1]);
  EXPECT_EQ(core.Read32(lo + 4), 2u);
}

TEST_F(RegistersTest, DeviceMemoryIsBoundsChecked) {
  const std::uint64_t b = config_.dev_mem_base;
  const std::uint64_t end = b + config_.dev_mem_bytes;
  std::vector<std::uint8_t> buf(16, 0xAB);
  EXPECT_TRUE(engine_.DevWrite(b, buf).ok());
  EXPECT_TRUE(engine_.DevWrite(end - 16, buf).ok());
  EXPECT_TRUE(engine_.DevWrite(end, std::span<const std::uint8_t>()).ok());
  EXPECT_EQ(engine_.DevWrite(end - 15, buf).code(), Code::kOutOfRange);
  EXPECT_EQ(engine_.DevWrite(b - 1, buf).code(), Code::kOutOfRange);
  EXPECT_EQ(engine_.DevWrite(0xFFFFFFFFFFFFFFF8ull, buf).code(), Code::kOutOfRange);
  EXPECT_EQ(engine_.DevWrite(end + 1, std::span<const std::uint8_t>()).code(), Code::kOutOfRange);
  std::vector<std::uint8_t> back(16);
  EXPECT_TRUE(engine_.DevRead(end - 16, back).ok());
  EXPECT_EQ(back, buf);
  EXPECT_EQ(engine_.DevRead(0, back).code(), Code::kOutOfRange);
  EXPECT_EQ(engine_.DevRead(UINT64_MAX, back).code(), Code::kOutOfRange);
}

}  // namespace
}  // namespace inlinesec::model
