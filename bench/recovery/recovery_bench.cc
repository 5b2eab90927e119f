// Exception events classified and acted on per second on one core under an
// SPI-miss flood (random SPIs from many spoofed sources, plus a few stale
// SPIs of real peers), beside the ceiling: draining and decoding the same
// ring entries without any decision. Both read the same raw 128-byte entries
// through the SDK's bounded decoder (sdk::DecodeExqEntry); the recovery run
// adds aggregation by (peer, SPI), the decision tree and the rate limits.
// Report: items/s of each and `ratio` = recovery / drain.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <unordered_set>
#include <vector>

#include "inlinesec/abi/abi.h"
#include "inlinesec/common/fake_clock.h"
#include "inlinesec/recovery/recovery_engine.h"
#include "inlinesec/sdk/events.h"

namespace inlinesec {
namespace {

constexpr std::uint32_t kCapacity = 1u << 20;
constexpr std::size_t kBatch = 256;  // entries drained per poll

// Real peers 192.168.77.2..9; everything else is a spoofed 10.x source.
class FloodHost : public recovery::RecoveryHost {
 public:
  bool ShadowHasInbound(std::uint32_t spi) override { return shadow.count(spi) != 0; }
  Status Resync(std::uint32_t) override { return Status::Ok(); }
  bool HasIkeSa(const recovery::Peer& p) override { return p.addr[0] == 192 && p.addr[3] < 6; }
  bool WasOurChildSpi(const recovery::Peer&, std::uint32_t) override { return true; }
  Status SendInvalidSpi(const recovery::Peer&, std::uint32_t, bool) override {
    ++actions;
    return Status::Ok();
  }
  bool IsStaticPeer(const recovery::Peer& p) override { return p.addr[0] == 192; }
  Status InitiateWithInitialContact(const recovery::Peer&) override {
    ++actions;
    return Status::Ok();
  }
  Status SendUnprotectedInvalidSpi(const recovery::Peer&, std::uint16_t, std::uint32_t) override {
    return Status::Ok();
  }
  Status RemoveOutboundAndRekey(const recovery::Peer&, std::uint32_t) override {
    return Status::Ok();
  }
  Status StartLivenessCheck(const recovery::Peer&) override { return Status::Ok(); }
  std::unordered_set<std::uint32_t> shadow;
  std::uint64_t actions = 0;
};

std::vector<abi::ExqEntry> MakeFlood(std::size_t n) {
  std::mt19937 rng(42);
  std::vector<abi::ExqEntry> ring(n);
  for (std::size_t i = 0; i < n; ++i) {
    abi::ExqEntry& e = ring[i];
    std::memset(&e, 0, sizeof e);
    const bool real = (i % 100) == 0;  // 1% from real peers
    std::uint32_t ctl = 0;
    ctl = abi::exq_ctl::Reason::Set(ctl, static_cast<std::uint32_t>(abi::ExqReason::kSpiMiss));
    ctl = abi::exq_ctl::UdpEncap::Set(ctl, 1);
    ctl = abi::exq_ctl::SnapLen::Set(ctl, 36);
    ctl = abi::exq_ctl::Phase::Set(ctl, 1);
    e.ctl.set(ctl);
    e.spi.set(real ? 0x01000100u + (rng() % 4) : rng());
    e.sa_index.set(abi::kExqNoSa);
    e.orig_len.set(120);
    e.seq.set(rng());
    const std::uint32_t r = rng();
    if (real) {
      e.src[0] = 192, e.src[1] = 168, e.src[2] = 77,
      e.src[3] = static_cast<std::uint8_t>(2 + (r % 8));
    } else {
      e.src[0] = 10, e.src[1] = static_cast<std::uint8_t>(r >> 16);
      e.src[2] = static_cast<std::uint8_t>(r >> 8), e.src[3] = static_cast<std::uint8_t>(r);
    }
    e.dst[0] = 192, e.dst[1] = 168, e.dst[2] = 77, e.dst[3] = 1;
    e.sport.set(4500);
    e.dport.set(4500);
  }
  return ring;
}

void ToMiss(const sdk::PacketException& p, recovery::SpiMiss& m) {
  m.peer.addr = p.src.bytes;
  m.peer.v6 = p.src.v6;
  m.sport = p.sport;
  m.spi = p.spi;
}

// Ceiling: drain and decode, no decisions.
void BM_DrainOnly(benchmark::State& state) {
  const auto ring = MakeFlood(1u << 16);
  std::vector<recovery::SpiMiss> out(kBatch);
  std::size_t pos = 0;
  std::uint64_t corrupt = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBatch; ++i, pos = (pos + 1) & (ring.size() - 1)) {
      auto ev = sdk::DecodeExqEntry(
          {reinterpret_cast<const std::uint8_t*>(&ring[pos]), sizeof(abi::ExqEntry)}, kCapacity);
      if (!ev.ok()) {
        ++corrupt;
        continue;
      }
      ToMiss(*ev, out[i]);
    }
    benchmark::DoNotOptimize(out.data());
  }
  if (corrupt != 0) state.SkipWithError("decoder rejected flood entries");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}

// Drain, decode, aggregate, decide, rate-limit.
void BM_DrainAndRecover(benchmark::State& state) {
  const auto ring = MakeFlood(1u << 16);
  FakeClockTimers clock;
  FloodHost host;
  for (std::uint32_t i = 0; i < 4; ++i) host.shadow.insert(0x02000000u + i);
  recovery::RecoveryEngine engine(recovery::RecoveryPolicy{}, clock, host);
  std::vector<recovery::SpiMiss> out(kBatch);
  std::size_t pos = 0;
  for (auto _ : state) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < kBatch; ++i, pos = (pos + 1) & (ring.size() - 1)) {
      auto ev = sdk::DecodeExqEntry(
          {reinterpret_cast<const std::uint8_t*>(&ring[pos]), sizeof(abi::ExqEntry)}, kCapacity);
      if (ev.ok()) ToMiss(*ev, out[n++]);
    }
    engine.OnSpiMisses({out.data(), n});
    clock.Advance(std::chrono::microseconds(20));  // a poll every 20 us of engine time
  }
  const auto& c = engine.counters();
  state.counters["actions"] = static_cast<double>(host.actions);
  state.counters["dropped"] = static_cast<double>(c.drop_unknown);
  state.counters["limited"] = static_cast<double>(c.rate_limited_notify + c.rate_limited_initiate);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}

BENCHMARK(BM_DrainOnly);
BENCHMARK(BM_DrainAndRecover);

}  // namespace
}  // namespace inlinesec

// Runs both, then prints the ratio of the two rates from this one run.
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  struct Collect : benchmark::ConsoleReporter {
    double drain = 0, recover = 0;
    void ReportRuns(const std::vector<Run>& runs) override {
      for (const auto& r : runs) {
        const auto it = r.counters.find("items_per_second");
        if (it == r.counters.end()) continue;
        if (r.benchmark_name().find("DrainOnly") != std::string::npos) drain = it->second;
        if (r.benchmark_name().find("DrainAndRecover") != std::string::npos) recover = it->second;
      }
      ConsoleReporter::ReportRuns(runs);
    }
  } reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  if (reporter.drain > 0 && reporter.recover > 0) {
    std::printf(
        "recovery: %.2f M events/s classified and acted on; drain-only ceiling %.2f M/s; "
        "ratio %.2f\n",
        reporter.recover / 1e6, reporter.drain / 1e6, reporter.recover / reporter.drain);
  }
  benchmark::Shutdown();
  return 0;
}
