// EAL and cryptodev set-up shared by every in-process DPDK test and benchmark
// (tests/interop/esp_dpdk_*, tests/interop/dpdk_gateway_test.cc,
// bench/dpdk/): EAL without hugepages, PCI or shared config files on lcore 0,
// software vdevs only, and nothing left behind in /var/run/dpdk when the
// process exits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct rte_mempool;

namespace inlinesec::dpdk_ref {

struct EalOptions {
  // argv[0] for EAL's log lines.
  std::string program = "inlinesec-test";
  // The runtime directory is /var/run/dpdk/inlinesec-<tag>-<pid>.
  std::string tag = "test";
  // --vdev arguments, e.g. "crypto_openssl" or "net_ring0".
  std::vector<std::string> vdevs;
  unsigned memory_mb = 1024;
};

// Starts EAL once for this process. False (with the reason) if EAL refuses;
// a second call fails. At exit, EAL is released and its runtime directory
// removed (EAL creates one even with --no-shconf).
bool StartEal(const EalOptions& options, std::string& why);

// A started software cryptodev with its session and op pools.
struct CryptoDev {
  std::uint8_t id = 0;
  rte_mempool* sessions = nullptr;
  rte_mempool* ops = nullptr;
};

struct CryptoDevPools {
  unsigned sessions = 64;
  unsigned ops = 1024;
  unsigned descriptors = 512;
};

// Finds the cryptodev named `name` (a --vdev given to EAL, or probed later)
// and starts it with one queue pair. False (with the reason) if absent or
// if it fails to start.
bool OpenCryptoDev(const std::string& name, CryptoDev& dev, std::string& why,
                   const CryptoDevPools& pools = {});

}  // namespace inlinesec::dpdk_ref
