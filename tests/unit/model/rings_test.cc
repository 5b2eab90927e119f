// Ring behaviour of the engine: free-running counters wrapping over many
// laps with the phase bit flipping each lap, the completion ring filling up
// (status::CplStalled) and resuming when the host frees slots, a host that
// overruns its own command ring (status::Fatal), and the exception ring with
// its overflow rule (drop, count, irq ExqOverflow, never block).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine_impl.h"
#include "host_sim.h"
#include "inlinesec/common/fake_clock.h"

namespace inlinesec::model {
namespace {

using abi::CmdStatus;
using abi::Off;
using abi::Opcode;
using abi::Reg;
using testing::CoreHostSim;
using testing::HostSim;
using testing::RingLayout;
using testing::StatusOf;

EngineConfig TestConfig() {
  EngineConfig c;
  c.sa_capacity = 1u << 8;
  c.ring_log2_max = 10;
  return c;
}

TEST(Rings, CommandAndCompletionRingsWrapForManyLaps) {
  FakeClockTimers clock;
  Engine engine(TestConfig(), clock);
  HostSim host(engine);
  ASSERT_TRUE(host.Start(RingLayout{4, 4, 4}));  // 16 entries each
  std::uint32_t tag = 0;
  std::uint32_t expect_tag = 0;
  // 40 laps of 16 entries, in bursts of 1..16 commands per doorbell.
  for (std::uint32_t round = 0; expect_tag < 16 * 40; ++round) {
    const std::uint32_t burst = 1 + round % 16;
    for (std::uint32_t i = 0; i < burst; ++i) {
      abi::CmdDesc c = HostSim::Cmd(Opcode::kNop);
      c.tag.set(tag++);
      host.Queue(c);
    }
    host.Doorbell();
    EXPECT_EQ(engine.ProcessCommands(), burst);
    for (std::uint32_t i = 0; i < burst; ++i) {
      const std::uint32_t cons = host.cpl_cons();
      auto cpl = host.PollCpl();
      ASSERT_TRUE(cpl.has_value()) << "tag " << expect_tag;
      EXPECT_EQ(cpl->tag.get(), expect_tag);
      EXPECT_EQ(abi::cpl_ctl::Phase::Get(cpl->ctl.get()), ((cons >> 4) & 1) ^ 1);
      ++expect_tag;
    }
    EXPECT_FALSE(host.PollCpl().has_value());  // stale slot: phase from the last lap
  }
  EXPECT_EQ(engine.Read32(abi::RingOff(Reg::kCmdRing, abi::RingReg::kCons)), expect_tag);
  EXPECT_EQ(engine.Read32(abi::RingOff(Reg::kCplRing, abi::RingReg::kProd)), expect_tag);
}

TEST(Rings, CompletionRingFullStallsAndResumes) {
  FakeClockTimers clock;
  Engine engine(TestConfig(), clock);
  HostSim host(engine);
  ASSERT_TRUE(host.Start(RingLayout{6, 4, 4}));  // 64 commands, 16 completions
  for (std::uint32_t i = 0; i < 40; ++i) {
    abi::CmdDesc c = HostSim::Cmd(Opcode::kNop);
    c.tag.set(i);
    host.Queue(c);
  }
  host.Doorbell();
  EXPECT_EQ(engine.ProcessCommands(), 16u);
  const abi::RegOffset status = Off(Reg::kStatus);
  EXPECT_NE(engine.Read32(status) & abi::status::CplStalled::kMask, 0u);
  EXPECT_FALSE(engine.CommandsPending());
  EXPECT_EQ(engine.ProcessCommands(), 0u);  // still full: nothing moves
  EXPECT_EQ(engine.Read32(abi::RingOff(Reg::kCmdRing, abi::RingReg::kCons)), 16u);

  // Free 5 slots: the stall clears and exactly 5 more complete.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(host.PollCpl().has_value());
  EXPECT_EQ(engine.Read32(status) & abi::status::CplStalled::kMask, 0u);
  EXPECT_TRUE(engine.CommandsPending());
  EXPECT_EQ(engine.ProcessCommands(), 5u);
  EXPECT_NE(engine.Read32(status) & abi::status::CplStalled::kMask, 0u);

  // Drain everything, in order.
  std::uint32_t next = 5;
  while (next < 40) {
    auto cpl = host.PollCpl();
    if (!cpl) {
      ASSERT_GT(engine.ProcessCommands(), 0u);
      continue;
    }
    EXPECT_EQ(cpl->tag.get(), next++);
  }
  EXPECT_EQ(engine.Read32(status) & abi::status::CplStalled::kMask, 0u);
  EXPECT_FALSE(engine.CommandsPending());
}

TEST(Rings, ProcessCommandsHonoursMax) {
  FakeClockTimers clock;
  Engine engine(TestConfig(), clock);
  HostSim host(engine);
  ASSERT_TRUE(host.Start());
  for (int i = 0; i < 10; ++i) host.Queue(HostSim::Cmd(Opcode::kNop));
  host.Doorbell();
  EXPECT_TRUE(engine.CommandsPending());
  EXPECT_EQ(engine.ProcessCommands(3), 3u);
  EXPECT_EQ(engine.ProcessCommands(0), 0u);
  EXPECT_EQ(engine.ProcessCommands(), 7u);
  EXPECT_FALSE(engine.CommandsPending());
}

TEST(Rings, NothingRunsWhileDisabled) {
  FakeClockTimers clock;
  Engine engine(TestConfig(), clock);
  HostSim host(engine);
  ASSERT_TRUE(host.Start());
  engine.Write32(Off(Reg::kCtrl), 0);
  host.Queue(HostSim::Cmd(Opcode::kNop));
  host.Doorbell();  // recorded while disabled
  EXPECT_FALSE(engine.CommandsPending());
  EXPECT_EQ(engine.ProcessCommands(), 0u);
  engine.Write32(Off(Reg::kCtrl), abi::ctrl::Enable::kMask);
  EXPECT_EQ(engine.ProcessCommands(), 1u);
  EXPECT_TRUE(host.PollCpl().has_value());
}

TEST(Rings, CommandRingOverrunIsFatalUntilReset) {
  FakeClockTimers clock;
  Engine engine(TestConfig(), clock);
  HostSim host(engine);
  ASSERT_TRUE(host.Start(RingLayout{4, 4, 4}));
  engine.Write32(abi::RingOff(Reg::kCmdRing, abi::RingReg::kProd), 17);  // > 16 queued
  EXPECT_EQ(engine.ProcessCommands(), 0u);
  const std::uint32_t st = engine.Read32(Off(Reg::kStatus));
  EXPECT_NE(st & abi::status::Fatal::kMask, 0u);
  EXPECT_EQ(st & abi::status::Enabled::kMask, 0u);
  EXPECT_NE(engine.Read32(Off(Reg::kIrqCause)) & abi::irq::Fatal::kMask, 0u);
  engine.Write32(Off(Reg::kCtrl), abi::ctrl::Enable::kMask);  // refused while fatal
  EXPECT_EQ(engine.Read32(Off(Reg::kCtrl)), 0u);
  engine.Write32(Off(Reg::kCtrl), abi::ctrl::Reset::kMask);
  EXPECT_EQ(engine.Read32(Off(Reg::kStatus)), abi::status::Ready::kMask);
  ASSERT_TRUE(host.Start());
  EXPECT_EQ(StatusOf(host.Run(HostSim::Cmd(Opcode::kNop))), CmdStatus::kOk);
}

ExceptionInfo SampleException(std::uint32_t n) {
  ExceptionInfo x;
  x.reason = abi::ExqReason::kSpiMiss;
  x.spi = 0xABCD0000u | n;
  x.sa_index = abi::kExqNoSa;
  x.orig_len = static_cast<std::uint16_t>(100 + n);
  x.seq = 0x1122334455667788ull + n;
  x.udp_encap = true;
  x.src = {192, 168, 1, 1};
  x.dst = {192, 168, 1, 2};
  x.sport = 4500;
  x.dport = 4501;
  return x;
}

TEST(ExceptionRing, EntryLayoutPhaseAndTimestamp) {
  FakeClockTimers clock(TimePoint{std::chrono::nanoseconds(123456789)});
  EngineCore core(TestConfig(), clock);
  CoreHostSim host(core);
  ASSERT_TRUE(host.Start(RingLayout{4, 4, 4}));
  std::vector<std::uint8_t> packet(100);
  for (std::size_t i = 0; i < packet.size(); ++i) packet[i] = static_cast<std::uint8_t>(i);
  ExceptionInfo x = SampleException(1);
  x.snap = packet;
  x.outbound = true;
  x.v6 = true;
  core.RaiseIrq(0);
  core.Write32(Off(Reg::kIrqCause), abi::irq::kAll);
  ASSERT_TRUE(core.PostException(x));
  EXPECT_EQ(core.Read32(Off(Reg::kIrqCause)), abi::irq::Exq::kMask);
  auto e = host.PollExq();
  ASSERT_TRUE(e.has_value());
  const std::uint32_t ctl = e->ctl.get();
  EXPECT_EQ(abi::exq_ctl::Reason::Get(ctl), 1u);
  EXPECT_EQ(abi::exq_ctl::V6::Get(ctl), 1u);
  EXPECT_EQ(abi::exq_ctl::UdpEncap::Get(ctl), 1u);
  EXPECT_EQ(abi::exq_ctl::Outbound::Get(ctl), 1u);
  EXPECT_EQ(abi::exq_ctl::SnapLen::Get(ctl), 60u);  // capped at kExqSnapBytes
  EXPECT_EQ(abi::exq_ctl::Phase::Get(ctl), 1u);
  EXPECT_EQ(ctl & ~abi::exq_ctl::kDefinedMask, 0u);
  EXPECT_EQ(e->spi.get(), 0xABCD0001u);
  EXPECT_EQ(e->sa_index.get(), abi::kExqNoSa);
  EXPECT_EQ(e->orig_len.get(), 101u);
  EXPECT_EQ(e->rsvd_0x0e.get(), 0u);
  EXPECT_EQ(e->seq.get(), 0x1122334455667789ull);
  EXPECT_EQ(e->timestamp.get(), 123456789u);
  EXPECT_EQ(e->src, x.src);
  EXPECT_EQ(e->dst, x.dst);
  EXPECT_EQ(e->sport.get(), 4500u);
  EXPECT_EQ(e->dport.get(), 4501u);
  for (std::size_t i = 0; i < abi::kExqSnapBytes; ++i) EXPECT_EQ(e->snap[i], i);
  // A short packet: snap_len is its length and the rest of snap is zero.
  clock.Advance(std::chrono::microseconds(5));
  x.snap = std::span<const std::uint8_t>(packet).first(7);
  ASSERT_TRUE(core.PostException(x));
  e = host.PollExq();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(abi::exq_ctl::SnapLen::Get(e->ctl.get()), 7u);
  EXPECT_EQ(e->snap[7], 0u);
  EXPECT_EQ(e->timestamp.get(), 123456789u + 5000u);
  EXPECT_EQ(core.counters.exq_posted, 2u);
}

TEST(ExceptionRing, OverflowDropsCountsAndRaisesIrq) {
  FakeClockTimers clock;
  EngineCore core(TestConfig(), clock);
  CoreHostSim host(core);
  ASSERT_TRUE(host.Start(RingLayout{4, 4, 4}));  // 16 exception slots
  core.Write32(Off(Reg::kIrqCause), abi::irq::kAll);
  core.Write32(Off(Reg::kIrqMask), abi::irq::ExqOverflow::kMask);
  for (std::uint32_t i = 0; i < 16; ++i) ASSERT_TRUE(core.PostException(SampleException(i)));
  EXPECT_FALSE(core.IrqAsserted());
  for (std::uint32_t i = 16; i < 20; ++i) EXPECT_FALSE(core.PostException(SampleException(i)));
  EXPECT_TRUE(core.IrqAsserted());
  EXPECT_EQ(core.counters.exq_posted, 16u);
  EXPECT_EQ(core.counters.exq_dropped, 4u);
  EXPECT_EQ(core.Read32(Off(Reg::kCntExqDropped)), 4u);
  EXPECT_EQ(core.Read32(abi::RingOff(Reg::kExqRing, abi::RingReg::kProd)), 16u);
  // The ring content is the first 16, untouched by the dropped ones.
  for (std::uint32_t i = 0; i < 16; ++i) {
    auto e = host.PollExq();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->spi.get(), 0xABCD0000u | i);
  }
  EXPECT_FALSE(host.PollExq().has_value());
  // Space again: the second lap is written with phase 0.
  ASSERT_TRUE(core.PostException(SampleException(99)));
  auto e = host.PollExq();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(abi::exq_ctl::Phase::Get(e->ctl.get()), 0u);
  EXPECT_EQ(e->spi.get(), 0xABCD0000u | 99);
}

TEST(ExceptionRing, RingOffOrEngineDisabledDrops) {
  FakeClockTimers clock;
  EngineCore core(TestConfig(), clock);
  CoreHostSim host(core);
  EXPECT_FALSE(core.PostException(SampleException(0)));  // disabled
  ASSERT_TRUE(host.Start(RingLayout{4, 4, 0}));          // exception ring off
  EXPECT_FALSE(core.PostException(SampleException(1)));
  EXPECT_EQ(core.counters.exq_dropped, 2u);
  EXPECT_NE(core.Read32(Off(Reg::kIrqCause)) & abi::irq::ExqOverflow::kMask, 0u);
}

TEST(ExceptionRing, WrapsForManyLaps) {
  FakeClockTimers clock;
  EngineCore core(TestConfig(), clock);
  CoreHostSim host(core);
  ASSERT_TRUE(host.Start(RingLayout{4, 4, 4}));
  std::uint32_t posted = 0;
  std::uint32_t seen = 0;
  for (std::uint32_t round = 0; posted < 16 * 25; ++round) {
    const std::uint32_t burst = 1 + round % 16;
    for (std::uint32_t i = 0; i < burst; ++i)
      ASSERT_TRUE(core.PostException(SampleException(posted++)));
    while (auto e = host.PollExq()) {
      EXPECT_EQ(e->spi.get(), 0xABCD0000u | seen);
      EXPECT_EQ(abi::exq_ctl::Phase::Get(e->ctl.get()), ((seen >> 4) & 1) ^ 1);
      ++seen;
    }
    EXPECT_EQ(seen, posted);
  }
  EXPECT_EQ(core.counters.exq_dropped, 0u);
}

}  // namespace
}  // namespace inlinesec::model
