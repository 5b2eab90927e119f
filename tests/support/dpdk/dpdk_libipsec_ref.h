// DPDK lib/ipsec as the reference ESP implementation beside the inline
// gateway (tests/interop/dpdk_gateway_test.cc, bench/dpdk/): one rte_ipsec SA
// in lookaside-none mode over a software cryptodev (crypto_openssl or
// crypto_ipsec_mb), processing bursts of IP-level mbufs (no L2) with
// prepare -> enqueue -> dequeue -> group -> process, as ipsec-secgw does.
// LibIpsecSa covers IPv4 tunnel-mode AEAD SAs (what the gateway tests and
// bench/dpdk need); IpsecSession and AeadXform serve any SA shape
// (tests/interop/esp_dpdk_peer.cc builds the others).
#pragma once

#include <rte_cryptodev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "dpdk_eal.h"

struct rte_ipsec_sa_prm;
struct rte_ipsec_session;

namespace inlinesec::dpdk_ref {

// The AEAD transform of an ESP SA (12-byte nonce after the crypto op, 16-byte
// ICV); `aad_len` is 8, or 12 with ESN.
rte_crypto_sym_xform AeadXform(bool encrypt, bool chacha, std::span<const std::uint8_t> key,
                               std::uint16_t aad_len);

// One rte_ipsec SA and its cryptodev session, prepared for the
// lookaside-none path. Frees both when destroyed.
class IpsecSession {
 public:
  IpsecSession() = default;
  ~IpsecSession();
  IpsecSession(const IpsecSession&) = delete;
  IpsecSession& operator=(const IpsecSession&) = delete;

  // `prm.crypto_xform` must point at the SA's transform. False (with the
  // reason) if lib/ipsec or the cryptodev refuses the SA.
  bool Init(const CryptoDev& dev, rte_ipsec_sa_prm& prm, std::string& err);
  rte_ipsec_session* get() { return reinterpret_cast<rte_ipsec_session*>(ss_); }

 private:
  std::uint8_t dev_id_ = 0;
  void* session_ = nullptr;
  void* sa_ = nullptr;
  alignas(64) unsigned char ss_[256] = {};  // struct rte_ipsec_session
};

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
  LibIpsecSa(const LibIpsecSa&) = delete;
  LibIpsecSa& operator=(const LibIpsecSa&) = delete;

  bool Init(const CryptoDev& dev, const RefSaParams& p, std::string& err);
  // mbufs start at the IP header. Returns the good ones (front); failed ones
  // are at the tail. Outbound output gets a valid outer IPv4 checksum.
  std::uint16_t Process(rte_mbuf** mb, std::uint16_t n);

 private:
  CryptoDev dev_;
  bool outbound_ = true;
  IpsecSession session_;
};

}  // namespace inlinesec::dpdk_ref
