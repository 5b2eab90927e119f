// Device over the stepped model: identification (magic, ABI major refusal,
// capabilities), the named register table, CmdStatus mapping, the DMA
// allocator of ModelTransport and the threaded mode's interrupt wait.
#include "inlinesec/driver/device.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>
#include <set>

#include "inlinesec/driver/model_transport.h"
#include "inlinesec/driver/registers.h"

namespace inlinesec::driver {
namespace {

// Delegates to a model but lies about chosen registers: what a wrong or
// broken engine looks like to the driver.
class LyingTransport final : public Transport {
 public:
  LyingTransport(std::unique_ptr<Transport> inner, RegOffset off, std::uint32_t value)
      : inner_(std::move(inner)), off_(off), value_(value) {}
  std::string Describe() const override { return "lying(" + inner_->Describe() + ")"; }
  std::uint32_t Read32(RegOffset off) override {
    return armed_ && off == off_ ? value_ : inner_->Read32(off);
  }
  void Write32(RegOffset off, std::uint32_t v) override {
    if (armed_ && swallow_ && off == *swallow_) return;
    inner_->Write32(off, v);
  }
  // Lies only while armed; optionally also loses writes to one register.
  void Arm(bool on, std::optional<RegOffset> swallow = std::nullopt) {
    armed_ = on;
    swallow_ = swallow;
  }
  Result<DmaBuffer> AllocDma(std::size_t n) override { return inner_->AllocDma(n); }
  Status FreeDma(const DmaBuffer& b) override { return inner_->FreeDma(b); }
  Status DmaToDevice(DevAddr a, std::span<const std::uint8_t> s) override {
    return inner_->DmaToDevice(a, s);
  }
  Status DmaFromDevice(DevAddr a, std::span<std::uint8_t> d) override {
    return inner_->DmaFromDevice(a, d);
  }
  Status WaitIrq(Duration t) override { return inner_->WaitIrq(t); }
  void Kick() override { inner_->Kick(); }

 private:
  std::unique_ptr<Transport> inner_;
  RegOffset off_;
  std::uint32_t value_;
  bool armed_ = true;
  std::optional<RegOffset> swallow_;
};

std::unique_ptr<ModelTransport> Model(const Clock& clock, bool threaded = false) {
  ModelTransportOptions o;
  o.engine.sa_capacity = 256;
  o.engine.max_batch = 64;
  o.threaded = threaded;
  auto t = ModelTransport::Create(o, clock);
  INLINESEC_CHECK(t.ok());
  return std::move(t).value();
}

TEST(Device, ReadsCapabilities) {
  SystemClock clock;
  auto d = Device::Attach(Model(clock), clock);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const Capabilities& c = (*d)->caps();
  EXPECT_EQ(c.abi_major, abi::kAbiMajor);
  EXPECT_EQ(c.abi_minor, abi::kAbiMinor);
  EXPECT_EQ(c.sa_capacity, 256u);
  EXPECT_EQ(c.max_batch, 64u);
  EXPECT_TRUE(c.esn && c.nat_t && c.ipv6 && c.tunnel && c.transport);
  EXPECT_TRUE(c.SupportsAlgo(abi::Algo::kChaCha20Poly1305));
  EXPECT_FALSE(c.SupportsAlgo(abi::Algo::kAesCbc128HmacSha256));
  EXPECT_EQ((*d)->stats().resets, 1u);
}

TEST(Device, RefusesAnotherAbiMajor) {
  SystemClock clock;
  std::uint32_t v2 = abi::abi_version::Major::Set(0, 2);
  auto d = Device::Attach(
      std::make_unique<LyingTransport>(Model(clock), abi::Off(abi::Reg::kAbiVersion), v2), clock);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(d.status().message().find("speaks ABI 2.0"), std::string::npos) << d.status().message();
  EXPECT_NE(d.status().message().find("incompatible"), std::string::npos);
}

TEST(Device, AcceptsANewerMinor) {
  SystemClock clock;
  std::uint32_t v = abi::abi_version::Minor::Set(abi::abi_version::Major::Set(0, 1), 7);
  auto d = Device::Attach(
      std::make_unique<LyingTransport>(Model(clock), abi::Off(abi::Reg::kAbiVersion), v), clock);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)->caps().abi_minor, 7);
}

TEST(Device, RefusesWrongMagicAndImplausibleCaps) {
  SystemClock clock;
  auto a = Device::Attach(
      std::make_unique<LyingTransport>(Model(clock), abi::Off(abi::Reg::kId), 0xFFFFFFFF), clock);
  EXPECT_EQ(a.status().code(), Code::kUnavailable);
  EXPECT_NE(a.status().message().find("no inlinesec engine"), std::string::npos);
  auto b = Device::Attach(
      std::make_unique<LyingTransport>(Model(clock), abi::Off(abi::Reg::kCapSaCapacity), 1000),
      clock);
  EXPECT_EQ(b.status().code(), Code::kDataLoss);
}

TEST(Device, ResetWaitsWithDeadline) {
  SystemClock clock;
  // STATUS never shows Ready: the reset must give up at its deadline.
  DeviceOptions o;
  o.reset_timeout = std::chrono::milliseconds(20);
  auto d = Device::Attach(
      std::make_unique<LyingTransport>(Model(clock), abi::Off(abi::Reg::kStatus), 0), clock, o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kDeadlineExceeded);
  EXPECT_NE(d.status().message().find("ready"), std::string::npos);
}

TEST(Device, EpochChangeIsDetectedAndCommandsRefusedUntilReset) {
  SystemClock clock;
  auto d = Device::Attach(Model(clock), clock);
  ASSERT_TRUE(d.ok());
  Device& dev = **d;
  EXPECT_FALSE(dev.EpochChanged());
  dev.Poke(abi::Off(abi::Reg::kCtrl), abi::ctrl::Reset::Set(0, 1));
  EXPECT_TRUE(dev.EpochChanged());
  EXPECT_EQ(dev.Nop().code(), Code::kUnavailable);
  EXPECT_EQ(dev.stats().unexpected_resets, 1u);
  ASSERT_TRUE(dev.Reset().ok());
  EXPECT_FALSE(dev.EpochChanged());
  EXPECT_TRUE(dev.Nop().ok());
}

TEST(Device, SynchronousCommandLeavesNoCompletionCauseAsserted) {
  // Callers above the driver (rte_security glue, the daemon's epoll loop)
  // rely on this: a completed synchronous command must not leave the
  // completion interrupt asserted, or every later irq wait wakes at once.
  SystemClock clock;
  auto d = Device::Attach(Model(clock), clock);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  Device& dev = **d;
  const abi::RegOffset cause = abi::Off(abi::Reg::kIrqCause);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(dev.Nop().ok());
    EXPECT_EQ(dev.Peek(cause) & abi::irq::Cpl::kMask, 0u) << "after command " << i;
  }
}

TEST(Device, FatalEngineFailsCommandsFastInsteadOfTimingOut) {
  SystemClock clock;
  auto lying =
      std::make_unique<LyingTransport>(Model(clock), abi::Off(abi::Reg::kStatus),
                                       abi::status::Fatal::Set(abi::status::Ready::Set(0, 1), 1));
  LyingTransport* lie = lying.get();
  lie->Arm(false);
  DeviceOptions o;
  o.command_timeout = std::chrono::seconds(30);  // must not be waited for
  auto d = Device::Attach(std::move(lying), clock, o);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  lie->Arm(true, abi::RingOff(abi::Reg::kCmdRing, abi::RingReg::kProd));
  Status st = (*d)->Nop();
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("fatal"), std::string::npos) << st.message();
  lie->Arm(false);
  EXPECT_EQ((*d)->Nop().code(), Code::kUnavailable);  // refused until reset
  ASSERT_TRUE((*d)->Reset().ok());
  EXPECT_TRUE((*d)->Nop().ok());
}

TEST(RegisterTable, NamesAndOffsetsAreUnique) {
  std::set<std::string_view> names;
  std::set<abi::RegOffset> offsets;
  for (const RegInfo& r : RegisterTable()) {
    EXPECT_TRUE(names.insert(r.name).second) << r.name;
    EXPECT_TRUE(offsets.insert(r.offset).second) << r.name;
    EXPECT_EQ(r.offset % 4, 0u);
    EXPECT_LT(r.offset, abi::kRegSpaceBytes);
  }
  auto ctrl = FindRegister("CTRL");
  ASSERT_TRUE(ctrl.has_value());
  EXPECT_EQ(ctrl->offset, abi::Off(abi::Reg::kCtrl));
  EXPECT_EQ(FindRegister("CPL_CONS")->offset,
            abi::RingOff(abi::Reg::kCplRing, abi::RingReg::kCons));
  EXPECT_FALSE(FindRegister("NOPE").has_value());
  EXPECT_EQ(RegAccessName(FindRegister("IRQ_CAUSE")->access), "W1C");
}

TEST(CmdStatusMapping, KeepsTheDeviceWord) {
  Status s = CmdStatusToStatus(abi::CmdStatus::kExists, abi::Opcode::kWriteSa, 7);
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_EQ(s.device_status(), static_cast<std::uint32_t>(abi::CmdStatus::kExists));
  EXPECT_NE(s.message().find("WriteSa"), std::string::npos);
  EXPECT_TRUE(CmdStatusToStatus(abi::CmdStatus::kOk, abi::Opcode::kNop, 0).ok());
  EXPECT_EQ(CmdStatusToStatus(abi::CmdStatus::kBadIndex, abi::Opcode::kReadSa, 0).code(),
            Code::kOutOfRange);
  EXPECT_EQ(CmdStatusToStatus(abi::CmdStatus::kUnsupported, abi::Opcode::kWriteSa, 0).code(),
            Code::kUnimplemented);
  EXPECT_EQ(CmdStatusToStatus(abi::CmdStatus::kInternal, abi::Opcode::kNop, 0).code(),
            Code::kDeviceError);
  EXPECT_EQ(CmdStatusToStatus(static_cast<abi::CmdStatus>(0x77), abi::Opcode::kNop, 0).code(),
            Code::kDeviceError);
}

TEST(ModelTransport, AllocatorAlignsFreesAndCoalesces) {
  SystemClock clock;
  ModelTransportOptions o;
  o.engine.dev_mem_bytes = 64 * 1024;
  auto t = ModelTransport::Create(o, clock);
  ASSERT_TRUE(t.ok());
  auto a = (*t)->AllocDma(100);
  auto b = (*t)->AllocDma(1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->addr % abi::kRingAlign, 0u);
  EXPECT_EQ(b->addr % abi::kRingAlign, 0u);
  EXPECT_GE(a->size, 100u);
  EXPECT_EQ((*t)->AllocDma(1 << 20).status().code(), Code::kResourceExhausted);
  ASSERT_TRUE((*t)->FreeDma(*a).ok());
  ASSERT_TRUE((*t)->FreeDma(*b).ok());
  EXPECT_EQ((*t)->FreeDma(*b).code(), Code::kNotFound);
  auto all = (*t)->AllocDma(64 * 1024);  // coalesced back into one block
  EXPECT_TRUE(all.ok()) << all.status().ToString();
}

// Command calls poll with the completion interrupt masked: synchronous
// commands leave the irq eventfd quiet (epoll users wake only for causes
// they must handle), every cause is unmasked again afterwards, and such a
// cause still makes the fd readable.
TEST(ModelTransport, PolledCommandsLeaveTheIrqFdQuiet) {
  SystemClock clock;
  auto d = Device::Attach(Model(clock), clock);
  ASSERT_TRUE(d.ok());
  Transport& t = (*d)->transport();
  const int fd = t.IrqFd();
  ASSERT_GE(fd, 0);
  std::uint64_t v = 0;
  (void)!read(fd, &v, sizeof(v));  // whatever bring-up left
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*d)->Nop().ok());
  EXPECT_LT(read(fd, &v, sizeof(v)), 0);  // EAGAIN: nothing was signalled
  EXPECT_EQ(t.Read32(abi::Off(abi::Reg::kIrqMask)), abi::irq::kAll);
  // CTRL.Reset raises ResetDone (and clears the mask): unmasked, it is a
  // cause the driver did not acknowledge, and the fd wakes.
  t.Write32(abi::Off(abi::Reg::kCtrl), abi::ctrl::Reset::Set(0, 1));
  t.Write32(abi::Off(abi::Reg::kIrqMask), abi::irq::kAll);
  t.Kick();
  EXPECT_EQ(read(fd, &v, sizeof(v)), static_cast<ssize_t>(sizeof(v)));
}

TEST(ModelTransport, ThreadedWaitIrqTimesOutThenWakes) {
  SystemClock clock;
  auto d = Device::Attach(Model(clock, /*threaded=*/true), clock);
  ASSERT_TRUE(d.ok());
  Transport& t = (*d)->transport();
  EXPECT_GE(t.IrqFd(), 0);
  // Nothing pending: the line is low (reset acknowledged by the driver).
  EXPECT_EQ(t.WaitIrq(std::chrono::milliseconds(5)).code(), Code::kDeadlineExceeded);
  EXPECT_TRUE((*d)->Nop().ok());  // raises Cpl on the engine thread
  // The driver acknowledges Cpl once all its commands have completed, so a
  // synchronous command leaves the line low.
  EXPECT_EQ(t.WaitIrq(std::chrono::milliseconds(5)).code(), Code::kDeadlineExceeded);
  // A cause nobody acknowledges wakes the waiter: CTRL.Reset raises ResetDone
  // (and clears the mask, so it is unmasked again).
  t.Write32(abi::Off(abi::Reg::kCtrl), abi::ctrl::Reset::Set(0, 1));
  t.Write32(abi::Off(abi::Reg::kIrqMask), abi::irq::kAll);
  EXPECT_TRUE(t.WaitIrq(std::chrono::milliseconds(500)).ok());
}

}  // namespace
}  // namespace inlinesec::driver
