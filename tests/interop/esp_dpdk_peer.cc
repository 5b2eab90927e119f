// DPDK side of the ESP interop tests (see esp_dpdk_peer.h). Builds rte_ipsec
// SAs from the model's SA description and pushes single packets through the
// lookaside-none path with the crypto_openssl vdev. EAL runs without
// hugepages (--no-huge -m 1024), without PCI and without shared config files, so the test
// needs no system setup and leaves nothing behind.
#include "esp_dpdk_peer.h"

// Several cryptodev calls this test needs are still "experimental" in DPDK
// 22.11 (the ABI is not frozen); that is fine for a test peer.
#define ALLOW_EXPERIMENTAL_API 1

#include <netinet/in.h>
#include <rte_cryptodev.h>
#include <rte_ipsec.h>
#include <rte_ipsec_sa.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstring>
#include <mutex>

namespace inlinesec::esp_interop {

namespace {

struct DpdkEnv {
  bool ok = false;
  std::string why;
  dpdk_ref::CryptoDev crypto;
  rte_mempool* mbufs = nullptr;
};

DpdkEnv& Env() {
  static DpdkEnv env;
  return env;
}

void Bring(DpdkEnv& env) {
  dpdk_ref::EalOptions eal;
  eal.program = "inlinesec-esp-dpdk";
  eal.tag = "esp";
  eal.vdevs = {"crypto_openssl"};
  if (!dpdk_ref::StartEal(eal, env.why)) return;
  if (!dpdk_ref::OpenCryptoDev("crypto_openssl", env.crypto, env.why, {256, 256, 128})) return;
  env.mbufs = rte_pktmbuf_pool_create("esp_mbufs", 256, 0, 0, 4096 + RTE_PKTMBUF_HEADROOM, 0);
  if (env.mbufs == nullptr) {
    env.why = "cannot create the mbuf pool";
    return;
  }
  env.ok = true;
}

rte_crypto_aead_algorithm AeadOf(abi::Algo a) {
  return a == abi::Algo::kChaCha20Poly1305 ? RTE_CRYPTO_AEAD_CHACHA20_POLY1305
                                           : RTE_CRYPTO_AEAD_AES_GCM;
}

}  // namespace

bool DpdkUp(std::string& why) {
  static std::once_flag once;
  std::call_once(once, [] { Bring(Env()); });
  why = Env().why;
  return Env().ok;
}

bool DpdkSupports(abi::Algo algo) {
  rte_cryptodev_sym_capability_idx idx{};
  idx.type = RTE_CRYPTO_SYM_XFORM_AEAD;
  idx.algo.aead = AeadOf(algo);
  const auto* cap = rte_cryptodev_sym_capability_get(Env().crypto.id, &idx);
  return cap != nullptr &&
         rte_cryptodev_sym_capability_check_aead(
             cap, static_cast<std::uint16_t>(esp_test::KeyLen(algo)), 16, 8, 12) == 0;
}

bool DpdkSa::Init(const esp_test::SaSpec& spec, bool inner_v6, std::string& err) {
  const abi::SaEntry e = esp_test::MakeSa(spec);
  outbound_ = spec.dir == abi::Dir::kOutbound;
  udp_ = spec.udp;
  const bool tunnel = spec.mode == abi::Mode::kTunnel;

  rte_crypto_sym_xform x = dpdk_ref::AeadXform(
      outbound_, spec.algo == abi::Algo::kChaCha20Poly1305,
      std::span<const std::uint8_t>(e.key.data(), esp_test::KeyLen(spec.algo)), spec.esn ? 12 : 8);

  rte_ipsec_sa_prm prm{};
  prm.crypto_xform = &x;
  auto& ix = prm.ipsec_xform;
  ix.spi = spec.spi;
  std::memcpy(&ix.salt, e.salt.data(), 4);  // DPDK copies the salt as bytes
  ix.options.esn = spec.esn ? 1 : 0;
  // lib/ipsec (22.11) sets up inbound SAs only without the NAT-T flag (an
  // inbound NAT-T type matches no case in its SA init): the application
  // skips the UDP header itself by counting it in l3_len (see Process).
  ix.options.udp_encap = spec.udp && outbound_ ? 1 : 0;
  ix.direction = outbound_ ? RTE_SECURITY_IPSEC_SA_DIR_EGRESS : RTE_SECURITY_IPSEC_SA_DIR_INGRESS;
  ix.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
  ix.mode = tunnel ? RTE_SECURITY_IPSEC_SA_MODE_TUNNEL : RTE_SECURITY_IPSEC_SA_MODE_TRANSPORT;
  ix.replay_win_sz = outbound_ ? 0 : spec.window;
  // DPDK's outbound counter is the next number to send; inbound, the highest
  // received (as the model's SaEntry::seq).
  ix.esn.value = outbound_ ? spec.seq + 1 : spec.seq;
  ix.udp.sport = spec.sport;
  ix.udp.dport = spec.dport;
  std::uint8_t hdr[40] = {};
  if (tunnel) {
    ix.tunnel.type =
        spec.outer_v6 ? RTE_SECURITY_IPSEC_TUNNEL_IPV6 : RTE_SECURITY_IPSEC_TUNNEL_IPV4;
    prm.tun.next_proto = inner_v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
    prm.tun.hdr_l3_off = 0;
    if (spec.outer_v6) {
      hdr[0] = 0x60;
      hdr[6] = spec.udp ? IPPROTO_UDP : IPPROTO_ESP;  // DPDK keeps the template's
      hdr[7] = 64;
      std::memcpy(hdr + 8, e.src.data(), 16);
      std::memcpy(hdr + 24, e.dst.data(), 16);
      prm.tun.hdr_len = 40;
    } else {
      hdr[0] = 0x45;
      hdr[8] = 64;
      hdr[9] = spec.udp ? IPPROTO_UDP : IPPROTO_ESP;
      std::memcpy(hdr + 12, e.src.data(), 4);
      std::memcpy(hdr + 16, e.dst.data(), 4);
      prm.tun.hdr_len = 20;
    }
    prm.tun.hdr = hdr;
  } else {
    // lib/ipsec reads the packets' IP version from trs.proto (IPIP = IPv4).
    prm.trs.proto = inner_v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
  }
  return session_.Init(Env().crypto, prm, err);
}

bool DpdkSa::Process(const esp_test::Bytes& in, esp_test::Bytes& out, std::string& err) {
  DpdkEnv& env = Env();
  rte_mbuf* mb = rte_pktmbuf_alloc(env.mbufs);
  if (mb == nullptr) {
    err = "mbuf pool empty";
    return false;
  }
  char* d = rte_pktmbuf_append(mb, static_cast<std::uint16_t>(in.size()));
  std::memcpy(d, in.data(), in.size());
  const bool v6 = !in.empty() && (in[0] >> 4) == 6;
  mb->l2_len = 0;
  mb->l3_len = v6 ? 40 : static_cast<std::uint16_t>((in[0] & 0x0F) * 4);
  mb->packet_type = v6 ? RTE_PTYPE_L3_IPV6 : RTE_PTYPE_L3_IPV4;
  if (!outbound_ && udp_) mb->l3_len = static_cast<std::uint16_t>(mb->l3_len + 8);  // NAT-T
  rte_crypto_op* cop = rte_crypto_op_alloc(env.crypto.ops, RTE_CRYPTO_OP_TYPE_SYMMETRIC);
  rte_ipsec_session* ss = session_.get();
  bool ok = false;
  if (cop == nullptr) {
    err = "crypto op pool empty";
  } else if (rte_ipsec_pkt_crypto_prepare(ss, &mb, &cop, 1) != 1) {
    err = "rte_ipsec_pkt_crypto_prepare refused the packet";
  } else if (rte_cryptodev_enqueue_burst(env.crypto.id, 0, &cop, 1) != 1) {
    err = "cryptodev enqueue failed";
  } else {
    rte_crypto_op* done = nullptr;
    while (rte_cryptodev_dequeue_burst(env.crypto.id, 0, &done, 1) == 0) {
    }
    mb->ol_flags |= RTE_MBUF_F_RX_SEC_OFFLOAD;
    if (done->status != RTE_CRYPTO_OP_STATUS_SUCCESS) {
      mb->ol_flags |= RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED;
      err = "crypto op failed, status " + std::to_string(done->status);
    } else if (rte_ipsec_pkt_process(ss, &mb, 1) != 1) {
      err = "rte_ipsec_pkt_process refused the packet";
    } else {
      out.resize(rte_pktmbuf_pkt_len(mb));
      const void* p = rte_pktmbuf_read(mb, 0, static_cast<std::uint32_t>(out.size()), out.data());
      if (p != out.data()) std::memcpy(out.data(), p, out.size());
      ok = true;
    }
  }
  if (cop != nullptr) rte_crypto_op_free(cop);
  rte_pktmbuf_free(mb);
  return ok;
}

}  // namespace inlinesec::esp_interop
