// Packets per second through the DPDK inline gateway, beside its ceilings,
// in one run on the same ports and the same packets (64- and 1450-byte
// Ethernet frames, AES-256-GCM, IPv4 tunnel mode):
//   io       plain rx -> tx forwarding (no crypto): the port ceiling;
//   gateway  examples/dpdk_gateway: rx -> InlineSecurity (engine model) -> tx;
//   lib/ipsec + crypto_openssl, and + crypto_aesni_gcm (ipsec_mb) if it
//            probes: rx -> rte_ipsec prepare/cryptodev/process -> tx.
// Topology (ring ports, EAL --no-huge --no-pci): a closed loop
//   host -> [encrypt stage] -> link -> [decrypt stage] -> host (recirculated)
// so every packet is encrypted and decrypted once per lap and fresh plain
// text re-enters without copies. Items = packets through both stages.
// Prints the ratios gateway / lib/ipsec at the end.
#define ALLOW_EXPERIMENTAL_API 1

#include <benchmark/benchmark.h>
#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dpdk_libipsec_ref.h"
#include "gateway.h"
#include "gateway_config.h"
#include "inlinesec/dpdk/inline_security.h"

namespace inlinesec {
namespace {

constexpr std::uint16_t kBurst = 32;
constexpr int kInFlight = 256;
constexpr char kKey[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
constexpr std::uint32_t kSpi = 0x2101;

struct Wire {
  std::uint16_t a = 0;
  std::uint16_t b = 0;
};

enum Kind : int { kIo = 0, kGateway = 1, kLibIpsecOpenssl = 2, kLibIpsecMb = 3 };
const char* KindName(int k) {
  switch (k) {
    case kIo:
      return "io";
    case kGateway:
      return "gateway";
    case kLibIpsecOpenssl:
      return "lib/ipsec+crypto_openssl";
    default:
      return "lib/ipsec+crypto_aesni_gcm(ipsec_mb)";
  }
}

struct World {
  bool ok = false;
  std::string why;
  rte_mempool* mbufs = nullptr;
  // host.a: traffic source/sink; host.b: encrypt stage input (A unprotected)
  // link.a: encrypt stage output (A protected); link.b: decrypt input (B protected)
  // back.a: decrypt output (B unprotected); back.b: recirculated into host.a
  Wire host, link, back;
  std::unique_ptr<dpdk::InlineSecurity> sec_a, sec_b;
  std::unique_ptr<dpdk_gateway::Gateway> gw_a, gw_b;
  dpdk_ref::CryptoDev openssl, ipsec_mb;
  bool have_openssl = false, have_ipsec_mb = false;
  std::string openssl_why, ipsec_mb_why;
  std::map<std::string, double> pps;

  // Destroys the gateways (their rte_security sessions) and the security
  // contexts while EAL still runs: the shared EAL helper releases EAL from
  // an atexit handler, which runs before this static's destructor would.
  void Release() {
    gw_b.reset();
    gw_a.reset();
    sec_b.reset();
    sec_a.reset();
  }
};

World& TheWorld() {
  static World w;
  return w;
}

bool MakeWire(const std::string& name, Wire& w) {
  const std::string n1 = name + "_ab", n2 = name + "_ba";
  rte_ring* ab = rte_ring_create(n1.c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring* ba = rte_ring_create(n2.c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (ab == nullptr || ba == nullptr) return false;
  const int a = rte_eth_from_rings((name + "_a").c_str(), &ba, 1, &ab, 1, 0);
  const int b = rte_eth_from_rings((name + "_b").c_str(), &ab, 1, &ba, 1, 0);
  if (a < 0 || b < 0) return false;
  w = {static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b)};
  return dpdk_gateway::SetupPort(w.a, TheWorld().mbufs, 1024, 1024).ok() &&
         dpdk_gateway::SetupPort(w.b, TheWorld().mbufs, 1024, 1024).ok();
}

std::string PortName(std::uint16_t port) {
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  (void)rte_eth_dev_get_name_by_port(port, name);
  return name;
}

std::string GatewayJson(bool encrypt_side, std::uint16_t prot, std::uint16_t unprot) {
  const std::string self = encrypt_side ? "192.0.2.1" : "192.0.2.2";
  const std::string peer = encrypt_side ? "192.0.2.2" : "192.0.2.1";
  const std::string dir = encrypt_side ? "outbound" : "inbound";
  std::string j = R"({"ports": {"protected": ")" + PortName(prot) + R"(", "unprotected": ")" +
                  PortName(unprot) + R"("}, "sas": [{"name": "sa", "direction": ")" + dir +
                  R"(", "spi": )" + std::to_string(kSpi) + R"(, "algo": "aes-gcm-256", "key": ")" +
                  kKey + R"(", "salt": "0a0b0c0d", "replay_window": )" +
                  (encrypt_side ? "0" : "64") + R"(, "tunnel": {"src": ")" + self +
                  R"(", "dst": ")" + peer + R"("}}])";
  if (encrypt_side)
    j += R"(, "policies": [{"src": "10.1.0.0/16", "dst": "10.2.0.0/16", "sa": "sa"}])";
  return j + "}";
}

bool NewGateway(bool encrypt_side, std::uint16_t prot, std::uint16_t unprot,
                std::unique_ptr<dpdk::InlineSecurity>& sec,
                std::unique_ptr<dpdk_gateway::Gateway>& gw, std::string& why) {
  dpdk::InlineSecurityOptions o;
  o.device_uri = "model:capacity=4096";
  auto s = dpdk::InlineSecurity::Create(o);
  if (!s.ok()) {
    why = s.status().ToString();
    return false;
  }
  sec = std::move(*s);
  auto cfg = dpdk_gateway::ParseGatewayConfig(GatewayJson(encrypt_side, prot, unprot));
  if (!cfg.ok()) {
    why = cfg.status().ToString();
    return false;
  }
  auto g = dpdk_gateway::Gateway::Create(*cfg, *sec, prot, unprot);
  if (!g.ok()) {
    why = g.status().ToString();
    return false;
  }
  gw = std::move(*g);
  return true;
}

void Bring(World& w) {
  dpdk_ref::EalOptions eal;
  eal.program = "dpdk_gateway_bench";
  eal.tag = "gwb";
  eal.vdevs = {"crypto_openssl"};
  if (!dpdk_ref::StartEal(eal, w.why)) return;
  w.mbufs = rte_pktmbuf_pool_create("gwb_mbufs", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  if (w.mbufs == nullptr || !MakeWire("bh", w.host) || !MakeWire("bl", w.link) ||
      !MakeWire("bb", w.back)) {
    w.why = "cannot create mbufs or ring ports";
    return;
  }
  if (!NewGateway(true, w.link.a, w.host.b, w.sec_a, w.gw_a, w.why) ||
      !NewGateway(false, w.link.b, w.back.a, w.sec_b, w.gw_b, w.why))
    return;
  w.have_openssl = dpdk_ref::OpenCryptoDev("crypto_openssl", w.openssl, w.openssl_why);
  if (rte_vdev_init("crypto_aesni_gcm", nullptr) != 0) {
    w.ipsec_mb_why = "crypto_aesni_gcm (ipsec_mb) vdev did not probe";
  } else {
    w.have_ipsec_mb = dpdk_ref::OpenCryptoDev("crypto_aesni_gcm", w.ipsec_mb, w.ipsec_mb_why);
  }
  w.ok = true;
}

// 64/1450-byte Ethernet + IPv4 + UDP frames, 10.1.0.1 -> 10.2.0.x.
rte_mbuf* Frame(std::size_t frame_len, std::uint8_t seed) {
  rte_mbuf* m = rte_pktmbuf_alloc(TheWorld().mbufs);
  if (m == nullptr) return nullptr;
  auto* p =
      reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame_len)));
  std::memset(p, 0, frame_len);
  const std::uint8_t l2[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
  std::memcpy(p, l2, 14);
  std::uint8_t* ip = p + 14;
  const std::size_t ip_len = frame_len - 14;
  ip[0] = 0x45;
  ip[2] = static_cast<std::uint8_t>(ip_len >> 8);
  ip[3] = static_cast<std::uint8_t>(ip_len);
  ip[8] = 64;
  ip[9] = 17;
  const std::uint8_t addrs[8] = {10, 1, 0, 1, 10, 2, 0, seed};
  std::memcpy(ip + 12, addrs, 8);
  ip[24] = static_cast<std::uint8_t>((ip_len - 20) >> 8);
  ip[25] = static_cast<std::uint8_t>(ip_len - 20);
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
  h->hdr_checksum = rte_ipv4_cksum(h);
  return m;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void Drain(std::uint16_t port) {
  rte_mbuf* ms[kBurst];
  for (std::uint16_t n; (n = rte_eth_rx_burst(port, 0, ms, kBurst)) != 0;)
    rte_pktmbuf_free_bulk(ms, n);
}

void DrainAll() {
  World& w = TheWorld();
  for (const Wire* x : {&w.host, &w.link, &w.back}) {
    Drain(x->a);
    Drain(x->b);
  }
}

std::uint16_t Forward(std::uint16_t from, std::uint16_t to) {
  rte_mbuf* ms[kBurst];
  const std::uint16_t n = rte_eth_rx_burst(from, 0, ms, kBurst);
  const std::uint16_t sent = n == 0 ? 0 : rte_eth_tx_burst(to, 0, ms, n);
  if (sent < n) rte_pktmbuf_free_bulk(ms + sent, n - sent);
  return sent;
}

// lib/ipsec stage: rx -> strip L2 -> SA -> restore L2 -> tx.
void RefStage(std::uint16_t from, std::uint16_t to, dpdk_ref::LibIpsecSa& sa) {
  rte_mbuf* ms[kBurst];
  const std::uint16_t n = rte_eth_rx_burst(from, 0, ms, kBurst);
  if (n == 0) return;
  std::uint8_t l2[RTE_ETHER_HDR_LEN];
  std::memcpy(l2, rte_pktmbuf_mtod(ms[0], const void*), sizeof(l2));
  for (std::uint16_t i = 0; i < n; ++i) rte_pktmbuf_adj(ms[i], RTE_ETHER_HDR_LEN);
  const std::uint16_t ok = sa.Process(ms, n);
  for (std::uint16_t i = 0; i < ok; ++i) {
    auto* e = rte_pktmbuf_prepend(ms[i], RTE_ETHER_HDR_LEN);
    std::memcpy(e, l2, sizeof(l2));
    ms[i]->ol_flags = 0;
  }
  const std::uint16_t sent = ok == 0 ? 0 : rte_eth_tx_burst(to, 0, ms, ok);
  if (sent < n) rte_pktmbuf_free_bulk(ms + sent, n - sent);
}

// The lib/ipsec SA pair of one cryptodev (encrypt at A, decrypt at B).
struct RefPair {
  dpdk_ref::LibIpsecSa enc;
  dpdk_ref::LibIpsecSa dec;
};

bool MakeRefPair(int kind, std::unique_ptr<RefPair>& out, std::string& why) {
  World& w = TheWorld();
  const bool mb = kind == kLibIpsecMb;
  if (mb ? !w.have_ipsec_mb : !w.have_openssl) {
    why = mb ? w.ipsec_mb_why : w.openssl_why;
    return false;
  }
  std::vector<std::uint8_t> key(32);
  for (std::size_t i = 0; i < 32; ++i)
    key[i] = static_cast<std::uint8_t>(std::stoi(std::string(kKey + 2 * i, 2), nullptr, 16));
  dpdk_ref::RefSaParams p;
  p.spi = kSpi;
  p.key = key;
  p.salt = {0x0a, 0x0b, 0x0c, 0x0d};
  p.tunnel_src = {192, 0, 2, 1};
  p.tunnel_dst = {192, 0, 2, 2};
  p.replay_window = 64;
  out = std::make_unique<RefPair>();
  p.outbound = true;
  if (!out->enc.Init(mb ? w.ipsec_mb : w.openssl, p, why)) return false;
  p.outbound = false;
  return out->dec.Init(mb ? w.ipsec_mb : w.openssl, p, why);
}

// Empties the loop and puts kInFlight fresh frames in.
bool Prime(std::size_t frame) {
  World& w = TheWorld();
  DrainAll();
  std::vector<rte_mbuf*> prime;
  for (int i = 0; i < kInFlight; ++i) prime.push_back(Frame(frame, static_cast<std::uint8_t>(i)));
  return rte_eth_tx_burst(w.host.a, 0, prime.data(), kInFlight) == kInFlight;
}

// One turn of the loop: both stages, then recirculation. Returns the
// packets that completed a lap.
std::uint16_t Step(int kind, RefPair* ref) {
  World& w = TheWorld();
  switch (kind) {
    case kIo:
      (void)Forward(w.host.b, w.link.a);
      (void)Forward(w.link.b, w.back.a);
      break;
    case kGateway:
      (void)w.gw_a->Poll();
      (void)w.gw_b->Poll();
      break;
    default:
      RefStage(w.host.b, w.link.a, ref->enc);
      RefStage(w.link.b, w.back.a, ref->dec);
      break;
  }
  return Forward(w.back.b, w.host.a);
}

void BM_Loop(benchmark::State& state) {
  World& w = TheWorld();
  const int kind = static_cast<int>(state.range(0));
  const std::size_t frame = static_cast<std::size_t>(state.range(1));
  if (!w.ok) {
    state.SkipWithError(w.why.c_str());
    return;
  }
  std::unique_ptr<RefPair> ref;
  std::string why;
  if ((kind == kLibIpsecOpenssl || kind == kLibIpsecMb) && !MakeRefPair(kind, ref, why)) {
    state.SkipWithError(why.c_str());
    return;
  }
  if (!Prime(frame)) {
    state.SkipWithError("cannot prime the loop");
    return;
  }
  std::uint64_t laps = 0;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  for (auto _ : state) laps += Step(kind, ref.get());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_secs = ThreadCpuSeconds() - cpu_start;
  state.SetItemsProcessed(static_cast<std::int64_t>(laps));
  state.SetBytesProcessed(static_cast<std::int64_t>(laps * frame));
  state.counters["Mpps_cpu"] = cpu_secs > 0 ? static_cast<double>(laps) / cpu_secs / 1e6 : 0;
  state.counters["Mpps_wall"] = secs > 0 ? static_cast<double>(laps) / secs / 1e6 : 0;
  DrainAll();
  if (kind == kGateway && (w.gw_a->stats().out_failed != 0 || w.gw_b->stats().in_failed != 0))
    state.SkipWithError("gateway dropped packets");
}

// The ratios: the machine is shared (2 cores, other builds), so the kinds
// run interleaved in short slices, round after round, and each kind's rate
// is its total laps over its total thread CPU time (the loop polls and
// never sleeps, so CPU time is its cost).
void MeasureInterleaved(std::size_t frame, int rounds, double slice_secs) {
  World& w = TheWorld();
  std::unique_ptr<RefPair> refs[4];
  bool have[4] = {true, true, false, false};
  std::string why;
  for (int k : {kLibIpsecOpenssl, kLibIpsecMb}) have[k] = MakeRefPair(k, refs[k], why);
  std::uint64_t laps[4] = {};
  double cpu[4] = {};
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 4; ++k) {
      if (!have[k] || !Prime(frame)) continue;
      const double t0 = ThreadCpuSeconds();
      double t = t0;
      while (t - t0 < slice_secs) {
        for (int i = 0; i < 64; ++i) laps[k] += Step(k, refs[k].get());
        t = ThreadCpuSeconds();
      }
      cpu[k] += t - t0;
    }
  }
  DrainAll();
  for (int k = 0; k < 4; ++k)
    if (cpu[k] > 0)
      w.pps[std::string(KindName(k)) + "/" + std::to_string(frame)] = laps[k] / cpu[k];
}

void PrintRatios() {
  World& w = TheWorld();
  std::printf(
      "\nDPDK inline gateway vs ceilings (interleaved, packets per CPU-second, encrypt+decrypt per "
      "lap)\n");
  for (int frame : {64, 1450}) {
    const std::string f = "/" + std::to_string(frame);
    auto get = [&](int k) {
      auto it = w.pps.find(KindName(k) + f);
      return it == w.pps.end() ? 0.0 : it->second;
    };
    const double io = get(kIo), gw = get(kGateway), ossl = get(kLibIpsecOpenssl),
                 mb = get(kLibIpsecMb);
    std::printf(
        "  %4d B: io %.3f Mpps, gateway %.3f Mpps, lib/ipsec+openssl %.3f Mpps, "
        "lib/ipsec+ipsec_mb %.3f Mpps\n",
        frame, io / 1e6, gw / 1e6, ossl / 1e6, mb / 1e6);
    if (io > 0) std::printf("          gateway / io                 = %.3f\n", gw / io);
    if (ossl > 0)
      std::printf("          gateway / lib/ipsec+openssl  = %.3f (goal >= 0.9)\n", gw / ossl);
    if (mb > 0) std::printf("          gateway / lib/ipsec+ipsec_mb = %.3f\n", gw / mb);
  }
}

}  // namespace
}  // namespace inlinesec

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  inlinesec::Bring(inlinesec::TheWorld());
  if (!inlinesec::TheWorld().ok)
    std::fprintf(stderr, "DPDK unavailable: %s\n", inlinesec::TheWorld().why.c_str());
  auto* b = benchmark::RegisterBenchmark("BM_GatewayLoop", inlinesec::BM_Loop);
  for (int frame : {64, 1450})
    for (int kind = 0; kind < 4; ++kind) b->Args({kind, frame});
  b->ArgNames({"kind", "frame"})->MinTime(0.3)->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  if (inlinesec::TheWorld().ok) {
    for (int frame : {64, 1450}) inlinesec::MeasureInterleaved(frame, 20, 0.05);
  }
  inlinesec::PrintRatios();
  inlinesec::TheWorld().Release();
  benchmark::Shutdown();
  return 0;
}
