// lib/ipsec reference SA (see dpdk_libipsec_ref.h): rte_ipsec SA init from
// the parameters, a cryptodev session, and the lookaside-none burst path.
#define ALLOW_EXPERIMENTAL_API 1

#include "dpdk_libipsec_ref.h"

#include <netinet/in.h>
#include <rte_crypto.h>
#include <rte_ip.h>
#include <rte_ipsec.h>
#include <rte_ipsec_sa.h>
#include <rte_malloc.h>

#include <cstring>

namespace inlinesec::dpdk_ref {

namespace {

constexpr std::uint16_t kIvOffset = sizeof(rte_crypto_op) + sizeof(rte_crypto_sym_op);
constexpr std::uint16_t kMaxBurst = 64;

}  // namespace

rte_crypto_sym_xform AeadXform(bool encrypt, bool chacha, std::span<const std::uint8_t> key,
                               std::uint16_t aad_len) {
  rte_crypto_sym_xform x{};
  x.type = RTE_CRYPTO_SYM_XFORM_AEAD;
  x.aead.op = encrypt ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT;
  x.aead.algo = chacha ? RTE_CRYPTO_AEAD_CHACHA20_POLY1305 : RTE_CRYPTO_AEAD_AES_GCM;
  x.aead.key.data = key.data();
  x.aead.key.length = static_cast<std::uint16_t>(key.size());
  x.aead.iv.offset = kIvOffset;
  x.aead.iv.length = 12;
  x.aead.digest_length = 16;
  x.aead.aad_length = aad_len;
  return x;
}

IpsecSession::~IpsecSession() {
  if (session_ != nullptr) rte_cryptodev_sym_session_free(dev_id_, session_);
  rte_free(sa_);
}

bool IpsecSession::Init(const CryptoDev& dev, rte_ipsec_sa_prm& prm, std::string& err) {
  dev_id_ = dev.id;
  const int size = rte_ipsec_sa_size(&prm);
  if (size < 0) {
    err = "rte_ipsec_sa_size refused the SA: " + std::to_string(size);
    return false;
  }
  sa_ = rte_zmalloc("ref_sa", static_cast<std::size_t>(size), RTE_CACHE_LINE_SIZE);
  if (sa_ == nullptr) {
    err = "rte_zmalloc failed for the rte_ipsec SA";
    return false;
  }
  const int rc =
      rte_ipsec_sa_init(static_cast<rte_ipsec_sa*>(sa_), &prm, static_cast<std::uint32_t>(size));
  if (rc < 0) {
    err = "rte_ipsec_sa_init failed: " + std::to_string(rc);
    return false;
  }
  session_ = rte_cryptodev_sym_session_create(dev.id, prm.crypto_xform, dev.sessions);
  if (session_ == nullptr) {
    err = "rte_cryptodev_sym_session_create failed";
    return false;
  }
  rte_ipsec_session* ss = get();
  ss->sa = static_cast<rte_ipsec_sa*>(sa_);
  ss->type = RTE_SECURITY_ACTION_TYPE_NONE;
  ss->crypto.ses = static_cast<rte_cryptodev_sym_session*>(session_);
  ss->crypto.dev_id = dev.id;
  if (rte_ipsec_session_prepare(ss) != 0) {
    err = "rte_ipsec_session_prepare failed";
    return false;
  }
  return true;
}

bool LibIpsecSa::Init(const CryptoDev& dev, const RefSaParams& p, std::string& err) {
  dev_ = dev;
  outbound_ = p.outbound;
  rte_crypto_sym_xform x = AeadXform(p.outbound, p.chacha, p.key, 8);

  rte_ipsec_sa_prm prm{};
  prm.crypto_xform = &x;
  auto& ix = prm.ipsec_xform;
  ix.spi = p.spi;
  std::memcpy(&ix.salt, p.salt.data(), 4);
  ix.direction = p.outbound ? RTE_SECURITY_IPSEC_SA_DIR_EGRESS : RTE_SECURITY_IPSEC_SA_DIR_INGRESS;
  ix.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
  ix.mode = RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
  ix.tunnel.type = RTE_SECURITY_IPSEC_TUNNEL_IPV4;
  ix.replay_win_sz = p.outbound ? 0 : p.replay_window;
  // lib/ipsec's outbound counter is the next number to send.
  ix.esn.value = p.outbound ? p.seq + 1 : p.seq;
  std::uint8_t hdr[20] = {};
  hdr[0] = 0x45;
  hdr[8] = 64;
  hdr[9] = IPPROTO_ESP;
  std::memcpy(hdr + 12, p.tunnel_src.data(), 4);
  std::memcpy(hdr + 16, p.tunnel_dst.data(), 4);
  prm.tun.hdr = hdr;
  prm.tun.hdr_len = sizeof(hdr);
  prm.tun.hdr_l3_off = 0;
  prm.tun.next_proto = p.inner_v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
  return session_.Init(dev, prm, err);
}

std::uint16_t LibIpsecSa::Process(rte_mbuf** mb, std::uint16_t n) {
  std::uint16_t done_total = 0;
  for (std::uint16_t base = 0; base < n; base += kMaxBurst) {
    const std::uint16_t cnt = static_cast<std::uint16_t>(std::min<int>(kMaxBurst, n - base));
    rte_mbuf** m = mb + base;
    for (std::uint16_t i = 0; i < cnt; ++i) {
      const std::uint8_t* ip = rte_pktmbuf_mtod(m[i], const std::uint8_t*);
      const bool v6 = (ip[0] >> 4) == 6;
      m[i]->l2_len = 0;
      m[i]->l3_len = v6 ? 40 : static_cast<std::uint16_t>((ip[0] & 0x0F) * 4);
      m[i]->packet_type = v6 ? RTE_PTYPE_L3_IPV6 : RTE_PTYPE_L3_IPV4;
      m[i]->ol_flags = 0;
    }
    rte_crypto_op* cop[kMaxBurst];
    if (rte_crypto_op_bulk_alloc(dev_.ops, RTE_CRYPTO_OP_TYPE_SYMMETRIC, cop, cnt) != cnt)
      return done_total;
    const std::uint16_t k = rte_ipsec_pkt_crypto_prepare(session_.get(), m, cop, cnt);
    std::uint16_t enq = 0;
    while (enq < k) enq += rte_cryptodev_enqueue_burst(dev_.id, 0, cop + enq, k - enq);
    rte_crypto_op* out[kMaxBurst];
    std::uint16_t deq = 0;
    while (deq < k) deq += rte_cryptodev_dequeue_burst(dev_.id, 0, out + deq, k - deq);
    // Software PMDs complete in order; mark results the way
    // rte_ipsec_pkt_crypto_group does.
    for (std::uint16_t i = 0; i < k; ++i) {
      // The symmetric op follows the rte_crypto_op header (a zero-length
      // array in the struct, which GCC's bounds check dislikes).
      const auto* sym = reinterpret_cast<const rte_crypto_sym_op*>(
          reinterpret_cast<const std::uint8_t*>(out[i]) + sizeof(rte_crypto_op));
      rte_mbuf* x = sym->m_src;
      x->ol_flags |= RTE_MBUF_F_RX_SEC_OFFLOAD;
      if (out[i]->status != RTE_CRYPTO_OP_STATUS_SUCCESS)
        x->ol_flags |= RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED;
      m[i] = x;
    }
    rte_mempool_put_bulk(dev_.ops, reinterpret_cast<void**>(cop), cnt);
    const std::uint16_t good =
        static_cast<std::uint16_t>(rte_ipsec_pkt_process(session_.get(), m, k));
    if (outbound_) {
      for (std::uint16_t i = 0; i < good; ++i) {
        auto* ip = rte_pktmbuf_mtod(m[i], rte_ipv4_hdr*);
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
      }
    }
    // Keep the caller's view: good ones at the front of the whole burst.
    if (base != done_total) std::memmove(mb + done_total, m, good * sizeof(rte_mbuf*));
    done_total = static_cast<std::uint16_t>(done_total + good);
    if (good < cnt) return done_total;  // the rest stays behind for the caller to free
  }
  return done_total;
}

}  // namespace inlinesec::dpdk_ref
