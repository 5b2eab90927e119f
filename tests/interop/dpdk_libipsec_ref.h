// DPDK lib/ipsec as the reference ESP implementation beside the inline
// gateway (tests/interop/dpdk_gateway_test.cc, bench/dpdk/): one rte_ipsec SA
// in lookaside-none mode over a software cryptodev (crypto_openssl or
// crypto_ipsec_mb), processing bursts of IP-level mbufs (no L2) with
// prepare -> enqueue -> dequeue -> group -> process, as ipsec-secgw does.
// Only IPv4 tunnel-mode AEAD SAs: what the gateway tests need.
#pragma once

#include <rte_cryptodev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace inlinesec::dpdk_ref {

// A started software cryptodev with its session and op pools.
struct CryptoDev {
  std::uint8_t id = 0;
  rte_mempool* sessions = nullptr;
  rte_mempool* ops = nullptr;
};

// Finds the cryptodev named `name` (a --vdev given to EAL) and starts it
// with one queue pair. False (with a reason) if absent or it fails.
bool OpenCryptoDev(const std::string& name, CryptoDev& dev, std::string& why);

struct RefSaParams {
  bool outbound = true;
  std::uint32_t spi = 0;
  bool chacha = false;
  std::span<const std::uint8_t> key;  // 16 or 32 bytes
  std::array<std::uint8_t, 4> salt{};
  std::array<std::uint8_t, 4> tunnel_src{};
  std::array<std::uint8_t, 4> tunnel_dst{};
  bool inner_v6 = false;
  std::uint32_t replay_window = 0;
  // Outbound: last sequence number used (the first packet gets +1).
  std::uint64_t seq = 0;
};

class LibIpsecSa {
 public:
  LibIpsecSa() = default;
  ~LibIpsecSa();
  LibIpsecSa(const LibIpsecSa&) = delete;
  LibIpsecSa& operator=(const LibIpsecSa&) = delete;

  bool Init(const CryptoDev& dev, const RefSaParams& p, std::string& err);
  // mbufs start at the IP header. Returns the good ones (front); failed ones
  // are at the tail. Outbound output gets a valid outer IPv4 checksum.
  std::uint16_t Process(rte_mbuf** mb, std::uint16_t n);

 private:
  CryptoDev dev_;
  bool outbound_ = true;
  void* session_ = nullptr;
  void* sa_ = nullptr;
  alignas(64) unsigned char ss_[256] = {};  // struct rte_ipsec_session
};

}  // namespace inlinesec::dpdk_ref
