// Benchmarks of the engine model's control plane, each figure beside its
// ceiling where one exists:
//   BM_WriteSa/single         one kWriteSa per doorbell (stage entry in device
//                             memory, doorbell, ProcessCommands, completion)
//   BM_WriteSaBatch/N         one kWriteSaBatch of N records per doorbell
//   BM_SpiLookup/model        EngineCore::LookupInbound at 2^20 valid inbound
//                             SAs, random SPIs from the populated set, bursts of 32
//   BM_SpiLookup/rte_ipsec_sad  the same SPIs through DPDK's SAD (2^20
//                             SPI-only rules, rte_ipsec_sad_lookup in bursts of 32)
// A final line prints the model/rte_ipsec_sad lookup-rate ratio.
// Run: model_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine_impl.h"
#include "host_sim.h"
#include "inlinesec/common/fake_clock.h"

#ifdef INLINESEC_BENCH_DPDK
#include <endian.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ipsec_sad.h>
#include <rte_memory.h>
#endif

namespace inlinesec::model {
namespace {

using testing::CoreHostSim;
using testing::InboundSa;
using testing::Record;
using testing::StatusOf;

constexpr std::uint32_t kLookupLog2 = 20;
constexpr std::size_t kBurst = 32;
constexpr std::size_t kKeyCount = 1u << 16;  // random SPIs cycled through

void BM_WriteSaSingle(benchmark::State& state) {
  FakeClockTimers clock;
  EngineCore core(EngineConfig{}, clock);
  CoreHostSim host(core);
  if (!host.Start()) return state.SkipWithError("engine refused to start");
  std::vector<abi::SaEntry> entries;
  for (std::uint32_t i = 0; i < 4096; ++i) entries.push_back(InboundSa(0x01000000u | (i + 256)));
  std::uint32_t i = 0;
  for (auto _ : state) {
    const abi::SaEntry& e = entries[i];
    const abi::CplEntry cpl = host.WriteSa(e.spi.get() & 0xFFFF, e, true);
    if (StatusOf(cpl) != abi::CmdStatus::kOk) return state.SkipWithError("kWriteSa failed");
    i = (i + 1) % entries.size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_WriteSaBatch(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  FakeClockTimers clock;
  EngineCore core(EngineConfig{}, clock);
  CoreHostSim host(core);
  if (!host.Start()) return state.SkipWithError("engine refused to start");
  std::vector<std::vector<abi::SaWriteRecord>> batches(8);
  for (std::uint32_t b = 0; b < batches.size(); ++b)
    for (std::uint32_t k = 0; k < n; ++k) {
      const std::uint32_t index = 256 + b * n + k;
      batches[b].push_back(Record(index, InboundSa(0x01000000u | index), true));
    }
  std::size_t b = 0;
  for (auto _ : state) {
    const abi::CplEntry cpl = host.WriteBatch(batches[b]);
    if (StatusOf(cpl) != abi::CmdStatus::kOk) return state.SkipWithError("batch failed");
    b = (b + 1) % batches.size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n);
}

// 2^20 valid inbound SAs programmed through the command ring, and SPIs to
// look up, drawn from the populated set. Built on first use.
struct LookupTable {
  FakeClockTimers clock;
  std::unique_ptr<EngineCore> core;
  std::vector<std::uint32_t> spis;  // every populated SPI, by index
  std::vector<std::uint32_t> keys;  // kKeyCount random picks from spis
  bool ok = false;

  void Build() {
    EngineConfig config;
    config.sa_capacity = 1u << kLookupLog2;
    config.max_batch = 1024;
    config.dev_mem_bytes = 256ull << 20;
    core = std::make_unique<EngineCore>(config, clock);
    CoreHostSim host(*core);
    if (!host.Start()) return;
    std::mt19937 rng(2026);
    const std::uint32_t cap = config.sa_capacity;
    spis.resize(cap);
    std::vector<abi::SaWriteRecord> recs;
    for (std::uint32_t index = 0; index < cap; ++index) {
      // SPI = random generation (1..4095) above the index bits.
      const std::uint32_t spi = ((1 + rng() % 4095) << kLookupLog2) | index;
      spis[index] = spi;
      recs.push_back(Record(index, InboundSa(spi)));
      if (recs.size() == 1024) {
        if (StatusOf(host.WriteBatch(recs)) != abi::CmdStatus::kOk) return;
        recs.clear();
      }
    }
    if (core->valid_count() != cap) return;
    keys.resize(kKeyCount);
    for (auto& k : keys) k = spis[rng() % cap];
    ok = true;
  }
};

void BM_SpiLookupModel(benchmark::State& state, LookupTable* t) {
  if (!t->ok && !t->core) t->Build();
  if (!t->ok) return state.SkipWithError("could not populate 2^20 SAs");
  const EngineCore& core = *t->core;
  std::size_t pos = 0;
  std::uint64_t hits = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBurst; ++i) {
      const std::uint32_t slot = core.LookupInbound(t->keys[pos + i]);
      hits += slot != kNoSlot;
      benchmark::DoNotOptimize(slot);
    }
    pos = (pos + kBurst) & (kKeyCount - 1);
  }
  if (hits != state.iterations() * kBurst) state.SkipWithError("lookup missed a populated SPI");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBurst));
}

#ifdef INLINESEC_BENCH_DPDK
struct SadTable {
  rte_ipsec_sad* sad = nullptr;
  std::vector<rte_ipsec_sad_key> keys;  // the same SPIs as LookupTable::keys, wire order
  bool tried = false;
  std::string error;

  bool eal_up = false;

  // Leaves nothing behind: EAL keeps a runtime directory
  // (/var/run/dpdk/<prefix>) even after rte_eal_cleanup.
  ~SadTable() {
    if (sad != nullptr) rte_ipsec_sad_destroy(sad);
    if (!eal_up) return;
    const std::string dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  void Build(const LookupTable& t) {
    tried = true;
    // This machine has no hugepages: EAL runs on plain memory, one lcore,
    // with its own file prefix so it never meets another DPDK process's
    // runtime files (--in-memory does not combine with --no-huge).
    const char* args[] = {"model_bench", "--no-huge", "-m",
                          "1024",        "--no-pci",  "--log-level=lib.eal:error",
                          "-l",          "0",         "--file-prefix=inlinesec_model_bench"};
    std::vector<char*> argv;
    for (const char* a : args) argv.push_back(const_cast<char*>(a));
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
      error = std::string("rte_eal_init: ") + rte_strerror(rte_errno);
      return;
    }
    eal_up = true;
    rte_ipsec_sad_conf conf{};
    conf.socket_id = SOCKET_ID_ANY;
    conf.max_sa[RTE_IPSEC_SAD_SPI_ONLY] = 1u << kLookupLog2;
    conf.max_sa[RTE_IPSEC_SAD_SPI_DIP] = 8;
    conf.max_sa[RTE_IPSEC_SAD_SPI_DIP_SIP] = 8;
    sad = rte_ipsec_sad_create("inlinesec_bench", &conf);
    if (sad == nullptr) {
      error = std::string("rte_ipsec_sad_create: ") + rte_strerror(rte_errno);
      return;
    }
    for (std::size_t i = 0; i < t.spis.size(); ++i) {
      rte_ipsec_sad_key k{};
      k.v4.spi = htobe32(t.spis[i]);
      // The SA pointer is the slot's entry in t.spis: non-null and 4-byte
      // aligned (the SAD keeps flags in the two low bits of the pointer).
      if (rte_ipsec_sad_add(sad, &k, RTE_IPSEC_SAD_SPI_ONLY,
                            const_cast<std::uint32_t*>(&t.spis[i])) != 0) {
        error = "rte_ipsec_sad_add failed at rule " + std::to_string(i);
        rte_ipsec_sad_destroy(sad);
        sad = nullptr;
        return;
      }
    }
    keys.resize(t.keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      keys[i] = rte_ipsec_sad_key{};
      keys[i].v4.spi = htobe32(t.keys[i]);
    }
  }
};

void BM_SpiLookupSad(benchmark::State& state, LookupTable* t, SadTable* s) {
  if (!t->ok && !t->core) t->Build();
  if (!t->ok) return state.SkipWithError("could not populate 2^20 SAs");
  if (!s->tried) s->Build(*t);
  if (s->sad == nullptr) return state.SkipWithError(s->error.c_str());
  std::vector<const rte_ipsec_sad_key*> ptrs(s->keys.size());
  for (std::size_t i = 0; i < ptrs.size(); ++i) ptrs[i] = &s->keys[i];
  void* out[kBurst];
  std::size_t pos = 0;
  std::uint64_t hits = 0;
  for (auto _ : state) {
    hits += static_cast<std::uint64_t>(
        rte_ipsec_sad_lookup(s->sad, ptrs.data() + pos, out, static_cast<std::uint32_t>(kBurst)));
    benchmark::DoNotOptimize(out);
    pos = (pos + kBurst) & (kKeyCount - 1);
  }
  if (hits != state.iterations() * kBurst) state.SkipWithError("rte_ipsec_sad missed a SPI");
  // The last burst found the right rules (each rule's SA is its own SPI).
  const std::size_t last = (pos - kBurst) & (kKeyCount - 1);
  for (std::size_t i = 0; i < kBurst; ++i)
    if (*static_cast<const std::uint32_t*>(out[i]) != t->keys[last + i])
      return state.SkipWithError("rte_ipsec_sad returned the wrong SA");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBurst));
}
#endif

// Console output plus the lookup rates, for the closing ratio line.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates_[r.benchmark_name()] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void PrintRatio() const {
    auto m = rates_.find("BM_SpiLookup/model");
    auto d = rates_.find("BM_SpiLookup/rte_ipsec_sad");
    if (m == rates_.end() || d == rates_.end() || d->second <= 0) {
      std::printf("SPI lookup ratio: not measured (both lookups must run)\n");
      return;
    }
    std::printf(
        "SPI lookup at 2^20 SAs: model %.1f M/s, rte_ipsec_sad %.1f M/s, "
        "model/rte_ipsec_sad = %.2f\n",
        m->second / 1e6, d->second / 1e6, m->second / d->second);
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace
}  // namespace inlinesec::model

int main(int argc, char** argv) {
  using namespace inlinesec::model;  // NOLINT(build/namespaces): main only
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  LookupTable table;
  benchmark::RegisterBenchmark("BM_WriteSa/single", BM_WriteSaSingle);
  benchmark::RegisterBenchmark("BM_WriteSaBatch", BM_WriteSaBatch)->Arg(64)->Arg(256);
  benchmark::RegisterBenchmark("BM_SpiLookup/model", BM_SpiLookupModel, &table);
#ifdef INLINESEC_BENCH_DPDK
  SadTable sad;
  benchmark::RegisterBenchmark("BM_SpiLookup/rte_ipsec_sad", BM_SpiLookupSad, &table, &sad);
#endif
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatio();
  benchmark::Shutdown();
  return 0;
}
