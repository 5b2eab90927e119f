// FaultPlan: the failures the model commits on request, for driver tests.
// Lost doorbells, commands completing with kInternal, corrupt exception
// entries and a reset in the middle of a batch.
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
using testing::InboundSa;
using testing::OutboundSa;
using testing::Record;
using testing::StatusOf;

EngineConfig TestConfig() {
  EngineConfig c;
  c.sa_capacity = 1u << 10;
  c.ring_log2_max = 10;
  return c;
}

TEST(Faults, DroppedDoorbellIsIgnored) {
  FakeClockTimers clock;
  Engine engine(TestConfig(), clock);
  HostSim host(engine);
  ASSERT_TRUE(host.Start());
  engine.faults().drop_doorbells = 1;
  host.Queue(HostSim::Cmd(Opcode::kNop, 1));
  host.Doorbell();  // lost
  EXPECT_EQ(engine.Read32(abi::RingOff(Reg::kCmdRing, abi::RingReg::kProd)), 0u);
  EXPECT_FALSE(engine.CommandsPending());
  EXPECT_EQ(engine.ProcessCommands(), 0u);
  EXPECT_FALSE(host.PollCpl().has_value());  // the host would time out here
  EXPECT_EQ(engine.faults().drop_doorbells, 0u);
  // The next doorbell carries both commands.
  host.Queue(HostSim::Cmd(Opcode::kNop, 2));
  host.Doorbell();
  EXPECT_EQ(engine.ProcessCommands(), 2u);
  EXPECT_EQ(host.PollCpl()->info.get(), 1u);
  EXPECT_EQ(host.PollCpl()->info.get(), 2u);
}

TEST(Faults, FailedCommandsCompleteWithInternalAndChangeNothing) {
  FakeClockTimers clock;
  Engine engine(TestConfig(), clock);
  HostSim host(engine);
  ASSERT_TRUE(host.Start());
  engine.faults().fail_commands = 3;
  EXPECT_EQ(StatusOf(host.WriteSa(1, OutboundSa(1))), CmdStatus::kInternal);
  const abi::CplEntry batch = host.WriteBatch({Record(2, OutboundSa(2))});
  EXPECT_EQ(StatusOf(batch), CmdStatus::kInternal);
  EXPECT_EQ(batch.info.get(), 0u);  // the whole batch failed, not one record
  EXPECT_EQ(batch.done.get(), 0u);
  EXPECT_EQ(StatusOf(host.Run(HostSim::Cmd(Opcode::kNop))), CmdStatus::kInternal);
  EXPECT_EQ(StatusOf(host.ReadSa(1)), CmdStatus::kNotFound);
  EXPECT_EQ(StatusOf(host.ReadSa(2)), CmdStatus::kNotFound);
  EXPECT_EQ(engine.Read32(Off(Reg::kCntCmdErrors)), 5u);
}

TEST(Faults, CorruptExceptionEntryIsRejectableByABoundedDecoder) {
  FakeClockTimers clock;
  EngineCore core(TestConfig(), clock);
  CoreHostSim host(core);
  ASSERT_TRUE(host.Start());
  core.faults.corrupt_exq = 1;
  ExceptionInfo x;
  x.reason = abi::ExqReason::kReplay;
  x.spi = 0x1234;
  ASSERT_TRUE(core.PostException(x));
  ASSERT_TRUE(core.PostException(x));
  auto bad = host.PollExq();
  ASSERT_TRUE(bad.has_value());
  const std::uint32_t ctl = bad->ctl.get();
  EXPECT_GT(abi::exq_ctl::Reason::Get(ctl), static_cast<std::uint32_t>(abi::ExqReason::kLast));
  EXPECT_GT(abi::exq_ctl::SnapLen::Get(ctl), abi::kExqSnapBytes);
  EXPECT_EQ(abi::exq_ctl::Phase::Get(ctl), 1u);  // still a written entry
  auto good = host.PollExq();
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(abi::exq_ctl::Reason::Get(good->ctl.get()), 2u);
  EXPECT_EQ(core.faults.corrupt_exq, 0u);
}

TEST(Faults, ResetMidBatchLeavesNoCompletionAndAnEmptyTable) {
  FakeClockTimers clock;
  Engine engine(TestConfig(), clock);
  HostSim host(engine);
  ASSERT_TRUE(host.Start());
  ASSERT_EQ(StatusOf(host.WriteSa(500, InboundSa(500))), CmdStatus::kOk);
  engine.Write32(Off(Reg::kIrqCause), abi::irq::kAll);
  engine.faults().reset_after_records = 4;
  // A batch no longer than N completes normally and keeps the fault armed.
  EXPECT_EQ(StatusOf(host.WriteBatch({Record(1, OutboundSa(1))})), CmdStatus::kOk);
  EXPECT_EQ(engine.faults().reset_after_records, 4u);
  std::vector<abi::SaWriteRecord> recs;
  for (std::uint32_t i = 0; i < 10; ++i) recs.push_back(Record(10 + i, OutboundSa(i)));
  const abi::CplEntry cpl = host.WriteBatch(recs);
  EXPECT_EQ(cpl.ctl.get(), 0xFFFFFFFFu);  // HostSim's "no completion"
  EXPECT_EQ(engine.faults().reset_after_records, 0u);
  EXPECT_EQ(engine.Read32(Off(Reg::kEpoch)), 2u);
  EXPECT_EQ(engine.Read32(Off(Reg::kStatus)), abi::status::Ready::kMask);
  EXPECT_EQ(engine.Read32(Off(Reg::kIrqCause)), abi::irq::ResetDone::kMask);
  EXPECT_EQ(engine.Read32(abi::RingOff(Reg::kCplRing, abi::RingReg::kProd)), 0u);
  // After bring-up again: every SA is gone, the ones of the batch included.
  ASSERT_TRUE(host.Start());
  EXPECT_EQ(StatusOf(host.ReadSa(500)), CmdStatus::kNotFound);
  EXPECT_EQ(StatusOf(host.ReadSa(1)), CmdStatus::kNotFound);
  for (std::uint32_t i = 0; i < 10; ++i)
    EXPECT_EQ(StatusOf(host.ReadSa(10 + i)), CmdStatus::kNotFound);
}

}  // namespace
}  // namespace inlinesec::model
