// ESP through the engine model (Engine::Transmit / Engine::Receive, AES-256-GCM,
// IPv4 tunnel) beside its ceiling (DESIGN.md): a plain OpenSSL EVP ESP loop
// on the same bytes in the same run (one ready context; per packet set the
// IV, feed the 8-byte AAD, encrypt/decrypt, get/check the 16-byte tag).
// Sizes are inner packet bytes: 64, 512, 1450, 9000. After the runs a
// summary line per direction and size prints model/EVP throughput as a
// ratio, and the ratio measured by BM_*Ratio, which alternates model and EVP
// batches inside one benchmark so that both see the same load (the figure to
// quote on shared cores).
//
// The model calls the provider's cipher functions directly
// (hw_models/esp/src/cipher.h), skipping EVP's per-call parameter lookups.
// BM_OsslSeal/BM_OsslOpen make exactly the model's five calls; BM_*Ratio
// times them too (a third batch), and the summary's "paired vs provider
// loop" ratio divides by them: the cost of the model's own work (parsing,
// lookup, replay, headers, counters, metadata).
//
// Per-iteration work, kept equal on both sides:
//  - outbound: the model re-reads the inner IPv4 header, so the 20 header
//    bytes are restored each time (the payload is re-encrypted as is); the
//    OpenSSL loop encrypts the same buffer in place;
//  - inbound: both restore the ESP packet (decryption is in place) with one
//    memcpy, then decrypt and verify; the model's inbound SA has replay
//    window 0 so the same packet may be received every iteration.
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cipher.h"
#include "esp_harness.h"
#include "inlinesec/model/esp/esp.h"

namespace {

namespace t = inlinesec::esp_test;
using inlinesec::abi::ExqReason;
using inlinesec::abi::RxStatus;

constexpr std::uint32_t kSpi = 0x00055501;

t::SaSpec Spec() {
  t::SaSpec s;
  s.spi = kSpi;
  s.algo = inlinesec::abi::Algo::kAesGcm256;
  s.window = 0;
  return s;
}

// A ready AES-256-GCM provider context keyed like the model's SA, and the
// model's five calls per packet of each direction. Return values are checked by the
// callers that need them (a failed open is the only expected failure).
struct Plain {
  std::shared_ptr<const inlinesec::model::esp::Cipher> c;
  void* ctx = nullptr;
  std::uint8_t nonce[12];
  explicit Plain(bool enc) {
    const inlinesec::abi::SaEntry e = t::MakeSa(Spec());
    auto fetched = inlinesec::model::esp::FetchCipher("AES-256-GCM", 32);
    if (!fetched.ok()) {
      std::fprintf(stderr, "%s\n", fetched.status().ToString().c_str());
      std::abort();
    }
    c = std::move(fetched).value();
    ctx = c->newctx(c->provctx);
    (enc ? c->einit : c->dinit)(ctx, e.key.data(), 32, nullptr, 0, nullptr);
    std::memcpy(nonce, e.salt.data(), 4);
  }
  ~Plain() { c->freectx(ctx); }

  void Seal(const std::uint8_t* aad, std::uint8_t* data, std::size_t len, std::uint8_t* tag) {
    std::size_t n = 0;
    std::uint8_t none[16];
    c->einit(ctx, nullptr, 0, nonce, sizeof nonce, nullptr);
    c->update(ctx, nullptr, &n, 8, aad, 8);
    c->update(ctx, data, &n, len, data, len);
    c->final(ctx, none, &n, 0);
    OSSL_PARAM p[2] = {OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, 16),
                       OSSL_PARAM_END};
    c->get_ctx_params(ctx, p);
  }
  // esp: SPI, sequence number, IV, ciphertext of `len` bytes, tag.
  bool Open(std::uint8_t* esp, std::size_t len) {
    std::size_t n = 0;
    std::uint8_t none[16];
    std::memcpy(nonce + 4, esp + 8, 8);
    c->dinit(ctx, nullptr, 0, nonce, sizeof nonce, nullptr);
    OSSL_PARAM p[2] = {OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, esp + 16 + len, 16),
                       OSSL_PARAM_END};
    c->set_ctx_params(ctx, p);
    c->update(ctx, nullptr, &n, 8, esp, 8);
    c->update(ctx, esp + 16, &n, len, esp + 16, len);
    return c->final(ctx, none, &n, 0) == 1;
  }
};

// The ceiling: the same five steps per packet through EVP (which, in
// OpenSSL 3.0, looks up the IV length per nonce and translates the tag
// calls into parameter lookups).
struct Evp {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  std::uint8_t nonce[12];
  explicit Evp(bool enc) {
    const inlinesec::abi::SaEntry e = t::MakeSa(Spec());
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    EVP_CipherInit_ex2(ctx, c, e.key.data(), nullptr, enc ? 1 : 0, nullptr);
    EVP_CIPHER_free(c);
    std::memcpy(nonce, e.salt.data(), 4);
  }
  ~Evp() { EVP_CIPHER_CTX_free(ctx); }

  void Seal(const std::uint8_t* aad, std::uint8_t* data, std::size_t len, std::uint8_t* tag) {
    int n = 0;
    std::uint8_t none[16];
    EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce, 1, nullptr);
    EVP_CipherUpdate(ctx, nullptr, &n, aad, 8);
    EVP_CipherUpdate(ctx, data, &n, data, static_cast<int>(len));
    EVP_CipherFinal_ex(ctx, none, &n);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag);
  }
  bool Open(std::uint8_t* esp, std::size_t len) {
    int n = 0;
    std::uint8_t none[16];
    std::memcpy(nonce + 4, esp + 8, 8);
    EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce, 0, nullptr);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, esp + 16 + len);
    EVP_CipherUpdate(ctx, nullptr, &n, esp, 8);
    EVP_CipherUpdate(ctx, esp + 16, &n, esp + 16, static_cast<int>(len));
    return EVP_CipherFinal_ex(ctx, none, &n) == 1;
  }
};

std::size_t SizeArg(const benchmark::State& st) { return static_cast<std::size_t>(st.range(0)); }
t::Bytes Inner(std::size_t size) { return t::Ipv4Udp(size - 28); }

void BM_ModelOutbound(benchmark::State& st) {
  t::ModelHarness h;
  h.Install(Spec(), 1);
  const t::Bytes inner = Inner(SizeArg(st));
  t::PacketBuf buf(inner);
  const auto meta = t::TxFor(1);
  const std::size_t off = buf.frame.off;
  for (auto _ : st) {
    std::memcpy(buf.storage.data() + off, inner.data(), 20);
    buf.frame.off = off;
    buf.frame.len = inner.size();
    const ExqReason r = h.engine().Transmit(meta, buf.frame);
    if (r != ExqReason::kNone) {
      st.SkipWithError("Transmit failed");
      break;
    }
    benchmark::DoNotOptimize(buf.storage.data());
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * inner.size()));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// The ESP payload the model encrypts for an inner packet of `size` bytes:
// the packet, padding to 4 bytes, pad length and next header.
std::size_t EspPayloadBytes(std::size_t size) { return size + 2 + (4 - (size + 2) % 4) % 4; }

// Seals `data` in place as ESP packet `seq` of kSpi through a ceiling loop
// (Plain or Evp): the AAD is SPI || seq, the IV the sequence number, as the
// model does.
template <class Ceiling>
void SealEsp(Ceiling& loop, std::uint64_t seq, std::vector<std::uint8_t>& data, std::uint8_t* tag) {
  std::uint8_t aad[8];
  inlinesec::StoreBe32(aad, kSpi);
  inlinesec::StoreBe32(aad + 4, static_cast<std::uint32_t>(seq));
  inlinesec::StoreBe64(loop.nonce + 4, seq);
  loop.Seal(aad, data.data(), data.size(), tag);
  benchmark::DoNotOptimize(tag);
}

template <class Ceiling>
void BM_CeilingSeal(benchmark::State& st) {
  Ceiling plain(true);
  const std::size_t size = SizeArg(st);
  std::vector<std::uint8_t> data(EspPayloadBytes(size), 0x5A);
  std::uint8_t tag[16];
  std::uint64_t seq = 0;
  for (auto _ : st) SealEsp(plain, ++seq, data, tag);
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * size));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// One ESP packet of the model for the inbound runs.
t::Bytes ModelEsp(std::size_t size) {
  t::ModelHarness h;
  h.Install(Spec(), 1);
  t::PacketBuf b(Inner(size));
  if (h.engine().Transmit(t::TxFor(1), b.frame) != ExqReason::kNone) return {};
  return b.bytes();
}

void BM_ModelInbound(benchmark::State& st) {
  t::ModelHarness h;
  h.Install(t::Inbound(Spec()));
  const t::Bytes wire = ModelEsp(SizeArg(st));
  t::PacketBuf buf(wire);
  const std::size_t off = buf.frame.off;
  for (auto _ : st) {
    std::memcpy(buf.storage.data() + off, wire.data(), wire.size());
    buf.frame.off = off;
    buf.frame.len = wire.size();
    const auto m = h.engine().Receive(buf.frame);
    if (t::StatusOf(m) != RxStatus::kDecrypted) {
      st.SkipWithError("Receive failed");
      break;
    }
    benchmark::DoNotOptimize(buf.storage.data());
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * SizeArg(st)));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

template <class Ceiling>
void BM_CeilingOpen(benchmark::State& st) {
  Ceiling plain(false);
  const t::Bytes wire = ModelEsp(SizeArg(st));
  const std::size_t esp = 20, ct = wire.size() - esp - 32;
  std::vector<std::uint8_t> buf(wire);
  for (auto _ : st) {
    std::memcpy(buf.data(), wire.data(), wire.size());
    if (!plain.Open(buf.data() + esp, ct)) {
      st.SkipWithError("tag check failed");
      break;
    }
    benchmark::DoNotOptimize(buf.data());
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * SizeArg(st)));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// The ratio itself, robust to load on shared cores: model and EVP run in
// alternating batches of kBatch packets inside one benchmark, each batch
// timed, so both see the same machine state. Counter "ratio" is model
// throughput / EVP throughput (= EVP time / model time).
// Batches are timed in thread CPU time, so preemption by other processes on
// the shared cores does not land on one side only.
constexpr int kBatch = 64;

double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void BM_OutboundRatio(benchmark::State& st) {
  t::ModelHarness h;
  h.Install(Spec(), 1);
  const t::Bytes inner = Inner(SizeArg(st));
  t::PacketBuf buf(inner);
  const auto meta = t::TxFor(1);
  const std::size_t off = buf.frame.off;
  Evp evp(true);
  Plain prov(true);
  std::vector<std::uint8_t> data(EspPayloadBytes(inner.size()), 0x5A);
  std::uint8_t tag[16];
  std::uint64_t seq = 0;
  // kBatch seals through `loop`; its thread CPU time.
  auto seal_batch = [&](auto& loop) {
    const double t0 = CpuNow();
    for (int k = 0; k < kBatch; ++k) SealEsp(loop, ++seq, data, tag);
    return CpuNow() - t0;
  };
  double model = 0, ceiling = 0, provider = 0;
  for (auto _ : st) {
    const double t0 = CpuNow();
    for (int k = 0; k < kBatch; ++k) {
      std::memcpy(buf.storage.data() + off, inner.data(), 20);
      buf.frame.off = off;
      buf.frame.len = inner.size();
      if (h.engine().Transmit(meta, buf.frame) != ExqReason::kNone) st.SkipWithError("Transmit");
    }
    model += CpuNow() - t0;
    ceiling += seal_batch(evp);
    provider += seal_batch(prov);
  }
  st.counters["ratio"] = ceiling / model;
  st.counters["provider_ratio"] = provider / model;
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * kBatch * 3 * inner.size()));
}

void BM_InboundRatio(benchmark::State& st) {
  t::ModelHarness h;
  h.Install(t::Inbound(Spec()));
  const t::Bytes wire = ModelEsp(SizeArg(st));
  t::PacketBuf buf(wire);
  const std::size_t off = buf.frame.off;
  Evp evp(false);
  Plain prov(false);
  const std::size_t esp = 20, ct = wire.size() - esp - 32;
  std::vector<std::uint8_t> copy(wire);
  // kBatch opens through `loop`; its thread CPU time.
  auto open_batch = [&](auto& loop) {
    const double t0 = CpuNow();
    for (int k = 0; k < kBatch; ++k) {
      std::memcpy(copy.data(), wire.data(), wire.size());
      if (!loop.Open(copy.data() + esp, ct)) st.SkipWithError("tag");
    }
    return CpuNow() - t0;
  };
  double model = 0, ceiling = 0, provider = 0;
  for (auto _ : st) {
    const double t0 = CpuNow();
    for (int k = 0; k < kBatch; ++k) {
      std::memcpy(buf.storage.data() + off, wire.data(), wire.size());
      buf.frame.off = off;
      buf.frame.len = wire.size();
      if (t::StatusOf(h.engine().Receive(buf.frame)) != RxStatus::kDecrypted)
        st.SkipWithError("Receive");
    }
    model += CpuNow() - t0;
    ceiling += open_batch(evp);
    provider += open_batch(prov);
  }
  st.counters["ratio"] = ceiling / model;
  st.counters["provider_ratio"] = provider / model;
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * kBatch * 3 * SizeArg(st)));
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int s : {64, 512, 1450, 9000}) b->Arg(s);
}
BENCHMARK(BM_ModelOutbound)->Apply(Sizes);
BENCHMARK(BM_CeilingSeal<Plain>)->Name("BM_OsslSeal")->Apply(Sizes);
BENCHMARK(BM_CeilingSeal<Evp>)->Name("BM_EvpSeal")->Apply(Sizes);
BENCHMARK(BM_ModelInbound)->Apply(Sizes);
BENCHMARK(BM_CeilingOpen<Plain>)->Name("BM_OsslOpen")->Apply(Sizes);
BENCHMARK(BM_CeilingOpen<Evp>)->Name("BM_EvpOpen")->Apply(Sizes);
BENCHMARK(BM_OutboundRatio)->Apply(Sizes);
BENCHMARK(BM_InboundRatio)->Apply(Sizes);

// Console output as usual, plus the throughput of every run for the summary.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      const auto it = r.counters.find("bytes_per_second");
      if (it != r.counters.end()) bps_[r.benchmark_name()] = it->second.value;
      const auto ratio = r.counters.find("ratio");
      if (ratio != r.counters.end()) ratio_[r.benchmark_name()] = ratio->second.value;
      const auto prov = r.counters.find("provider_ratio");
      if (prov != r.counters.end()) provider_ratio_[r.benchmark_name()] = prov->second.value;
    }
  }
  void Summary() const {
    for (const char* dir : {"Outbound", "Inbound"}) {
      const std::string model = std::string("BM_Model") + dir + "/";
      const std::string evp = std::string(dir[0] == 'O' ? "BM_EvpSeal/" : "BM_EvpOpen/");
      for (int s : {64, 512, 1450, 9000}) {
        const auto m = bps_.find(model + std::to_string(s));
        const auto e = bps_.find(evp + std::to_string(s));
        if (m == bps_.end() || e == bps_.end() || e->second <= 0) continue;
        const std::string paired = std::string("BM_") + dir + "Ratio/" + std::to_string(s);
        std::printf(
            "esp %-8s %5d B: model %7.3f GB/s  evp %7.3f GB/s  ratio %.3f  (paired ratio "
            "%.3f; paired vs provider loop %.3f)\n",
            dir, s, m->second / 1e9, e->second / 1e9, m->second / e->second, Find(ratio_, paired),
            Find(provider_ratio_, paired));
      }
    }
  }

 private:
  std::map<std::string, double> bps_;
  std::map<std::string, double> ratio_;
  std::map<std::string, double> provider_ratio_;

  static double Find(const std::map<std::string, double>& m, const std::string& name) {
    const auto it = m.find(name);
    return it == m.end() ? 0.0 : it->second;
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.Summary();
  benchmark::Shutdown();
  return 0;
}
