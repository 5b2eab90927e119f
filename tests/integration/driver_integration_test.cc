// Whole-driver integration tests: Device + SaManager + ExceptionConsumer over
// a real transport, written once as typed tests and run over the model in
// stepped mode, the model on its own thread, and an XRT card (skipped with
// the reason when there is none). Fault-injection tests use the model's
// FaultPlan and skip on a card.
#include <gtest/gtest.h>
#include <poll.h>

#include <set>
#include <string>

#include "driver_test_env.h"
#include "inlinesec/common/fake_clock.h"
#include "inlinesec/sdk/events.h"
#include "inlinesec/sdk/sa_manager.h"

namespace inlinesec {
namespace {

using driver::Device;
using sdk::SaHandle;
using testenv::Inbound;
using testenv::Outbound;

struct SteppedModel {
  static std::string Uri() { return "model:capacity=1024"; }
  static std::string Name() { return "ModelStepped"; }
};
struct ThreadedModel {
  static std::string Uri() { return "model:capacity=1024,threaded=1"; }
  static std::string Name() { return "ModelThreaded"; }
};
struct XrtCard {
  static std::string Uri() { return "xrt:0"; }
  static std::string Name() { return "XrtCard"; }
};
struct BackendName {
  template <typename T>
  static std::string GetName(int) {
    return T::Name();
  }
};

template <typename Backend>
class DriverIntegration : public ::testing::Test {
 protected:
  void SetUp() override { Open(testenv::FastOptions()); }

  void Open(const driver::DeviceOptions& options) {
    sa_.reset();
    events_.reset();
    dev_.reset();
    auto dev = Device::Open(Backend::Uri(), clock_, options);
    if (!dev.ok()) {
      if (Backend::Uri().rfind("xrt:", 0) == 0) {
        GTEST_SKIP() << "no card: " << dev.status().ToString();
      }
      FAIL() << dev.status().ToString();
    }
    dev_ = std::move(dev).value();
    sa_ = std::make_unique<sdk::SaManager>(*dev_, timers_, timers_, sdk::SaManagerOptions{});
    events_ = std::make_unique<sdk::ExceptionConsumer>(*dev_);
    events_->AddSink([this](const sdk::Event& e) { sa_->OnDeviceEvent(e); });
  }

  // Fault injection and packets need the model; a card skips.
  driver::ModelTransport* Model() { return testenv::ModelOf(*dev_); }

  // The engine's table equals the shadow: every shadow SA reads back with
  // its SPI, control word, sequence number and cookie, and no other index
  // holds a valid entry.
  void ExpectTableEqualsShadow() {
    std::set<std::uint32_t> live;
    for (SaHandle h : sa_->Handles()) {
      live.insert(h.index);
      auto st = dev_->ReadSa(h.index);
      ASSERT_TRUE(st.ok()) << "index " << h.index << ": " << st.status().ToString();
      auto want = sa_->ShadowEntry(h);
      ASSERT_TRUE(want.ok());
      EXPECT_EQ(st->spi.get(), want->spi.get());
      EXPECT_EQ(st->ctl.get(), want->ctl.get());
      EXPECT_EQ(st->seq.get(), want->seq.get());
      EXPECT_EQ(st->cookie.get(), want->cookie.get());
    }
    for (std::uint32_t i = 0; i < dev_->caps().sa_capacity; ++i) {
      if (live.count(i)) continue;
      auto st = dev_->ReadSa(i);
      EXPECT_EQ(st.status().code(), Code::kNotFound) << "index " << i << " holds a ghost SA";
    }
  }

  std::vector<SaHandle> AddMany(std::size_t n, std::uint32_t spi_base) {
    std::vector<SaHandle> out;
    for (std::size_t i = 0; i < n; ++i) {
      auto h = (i % 2) ? sa_->Add(Inbound())
                       : sa_->Add(Outbound(spi_base + static_cast<std::uint32_t>(i)));
      EXPECT_TRUE(h.ok()) << h.status().ToString();
      if (h.ok()) out.push_back(*h);
    }
    return out;
  }

  SystemClock clock_;
  FakeClockTimers timers_;
  std::unique_ptr<Device> dev_;
  std::unique_ptr<sdk::SaManager> sa_;
  std::unique_ptr<sdk::ExceptionConsumer> events_;
};

using Backends = ::testing::Types<SteppedModel, ThreadedModel, XrtCard>;
TYPED_TEST_SUITE(DriverIntegration, Backends, BackendName);

#define NEED_MODEL()                             \
  driver::ModelTransport* model = this->Model(); \
  if (model == nullptr) GTEST_SKIP() << "fault injection needs the model"

TYPED_TEST(DriverIntegration, BringUpIdentifiesAndAnswers) {
  const auto& caps = this->dev_->caps();
  EXPECT_EQ(caps.abi_major, abi::kAbiMajor);
  EXPECT_EQ(caps.sa_capacity, 1024u);
  EXPECT_TRUE(caps.SupportsAlgo(abi::Algo::kAesGcm256));
  EXPECT_TRUE(this->dev_->Nop().ok());
  this->dev_->Poke(abi::Off(abi::Reg::kScratch), 0xA5A5F00D);
  EXPECT_EQ(this->dev_->Peek(abi::Off(abi::Reg::kScratch)), 0xA5A5F00Du);
  bool saw_epoch = false;
  for (const auto& r : this->dev_->DumpRegisters()) {
    if (r.name == "EPOCH") saw_epoch = r.value == this->dev_->epoch();
  }
  EXPECT_TRUE(saw_epoch);
  auto stats = this->dev_->ReadStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GE(stats->cmd_done.get(), 1u);
}

TYPED_TEST(DriverIntegration, SinglesAndBatchesReadBackAsShadow) {
  auto singles = this->AddMany(40, 0x1000);
  ASSERT_EQ(singles.size(), 40u);
  std::vector<sdk::SaDescription> batch;
  for (std::uint32_t i = 0; i < 100; ++i) {
    batch.push_back(i % 3 ? Outbound(0x2000 + i, static_cast<std::uint8_t>(i)) : Inbound());
  }
  auto r = this->sa_->AddBatch(batch);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.handles.size(), 100u);
  EXPECT_EQ(this->sa_->size(), 140u);
  this->ExpectTableEqualsShadow();
  // Delete half in one batch; the rest stays.
  std::vector<SaHandle> del(r.handles.begin(), r.handles.begin() + 50);
  auto d = this->sa_->DeleteBatch(del);
  EXPECT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(this->sa_->size(), 90u);
  this->ExpectTableEqualsShadow();
}

TYPED_TEST(DriverIntegration, DroppedDoorbellTimesOutThenRecovers) {
  NEED_MODEL();
  this->Open(testenv::ShortTimeoutOptions());
  model = this->Model();
  auto before = this->AddMany(6, 0x3000);
  model->WithEngine([](model::Engine& e) { e.faults().drop_doorbells = 1; });
  auto h = this->sa_->Add(Outbound(0x3999));
  EXPECT_EQ(h.status().code(), Code::kDeadlineExceeded) << h.status().ToString();
  EXPECT_TRUE(this->sa_->resync_needed());
  EXPECT_EQ(this->sa_->size(), 6u);  // nothing lost, nothing invented
  // The lost command is still in the ring: the next doorbell runs it, its
  // completion carries a stale tag and is discarded.
  EXPECT_TRUE(this->dev_->Nop().ok());
  EXPECT_GE(this->dev_->stats().stale_completions, 1u);
  EXPECT_GE(this->dev_->stats().timeouts, 1u);
  // Recovery: the ghost it left in the table is flushed by the resync.
  auto ran = this->sa_->CheckDevice();
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  EXPECT_TRUE(*ran);
  EXPECT_FALSE(this->sa_->resync_needed());
  this->ExpectTableEqualsShadow();
  EXPECT_TRUE(this->sa_->Add(Outbound(0x3998)).ok());
}

TYPED_TEST(DriverIntegration, ErrorCompletionsChangeNothing) {
  NEED_MODEL();
  this->AddMany(4, 0x4000);
  model->WithEngine([](model::Engine& e) { e.faults().fail_commands = 1; });
  auto h = this->sa_->Add(Outbound(0x4100));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), Code::kDeviceError);
  EXPECT_EQ(h.status().device_status(), static_cast<std::uint32_t>(abi::CmdStatus::kInternal));
  EXPECT_FALSE(this->sa_->resync_needed());  // the engine answered: state is known
  model->WithEngine([](model::Engine& e) { e.faults().fail_commands = 1; });
  std::vector<sdk::SaDescription> batch;
  for (std::uint32_t i = 0; i < 8; ++i) batch.push_back(Outbound(0x4200 + i));
  auto r = this->sa_->AddBatch(batch);
  EXPECT_EQ(r.status.code(), Code::kDeviceError);
  EXPECT_TRUE(r.handles.empty());
  EXPECT_EQ(this->sa_->size(), 4u);
  this->ExpectTableEqualsShadow();
  EXPECT_TRUE(this->sa_->Add(Outbound(0x4101)).ok());
}

TYPED_TEST(DriverIntegration, CompletionRingFullIsDrained) {
  NEED_MODEL();
  driver::DeviceOptions o = testenv::FastOptions();
  o.cmd_ring_log2 = 6;  // 64 commands
  o.cpl_ring_log2 = 4;  // 16 completions: the engine stalls after 16
  this->Open(o);
  std::vector<abi::CmdDesc> cmds(200);
  for (auto& c : cmds) {
    c = abi::CmdDesc{};
    c.opcode = static_cast<std::uint8_t>(abi::Opcode::kNop);
  }
  std::vector<driver::Completion> cpl(cmds.size());
  ASSERT_TRUE(this->dev_->Execute(cmds, cpl).ok());
  for (const auto& c : cpl) EXPECT_EQ(c.status, abi::CmdStatus::kOk);
  // And through the SDK: 100 deletes pipelined through the small rings.
  auto hs = this->AddMany(100, 0x5000);
  auto d = this->sa_->DeleteBatch(hs);
  EXPECT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(this->sa_->size(), 0u);
  this->ExpectTableEqualsShadow();
}

TYPED_TEST(DriverIntegration, CorruptExceptionEntriesAreCountedAndSkipped) {
  NEED_MODEL();
  model->WithEngine([](model::Engine& e) { e.faults().corrupt_exq = 2; });
  for (std::uint32_t spi : {0x11111u, 0x22222u, 0x33333u}) {
    auto pkt = testenv::Esp(spi);
    model->WithEngine([&](model::Engine& e) { (void)e.Receive(pkt.frame); });
  }
  std::vector<sdk::Event> ev;
  auto n = this->events_->Poll(ev);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, sdk::EventKind::kSpiMiss);
  EXPECT_EQ(ev[0].packet.spi, 0x33333u);
  EXPECT_EQ(this->events_->stats().corrupt, 2u);
}

TYPED_TEST(DriverIntegration, SpiMissCarriesPeerAddressPortsAndSpi) {
  NEED_MODEL();
  auto pkt = testenv::Esp(0xABCDE, /*udp=*/true);
  model->WithEngine([&](model::Engine& e) { (void)e.Receive(pkt.frame); });
  if (this->events_->fd() >= 0) {
    pollfd p{this->events_->fd(), POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 1000), 1);  // the irq fd woke up
  }
  std::vector<sdk::Event> ev;
  ASSERT_TRUE(this->events_->Poll(ev).ok());
  ASSERT_EQ(ev.size(), 1u);
  const auto& p = ev[0].packet;
  EXPECT_EQ(ev[0].kind, sdk::EventKind::kSpiMiss);
  EXPECT_EQ(p.spi, 0xABCDEu);
  EXPECT_EQ(p.src.ToString(), "203.0.113.9");
  EXPECT_TRUE(p.udp_encap);
  EXPECT_EQ(p.sport, 4501);
  EXPECT_EQ(p.dport, 4500);
  EXPECT_GT(p.snap_len, 0);
}

TYPED_TEST(DriverIntegration, RingOverflowIsReportedFromTheDropCounter) {
  NEED_MODEL();
  driver::DeviceOptions o = testenv::FastOptions();
  o.exq_ring_log2 = 4;  // 16 entries
  this->Open(o);
  model = this->Model();
  for (std::uint32_t i = 0; i < 20; ++i) {
    auto pkt = testenv::Esp(0x50000 + i);
    model->WithEngine([&](model::Engine& e) { (void)e.Receive(pkt.frame); });
  }
  std::vector<sdk::Event> ev;
  ASSERT_TRUE(this->events_->Poll(ev, 1000).ok());
  ASSERT_EQ(ev.size(), 17u);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(ev[i].kind, sdk::EventKind::kSpiMiss);
  EXPECT_EQ(ev[16].kind, sdk::EventKind::kRingOverflow);
  EXPECT_EQ(ev[16].dropped, 4u);
  EXPECT_EQ(this->events_->stats().overflow_dropped, 4u);
  // Reported once: the next poll has nothing new.
  ev.clear();
  ASSERT_TRUE(this->events_->Poll(ev).ok());
  EXPECT_TRUE(ev.empty());
}

TYPED_TEST(DriverIntegration, ReplayIcvAndSeqOverflowAreTypedEvents) {
  NEED_MODEL();
  // A loopback pair: the outbound SA encrypts with the SPI and key that the
  // inbound SA (same table) accepts.
  auto in = this->sa_->Add(Inbound());
  ASSERT_TRUE(in.ok());
  auto od = Outbound(in->spi, 2);  // Inbound() uses key seed 2
  auto out = this->sa_->Add(od);
  ASSERT_TRUE(out.ok());
  auto pkt = testenv::Ipv4Udp(80);
  ASSERT_EQ(model->WithEngine([&](model::Engine& e) {
    return e.Transmit(testenv::TxFor(out->index), pkt.frame);
  }),
            abi::ExqReason::kNone);
  std::vector<std::uint8_t> esp(pkt.frame.bytes().begin(), pkt.frame.bytes().end());
  auto rx = [&](std::vector<std::uint8_t> bytes) {
    model::Frame f{bytes, 0, bytes.size()};
    return model->WithEngine([&](model::Engine& e) { return e.Receive(f); });
  };
  auto first = rx(esp);
  EXPECT_EQ(abi::rx_ctl::Status::Get(first.ctl.get()),
            static_cast<std::uint32_t>(abi::RxStatus::kDecrypted));
  (void)rx(esp);  // the same packet again: replay
  auto bad = esp;
  bad[bad.size() - 1] ^= 1;  // last ICV byte
  // Outer IPv4 (20) + SPI (4): byte 27 is the sequence number's low byte. A
  // fresh number, so that the ICV check, not the window, fails.
  bad[27] = 2;
  (void)rx(bad);
  // Sequence overflow: an outbound SA that already sent 2^32 - 1 packets.
  auto ov = Outbound(0x7300);
  ov.initial_seq = 0xFFFFFFFFull;
  auto oh = this->sa_->Add(ov);
  ASSERT_TRUE(oh.ok());
  std::vector<sdk::SaEvent> sa_events;
  this->sa_->SetEventHandler([&](const sdk::SaEvent& e) { sa_events.push_back(e); });
  auto p2 = testenv::Ipv4Udp(10);
  EXPECT_EQ(model->WithEngine(
                [&](model::Engine& e) { return e.Transmit(testenv::TxFor(oh->index), p2.frame); }),
            abi::ExqReason::kSeqOverflow);
  std::vector<sdk::Event> ev;
  ASSERT_TRUE(this->events_->Poll(ev).ok());
  std::vector<sdk::EventKind> kinds;
  for (const auto& e : ev) {
    kinds.push_back(e.kind);
    this->sa_->OnDeviceEvent(e);
  }
  ASSERT_EQ(kinds.size(), 3u);
  EXPECT_EQ(kinds[0], sdk::EventKind::kReplay);
  EXPECT_EQ(ev[0].packet.sa_index, in->index);
  EXPECT_EQ(ev[0].packet.spi, in->spi);
  EXPECT_EQ(kinds[1], sdk::EventKind::kIcvFail);
  EXPECT_EQ(kinds[2], sdk::EventKind::kSeqOverflow);
  EXPECT_TRUE(ev[2].packet.outbound);
  ASSERT_EQ(sa_events.size(), 1u);
  EXPECT_EQ(sa_events[0].kind, sdk::SaEventKind::kSeqOverflow);
  EXPECT_EQ(sa_events[0].sa, *oh);
  auto c = this->sa_->ReadCounters(*in);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->packets, 1u);
  EXPECT_EQ(c->replay_drops, 1u);
  EXPECT_EQ(c->auth_fails, 1u);
}

TYPED_TEST(DriverIntegration, ResetMidBatchLosesNothingFromShadow) {
  NEED_MODEL();
  auto before = this->AddMany(10, 0x6000);
  model->WithEngine([](model::Engine& e) { e.faults().reset_after_records = 5; });
  std::vector<sdk::SaDescription> batch;
  for (std::uint32_t i = 0; i < 20; ++i) batch.push_back(Outbound(0x6100 + i));
  auto r = this->sa_->AddBatch(batch);
  EXPECT_EQ(r.status.code(), Code::kUnavailable) << r.status.ToString();
  EXPECT_EQ(this->sa_->size(), 10u);
  EXPECT_TRUE(this->sa_->resync_needed());
  // Until the resync, an outbound SA's traffic fails closed.
  SaHandle out = before[0];
  auto pkt = testenv::Ipv4Udp(64);
  auto reason = model->WithEngine(
      [&](model::Engine& e) { return e.Transmit(testenv::TxFor(out.index), pkt.frame); });
  EXPECT_EQ(reason, abi::ExqReason::kTxNoSa);
  auto ran = this->sa_->CheckDevice();
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  this->ExpectTableEqualsShadow();
  auto pkt2 = testenv::Ipv4Udp(64);
  reason = model->WithEngine(
      [&](model::Engine& e) { return e.Transmit(testenv::TxFor(out.index), pkt2.frame); });
  EXPECT_EQ(reason, abi::ExqReason::kNone);
}

TYPED_TEST(DriverIntegration, ResyncAfterEpochChangeMovesSequenceForward) {
  NEED_MODEL();
  auto out = this->sa_->Add(Outbound(0x7000));
  auto in = this->sa_->Add(Inbound());
  ASSERT_TRUE(out.ok() && in.ok());
  for (int i = 0; i < 3; ++i) {
    auto pkt = testenv::Ipv4Udp(100);
    auto reason = model->WithEngine(
        [&](model::Engine& e) { return e.Transmit(testenv::TxFor(out->index), pkt.frame); });
    ASSERT_EQ(reason, abi::ExqReason::kNone);
  }
  ASSERT_TRUE(this->sa_->RefreshSequenceNumbers().ok());
  // A firmware restart behind the driver's back.
  this->dev_->Poke(abi::Off(abi::Reg::kCtrl), abi::ctrl::Reset::Set(0, 1));
  // Traffic for the SA fails closed while the table is empty.
  auto pkt = testenv::Ipv4Udp(10);
  EXPECT_EQ(model->WithEngine([&](model::Engine& e) {
    return e.Transmit(testenv::TxFor(out->index), pkt.frame);
  }),
            abi::ExqReason::kTxNoSa);
  auto ran = this->sa_->CheckDevice();
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  EXPECT_TRUE(*ran);
  auto st = this->dev_->ReadSa(out->index);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->seq.get(), 3u + sdk::SaManagerOptions{}.resync_seq_margin);
  this->ExpectTableEqualsShadow();
}

TYPED_TEST(DriverIntegration, FailsClosedDuringResyncWithTxNoSaEvent) {
  NEED_MODEL();
  auto out = this->sa_->Add(Outbound(0x7100));
  ASSERT_TRUE(out.ok());
  // The first step of a resync: the engine is up, the table is empty.
  ASSERT_TRUE(this->dev_->Reset().ok());
  auto pkt = testenv::Ipv4Udp(10);
  EXPECT_EQ(model->WithEngine([&](model::Engine& e) {
    return e.Transmit(testenv::TxFor(out->index), pkt.frame);
  }),
            abi::ExqReason::kTxNoSa);
  std::vector<sdk::Event> ev;
  ASSERT_TRUE(this->events_->Poll(ev).ok());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, sdk::EventKind::kTxNoSa);
  EXPECT_TRUE(ev[0].packet.outbound);
  ASSERT_TRUE(this->sa_->Resync().ok());
  auto pkt2 = testenv::Ipv4Udp(10);
  EXPECT_EQ(model->WithEngine([&](model::Engine& e) {
    return e.Transmit(testenv::TxFor(out->index), pkt2.frame);
  }),
            abi::ExqReason::kNone);
}

TYPED_TEST(DriverIntegration, PacketAndByteLimitsBecomeSaEvents) {
  NEED_MODEL();
  auto d = Outbound(0x7200);
  d.life.packets_soft = 2;
  d.life.packets_hard = 4;
  auto pk = this->sa_->Add(d);
  auto d2 = Outbound(0x7201);
  d2.life.bytes_soft = 150;
  auto by = this->sa_->Add(d2);
  ASSERT_TRUE(pk.ok() && by.ok());
  std::vector<sdk::SaEvent> got;
  this->sa_->SetEventHandler([&](const sdk::SaEvent& e) { got.push_back(e); });
  for (int i = 0; i < 5; ++i) {
    auto p1 = testenv::Ipv4Udp(100);
    auto p2 = testenv::Ipv4Udp(100);
    model->WithEngine([&](model::Engine& e) {
      (void)e.Transmit(testenv::TxFor(pk->index), p1.frame);
      (void)e.Transmit(testenv::TxFor(by->index), p2.frame);
    });
  }
  ASSERT_TRUE(this->events_->PollAndDispatch().ok());
  auto count = [&](SaHandle h, sdk::SaEventKind k) {
    int n = 0;
    for (const auto& e : got) n += (e.sa == h && e.kind == k);
    return n;
  };
  EXPECT_EQ(count(*pk, sdk::SaEventKind::kSoftPackets), 1);
  EXPECT_EQ(count(*pk, sdk::SaEventKind::kHardPackets), 1);
  EXPECT_EQ(count(*by, sdk::SaEventKind::kSoftBytes), 1);
  EXPECT_EQ(got.size(), 3u);
  // A flood on the hard-expired SA: one refusal exception per packet, and
  // none of them costs a command (no kReadSa) or a second event.
  for (int i = 0; i < 50; ++i) {
    auto p1 = testenv::Ipv4Udp(10);
    model->WithEngine(
        [&](model::Engine& e) { (void)e.Transmit(testenv::TxFor(pk->index), p1.frame); });
  }
  const auto commands = this->dev_->stats().commands;
  ASSERT_TRUE(this->events_->PollAndDispatch(1000).ok());
  EXPECT_EQ(this->dev_->stats().commands, commands);
  EXPECT_EQ(got.size(), 3u);
}

}  // namespace
}  // namespace inlinesec

namespace inlinesec {
namespace {

TYPED_TEST(DriverIntegration, SpiMissForAShadowSaIsRepairedByReprogram) {
  NEED_MODEL();
  auto in = this->sa_->Add(Inbound());
  ASSERT_TRUE(in.ok());
  // The engine loses the entry (a bit flip, a buggy firmware...).
  ASSERT_TRUE(this->dev_->InvalidateSa(in->index, in->spi).ok());
  auto pkt = testenv::Esp(in->spi);
  model->WithEngine([&](model::Engine& e) { (void)e.Receive(pkt.frame); });
  std::vector<sdk::Event> ev;
  ASSERT_TRUE(this->events_->Poll(ev).ok());
  ASSERT_EQ(ev.size(), 1u);
  ASSERT_EQ(ev[0].kind, sdk::EventKind::kSpiMiss);
  auto known = this->sa_->LookupInbound(ev[0].packet.spi);
  ASSERT_TRUE(known.has_value());
  EXPECT_EQ(*known, *in);
  EXPECT_FALSE(this->sa_->LookupInbound(ev[0].packet.spi + 1).has_value());
  ASSERT_TRUE(this->sa_->Reprogram(*known).ok());
  this->ExpectTableEqualsShadow();
}

}  // namespace
}  // namespace inlinesec
