// dpdk_gateway: an inline IPsec gateway on two DPDK ports, the starting
// point of an appliance (docs/dpdk.md).
//
//   dpdk_gateway <EAL args> -- --config gateway.json [--seconds N]
//
// EAL args name the ports (e.g. --vdev=net_tap0 --vdev=net_tap1, or PCI
// devices on a real machine); the config says which one is protected, the
// static SAs and the outbound selectors. Runs until SIGINT/SIGTERM (or N
// seconds), printing counters at exit. IPsec lifetime events arrive on the
// RTE_ETH_EVENT_IPSEC callback, SPI misses as sdk exception events.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gateway.h"
#include "gateway_config.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/dpdk/inline_security.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

int OnIpsecEvent(std::uint16_t port, rte_eth_event_type type, void*, void* param) {
  if (type != RTE_ETH_EVENT_IPSEC || param == nullptr) return 0;
  const auto* ev = static_cast<const inlinesec::dpdk::IpsecEvent*>(param);
  std::fprintf(stderr, "port %u: IPsec event subtype %d for SA #%llu (spi 0x%08x)%s\n", port,
               static_cast<int>(ev->desc.subtype),
               static_cast<unsigned long long>(ev->desc.metadata), ev->spi,
               ev->hard ? ": SA stopped, rekey or delete it" : ": rekey soon");
  return 0;
}

int Usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s <EAL args> -- --config FILE [--seconds N]\n", argv0);
  return 2;
}

int Fail(const inlinesec::Status& st) {
  std::fprintf(stderr, "dpdk_gateway: %s\n", st.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int eal = rte_eal_init(argc, argv);
  if (eal < 0) {
    std::fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  std::string config_path;
  long seconds = 0;
  for (int i = eal + 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::strtol(argv[++i], nullptr, 10);
    } else {
      return Usage(argv[0]);
    }
  }
  if (config_path.empty()) return Usage(argv[0]);

  inlinesec::Result<inlinesec::dpdk_gateway::GatewayConfig> config =
      inlinesec::dpdk_gateway::LoadGatewayConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  std::uint16_t prot = 0;
  std::uint16_t unprot = 0;
  if (rte_eth_dev_get_port_by_name(config->protected_port.c_str(), &prot) != 0 ||
      rte_eth_dev_get_port_by_name(config->unprotected_port.c_str(), &unprot) != 0) {
    std::fprintf(stderr, "dpdk_gateway: ports %s / %s not found (give them as EAL --vdev/-a)\n",
                 config->protected_port.c_str(), config->unprotected_port.c_str());
    return 1;
  }
  rte_mempool* mbufs =
      rte_pktmbuf_pool_create("gw_mbufs", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (mbufs == nullptr) {
    std::fprintf(stderr, "dpdk_gateway: mbuf pool: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  for (std::uint16_t port : {prot, unprot}) {
    inlinesec::Status st = inlinesec::dpdk_gateway::SetupPort(port, mbufs);
    if (!st.ok()) return Fail(st);
  }

  inlinesec::dpdk::InlineSecurityOptions opt;
  opt.event_port_id = prot;
  auto sec = inlinesec::dpdk::InlineSecurity::Create(opt);
  if (!sec.ok()) return Fail(sec.status());
  (*sec)->SetIpsecEventCallback(OnIpsecEvent, nullptr);
  std::uint64_t spi_misses = 0;
  (*sec)->AddExceptionSink([&spi_misses](const inlinesec::sdk::Event& e) {
    // Feed an invalid-SPI recovery engine here (sdk/recovery); the example counts.
    if (e.kind == inlinesec::sdk::EventKind::kSpiMiss) ++spi_misses;
  });
  auto gw = inlinesec::dpdk_gateway::Gateway::Create(*config, **sec, prot, unprot);
  if (!gw.ok()) return Fail(gw.status());

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  inlinesec::SystemClock clock;
  const inlinesec::TimePoint end = clock.Now() + std::chrono::seconds(seconds);
  std::fprintf(stderr, "dpdk_gateway: %zu SAs, %zu policies, protected port %u, unprotected %u\n",
               config->sas.size(), config->policies.size(), prot, unprot);
  for (std::uint64_t iter = 0; !g_stop; ++iter) {
    (*gw)->Poll();
    if ((iter & 1023) == 0) {
      inlinesec::Status st = (*gw)->PollControl();
      if (!st.ok()) std::fprintf(stderr, "dpdk_gateway: events: %s\n", st.ToString().c_str());
      if (seconds > 0 && clock.Now() >= end) break;
    }
  }
  const auto& s = (*gw)->stats();
  std::printf(
      "outbound: rx %llu protected %llu bypassed %llu no-policy %llu failed %llu\n"
      "inbound:  rx %llu decrypted %llu failed %llu plain %llu tx-drops %llu; spi misses %llu\n",
      static_cast<unsigned long long>(s.out_rx), static_cast<unsigned long long>(s.out_protected),
      static_cast<unsigned long long>(s.out_bypassed),
      static_cast<unsigned long long>(s.out_no_policy),
      static_cast<unsigned long long>(s.out_failed), static_cast<unsigned long long>(s.in_rx),
      static_cast<unsigned long long>(s.in_decrypted), static_cast<unsigned long long>(s.in_failed),
      static_cast<unsigned long long>(s.in_plain), static_cast<unsigned long long>(s.in_tx_drops),
      static_cast<unsigned long long>(spi_misses));
  gw->reset();
  sec->reset();
  for (std::uint16_t port : {prot, unprot}) (void)rte_eth_dev_stop(port);
  rte_eal_cleanup();
  return 0;
}
