// SA programming throughput through SDK -> driver -> model (stepped mode),
// single adds and batches of 64 and 256, beside its ceiling measured in the
// same run: a plain loop that only creates each SA's AEAD context
// (AES-256-GCM, key set) and inserts it into an std::unordered_map -- the
// least any SA install must do. The ceiling creates the context the best
// way OpenSSL offers, through the provider's cipher functions as the model
// does (hw_models/esp/src/cipher.h); the same loop through EVP
// (EVP_CIPHER_CTX_new + EVP_CipherInit_ex2, the earlier ceiling) runs too,
// for reference. The ratio of each figure to the ceiling is printed after
// the table. All loops measure the
// steady state (warm heap, table emptied untimed when full); run with
// --benchmark_min_time=0.3, and --benchmark_repetitions=N for the median of
// N runs (the ratio lines then say how many met the target).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cipher.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/driver/device.h"
#include "inlinesec/sdk/sa_manager.h"

namespace inlinesec {
namespace {

// Pre-built descriptions (keys included) so the loop measures programming.
std::vector<sdk::SaDescription> MakeDescriptions(std::size_t n) {
  std::vector<sdk::SaDescription> out(n);
  std::vector<std::uint8_t> key(32);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < key.size(); ++k) key[k] = static_cast<std::uint8_t>(i * 13 + k);
    sdk::SaDescription& d = out[i];
    d.direction = sdk::SaDirection::kOutbound;
    d.spi = 0x10000 + static_cast<std::uint32_t>(i);
    d.salt = {1, 2, 3, 4};
    d.algo = sdk::AeadAlgo::kAesGcm256;
    d.key = SecureBytes(key);
    d.mode = sdk::SaMode::kTunnel;
    d.tunnel_src = sdk::IpAddress::V4(192, 0, 2, 1);
    d.tunnel_dst = sdk::IpAddress::V4(198, 51, 100, 2);
  }
  return out;
}

// One SDK stack over a stepped model. When the table fills up it is emptied
// (untimed) with DeleteBatch, and quarantine is off, so the loop measures
// the steady state of a running appliance: the heap already holds memory
// from earlier SAs (a warm-up round runs first), as it would after churn.
struct Stack {
  static constexpr std::uint32_t kCapacity = 1u << 16;
  SystemClock clock;
  struct NoTimers final : Timers {
    TimerId Arm(TimePoint, std::function<void()>) override { return ++n; }
    void Cancel(TimerId) override {}
    TimerId n = 0;
  } timers;
  std::unique_ptr<driver::Device> dev;
  std::unique_ptr<sdk::SaManager> sa;

  bool Open(benchmark::State& state) {
    auto d = driver::Device::Open("model:capacity=" + std::to_string(kCapacity) + ",max_batch=1024",
                                  clock);
    if (!d.ok()) {
      state.SkipWithError(d.status().ToString().c_str());
      return false;
    }
    dev = std::move(d).value();
    sdk::SaManagerOptions o;
    o.spi_quarantine = Duration{0};
    sa = std::make_unique<sdk::SaManager>(*dev, clock, timers, o);
    return true;
  }
  // Empties the table if `next` more SAs would not fit.
  bool MakeRoom(benchmark::State& state, std::size_t next) {
    if (sa->size() + next <= kCapacity - 1024) return true;
    auto r = sa->DeleteBatch(sa->Handles());
    if (!r.status.ok()) {
      state.SkipWithError(r.status.ToString().c_str());
      return false;
    }
    return true;
  }
  // Fills and empties the table once so the heap is warm.
  bool WarmUp(benchmark::State& state, const std::vector<sdk::SaDescription>& descs) {
    while (sa->size() + descs.size() <= kCapacity - 1024) {
      auto r = sa->AddBatch(descs);
      if (!r.status.ok()) {
        state.SkipWithError(r.status.ToString().c_str());
        return false;
      }
    }
    return MakeRoom(state, kCapacity);
  }
};

void BM_SdkAddSingle(benchmark::State& state) {
  Stack s;
  if (!s.Open(state)) return;
  auto descs = MakeDescriptions(1024);
  if (!s.WarmUp(state, descs)) return;
  std::size_t i = 0;
  for (auto _ : state) {
    if (s.sa->size() + 1 > Stack::kCapacity - 1024) {
      state.PauseTiming();
      if (!s.MakeRoom(state, 1)) return;
      state.ResumeTiming();
    }
    auto h = s.sa->Add(descs[i++ & 1023]);
    if (!h.ok()) {
      state.SkipWithError(h.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_SdkAddSingle);

void BM_SdkAddBatch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Stack s;
  if (!s.Open(state)) return;
  auto descs = MakeDescriptions(n);
  if (!s.WarmUp(state, descs)) return;
  for (auto _ : state) {
    if (s.sa->size() + n > Stack::kCapacity - 1024) {
      state.PauseTiming();
      if (!s.MakeRoom(state, n)) return;
      state.ResumeTiming();
    }
    auto r = s.sa->AddBatch(descs);
    if (!r.status.ok()) {
      state.SkipWithError(r.status.ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_SdkAddBatch)->Arg(64)->Arg(256);

// For attribution: the same batches written straight through the driver
// (pre-encoded records), without the SA manager's validation and shadow.
void BM_DriverWriteBatch(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  Stack s;
  if (!s.Open(state)) return;
  auto descs = MakeDescriptions(n);
  std::vector<abi::SaWriteRecord> records(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    abi::SaWriteRecord& r = records[i];
    r = abi::SaWriteRecord{};
    r.entry.spi.set(descs[i].spi);
    r.entry.ctl.set(abi::sa_ctl::Valid::Set(abi::sa_ctl::Dir::Set(0, 1), 1));
    std::uint32_t crypto = abi::sa_crypto::Algo::Set(0, 2);
    crypto = abi::sa_crypto::IcvLen::Set(crypto, 16);
    r.entry.crypto.set(abi::sa_crypto::KeyLen::Set(crypto, 32));
    std::copy(descs[i].key.span().begin(), descs[i].key.span().end(), r.entry.key.begin());
  }
  std::uint32_t base = 0;
  const std::uint32_t cap = s.dev->caps().sa_capacity;
  for (std::uint32_t warm = 0; warm + n <= cap; warm += n) {  // warm heap, as above
    for (std::uint32_t i = 0; i < n; ++i) records[i].index.set(warm + i);
    auto out = s.dev->WriteSaBatch(records);
    if (!out.ok() || !out->status.ok()) {
      state.SkipWithError("warm-up batch failed");
      return;
    }
  }
  if (!s.dev->FlushTable().ok()) state.SkipWithError("flush failed");
  for (auto _ : state) {
    if (base + n > cap) {
      state.PauseTiming();
      if (!s.dev->FlushTable().ok()) state.SkipWithError("flush failed");
      base = 0;
      state.ResumeTiming();
    }
    for (std::uint32_t i = 0; i < n; ++i) records[i].index.set(base + i);
    base += n;
    auto out = s.dev->WriteSaBatch(records);
    if (!out.ok() || !out->status.ok()) {
      state.SkipWithError("batch failed");
      return;
    }
  }
  for (auto& r : records) SecureWipe({r.entry.key.data(), r.entry.key.size()});
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_DriverWriteBatch)->Arg(64)->Arg(256);

// The ceiling loop: per SA, make(key) creates an AES-256-GCM context keyed
// with `key` (an owning pointer, empty on failure), and the loop inserts it
// into a map by SPI. One table's worth is created and freed first, to warm
// the heap as for the SDK.
template <class Make>
void RunContextMap(benchmark::State& state, Make make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::unordered_map<std::uint32_t, decltype(make(nullptr))> map;
  std::uint8_t key[32] = {};
  for (std::uint32_t i = 0; i < Stack::kCapacity; ++i) map.emplace(i, make(key));
  map.clear();
  std::uint32_t next = 0;
  for (auto _ : state) {
    if (map.size() + n > Stack::kCapacity) {
      state.PauseTiming();
      map.clear();
      state.ResumeTiming();
    }
    for (std::size_t i = 0; i < n; ++i) {
      key[0] = static_cast<std::uint8_t>(next);
      auto ctx = make(key);
      if (!ctx) {
        state.SkipWithError("context or key setup failed");
        break;
      }
      map.emplace(next++, std::move(ctx));
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

// The ceiling: provider contexts. The cipher is fetched and its provider
// functions found once, as a tuned implementation would (not per SA).
void BM_CeilingAeadContextMap(benchmark::State& state) {
  auto fetched = model::esp::FetchCipher("AES-256-GCM", 32);
  if (!fetched.ok()) {
    state.SkipWithError(fetched.status().ToString().c_str());
    return;
  }
  const std::shared_ptr<const model::esp::Cipher> c = std::move(fetched).value();
  struct CtxFree {
    const model::esp::Cipher* c;
    void operator()(void* ctx) const { c->freectx(ctx); }
  };
  RunContextMap(state, [&](const std::uint8_t* key) {
    std::unique_ptr<void, CtxFree> ctx(c->newctx(c->provctx), CtxFree{c.get()});
    if (ctx && c->einit(ctx.get(), key, 32, nullptr, 0, nullptr) != 1) ctx.reset();
    return ctx;
  });
}
BENCHMARK(BM_CeilingAeadContextMap)->Arg(1)->Arg(64)->Arg(256);

// For reference: the same ceiling through EVP (what an EVP application
// pays; OpenSSL 3.0 adds a provider parameter lookup per keyed init).
void BM_CeilingEvpContextMap(benchmark::State& state) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (cipher == nullptr) {
    state.SkipWithError("EVP_CIPHER_fetch failed");
    return;
  }
  struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  };
  RunContextMap(state, [&](const std::uint8_t* key) {
    std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
    if (ctx && EVP_CipherInit_ex2(ctx.get(), cipher, key, nullptr, 1, nullptr) != 1) ctx.reset();
    return ctx;
  });
  EVP_CIPHER_free(cipher);
}
BENCHMARK(BM_CeilingEvpContextMap)->Arg(1)->Arg(64)->Arg(256);

// Console output plus a record of items/s per run, for the ratio lines.
// With --benchmark_repetitions=N every repetition is kept, and the lines
// give the median, the range and how many repetitions met the target; on a
// shared machine one run says little (docs/benchmarks.md).
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates_[r.benchmark_name()].push_back(it->second);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void PrintRatios() const {
    struct Pair {
      const char* sdk;
      const char* ceiling;
      const char* evp;
      double target;
    };
    const Pair pairs[] = {
        {"BM_SdkAddSingle", "BM_CeilingAeadContextMap/1", "BM_CeilingEvpContextMap/1", 200e3},
        {"BM_SdkAddBatch/64", "BM_CeilingAeadContextMap/64", "BM_CeilingEvpContextMap/64", 2e6},
        {"BM_SdkAddBatch/256", "BM_CeilingAeadContextMap/256", "BM_CeilingEvpContextMap/256", 2e6},
    };
    std::printf("\nSA programming vs ceiling (AEAD context + map insert, same run):\n");
    for (const Pair& p : pairs) {
      auto a = rates_.find(p.sdk);
      auto b = rates_.find(p.ceiling);
      if (a == rates_.end() || b == rates_.end()) continue;
      const double sdk = Median(a->second);
      const double ceil = Median(b->second);
      if (ceil == 0) continue;
      auto e = rates_.find(p.evp);
      const double evp = e == rates_.end() ? 0 : Median(e->second);
      std::printf("  %-22s %10.0f SA/s   ceiling %10.0f SA/s   ratio %.2f   (EVP ceiling %.0f)\n",
                  p.sdk, sdk, ceil, sdk / ceil, evp);
      if (a->second.size() > 1) {
        const auto [lo, hi] = std::minmax_element(a->second.begin(), a->second.end());
        const auto [clo, chi] = std::minmax_element(b->second.begin(), b->second.end());
        const auto met = std::count_if(a->second.begin(), a->second.end(),
                                       [&](double v) { return v >= p.target; });
        std::printf(
            "    medians of %zu repetitions; SDK %.0f..%.0f, ceiling %.0f..%.0f; "
            ">= %.0f SA/s in %td of %zu\n",
            a->second.size(), *lo, *hi, *clo, *chi, p.target, met, a->second.size());
      }
    }
  }

 private:
  static double Median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 != 0 ? v[m] : (v[m - 1] + v[m]) / 2;
  }
  std::map<std::string, std::vector<double>> rates_;
};

}  // namespace
}  // namespace inlinesec

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  inlinesec::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
