// Burst functions of InlineSecurity (see inline_security.h): mbufs through
// the engine in place. The engine works on IP packets (model::Frame), so the
// Ethernet header (optionally one VLAN tag) is saved, the Frame is the rest of
// the single data segment with the mbuf's headroom and tailroom around it,
// and afterwards the L2 header is written back in front of the new IP header
// with the ethertype of the new IP version. One engine lock per burst, no
// allocation; failures are moved to the tail in order, as lib/ipsec does.
#define ALLOW_EXPERIMENTAL_API 1

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "inlinesec/abi/pkt_meta.h"
#include "inlinesec/dpdk/inline_security.h"
#include "inlinesec/driver/model_transport.h"
#include "inlinesec/model/engine.h"

namespace inlinesec::dpdk {

namespace {

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::size_t kMaxL2 = 18;  // Ethernet + one 802.1Q/802.1ad tag

struct L2 {
  std::uint16_t len = 0;
  std::uint16_t type_off = 0;
  std::uint16_t type = 0;
};

std::uint16_t Be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

// The frame's L2 header; false for a runt.
bool ParseL2(const std::uint8_t* p, std::size_t len, L2& l2) {
  if (len < RTE_ETHER_HDR_LEN) return false;
  l2.type_off = 12;
  l2.type = Be16(p + 12);
  if (l2.type == RTE_ETHER_TYPE_VLAN || l2.type == RTE_ETHER_TYPE_QINQ) {
    if (len < kMaxL2) return false;
    l2.type_off = 16;
    l2.type = Be16(p + 16);
  }
  l2.len = static_cast<std::uint16_t>(l2.type_off + 2);
  return true;
}

bool IsIp(std::uint16_t type) { return type == kEtherIpv4 || type == kEtherIpv6; }

// Writes the saved L2 header in front of the IP packet at buf[ip_off] and
// sets the ethertype from that packet's version nibble.
void RestoreL2(std::uint8_t* buf, std::size_t ip_off, const std::uint8_t* hdr, const L2& l2) {
  std::uint8_t* out = buf + ip_off - l2.len;
  std::memmove(out, hdr, l2.len);
  const std::uint16_t type = (buf[ip_off] >> 4) == 6 ? kEtherIpv6 : kEtherIpv4;
  out[l2.type_off] = static_cast<std::uint8_t>(type >> 8);
  out[l2.type_off + 1] = static_cast<std::uint8_t>(type & 0xFF);
}

model::Frame FrameOf(rte_mbuf* m, const L2& l2) {
  model::Frame f;
  f.buf = std::span<std::uint8_t>(static_cast<std::uint8_t*>(m->buf_addr), m->buf_len);
  f.off = static_cast<std::size_t>(m->data_off) + l2.len;
  f.len = static_cast<std::size_t>(m->data_len) - l2.len;
  return f;
}

void SetData(rte_mbuf* m, const model::Frame& f, const L2& l2) {
  m->data_off = static_cast<std::uint16_t>(f.off - l2.len);
  m->data_len = static_cast<std::uint16_t>(f.len + l2.len);
  m->pkt_len = m->data_len;
  m->l2_len = l2.len;
}

// Stable partition by `ok`: good mbufs keep their order at the front, failed
// ones keep theirs at the tail. Rotation costs only when something failed.
template <typename Pred>
std::uint16_t Partition(rte_mbuf** pkts, std::uint16_t n, Pred ok) {
  std::uint16_t w = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    // The port never touched the packet bytes: fetch the next one's headers
    // while the engine works on this one.
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
    if (!ok(pkts[i])) continue;
    if (i != w) std::rotate(pkts + w, pkts + i, pkts + i + 1);
    ++w;
  }
  return w;
}

}  // namespace

bool InlineSecurity::OutboundOne(model::Engine& engine, rte_mbuf* m) {
  ++stats_.tx_packets;
  if ((m->ol_flags & RTE_MBUF_F_TX_SEC_OFFLOAD) == 0) {
    ++stats_.tx_bypass;
    return true;
  }
  if (m->nb_segs != 1) {
    ++stats_.tx_multiseg;
    return false;
  }
  std::uint8_t* data = rte_pktmbuf_mtod(m, std::uint8_t*);
  L2 l2;
  if (!ParseL2(data, m->data_len, l2) || !IsIp(l2.type) || m->data_len <= l2.len) {
    ++stats_.tx_bad_l2;
    return false;
  }
  if (rte_pktmbuf_headroom(m) < model::kTxHeadroom ||
      rte_pktmbuf_tailroom(m) < model::kTxTailroom) {
    ++stats_.tx_no_room;
    return false;
  }
  const std::uint64_t mdata = *rte_security_dynfield(m);
  const auto index = static_cast<std::uint32_t>(mdata & 0xFFFFFFFFu);
  const auto spi = static_cast<std::uint32_t>(mdata >> 32);
  if (spi == 0 || index >= tx_spi_size_ || tx_spi_[index].load(std::memory_order_relaxed) != spi) {
    ++stats_.tx_no_session;
    return false;
  }
  std::array<std::uint8_t, kMaxL2> hdr;
  std::memcpy(hdr.data(), data, l2.len);
  abi::TxMeta meta{};
  meta.sa_index.set(index);
  meta.flags.set(abi::tx_flags::Offload::Set(0, 1));
  model::Frame f = FrameOf(m, l2);
  if (engine.Transmit(meta, f) != abi::ExqReason::kNone) {
    ++stats_.tx_failed;
    return false;
  }
  RestoreL2(f.buf.data(), f.off, hdr.data(), l2);
  SetData(m, f, l2);
  m->ol_flags &= ~RTE_MBUF_F_TX_SEC_OFFLOAD;
  ++stats_.tx_encrypted;
  return true;
}

bool InlineSecurity::InboundOne(model::Engine& engine, rte_mbuf* m) {
  ++stats_.rx_packets;
  constexpr std::uint64_t kFailed = RTE_MBUF_F_RX_SEC_OFFLOAD | RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED;
  if (m->nb_segs != 1) {
    ++stats_.rx_multiseg;
    m->ol_flags |= kFailed;
    return false;
  }
  std::uint8_t* data = rte_pktmbuf_mtod(m, std::uint8_t*);
  L2 l2;
  if (!ParseL2(data, m->data_len, l2)) {
    ++stats_.rx_bad_l2;
    m->ol_flags |= kFailed;
    return false;
  }
  if (!IsIp(l2.type)) {
    ++stats_.rx_bypass;
    return true;
  }
  std::array<std::uint8_t, kMaxL2> hdr;
  std::memcpy(hdr.data(), data, l2.len);
  model::Frame f = FrameOf(m, l2);
  const abi::RxMeta meta = engine.Receive(f);
  const auto status = static_cast<abi::RxStatus>(abi::rx_ctl::Status::Get(meta.ctl.get()));
  if (status == abi::RxStatus::kBypass || status == abi::RxStatus::kIkeToHost) {
    ++stats_.rx_bypass;
    return true;
  }
  if (status != abi::RxStatus::kDecrypted || f.off < l2.len) {
    ++stats_.rx_failed;
    m->ol_flags |= kFailed;
    return false;
  }
  RestoreL2(f.buf.data(), f.off, hdr.data(), l2);
  SetData(m, f, l2);
  const bool v6 = (f.buf[f.off] >> 4) == 6;
  m->packet_type =
      RTE_PTYPE_L2_ETHER | (v6 ? RTE_PTYPE_L3_IPV6_EXT_UNKNOWN : RTE_PTYPE_L3_IPV4_EXT_UNKNOWN);
  m->ol_flags |= RTE_MBUF_F_RX_SEC_OFFLOAD;
  *rte_security_dynfield(m) = meta.cookie.get();  // the session's userdata
  ++stats_.rx_decrypted;
  return true;
}

std::uint16_t InlineSecurity::ProcessOutbound(rte_mbuf** pkts, std::uint16_t n) {
  if (n == 0) return 0;
  return model_->WithEngine([&](model::Engine& e) {
    return Partition(pkts, n, [&](rte_mbuf* m) { return OutboundOne(e, m); });
  });
}

std::uint16_t InlineSecurity::ProcessInbound(rte_mbuf** pkts, std::uint16_t n) {
  if (n == 0) return 0;
  return model_->WithEngine([&](model::Engine& e) {
    return Partition(pkts, n, [&](rte_mbuf* m) { return InboundOne(e, m); });
  });
}

std::uint16_t InlineSecurity::RxBurst(std::uint16_t port, std::uint16_t queue, rte_mbuf** pkts,
                                      std::uint16_t n, std::uint16_t* nb_ok) {
  const std::uint16_t got = rte_eth_rx_burst(port, queue, pkts, n);
  const std::uint16_t ok = ProcessInbound(pkts, got);
  if (nb_ok != nullptr) *nb_ok = ok;
  return got;
}

std::uint16_t InlineSecurity::TxBurst(std::uint16_t port, std::uint16_t queue, rte_mbuf** pkts,
                                      std::uint16_t n) {
  const std::uint16_t ok = ProcessOutbound(pkts, n);
  return ok == 0 ? 0 : rte_eth_tx_burst(port, queue, pkts, ok);
}

}  // namespace inlinesec::dpdk
