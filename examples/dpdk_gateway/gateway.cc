// Gateway (see gateway.h): rte_security sessions from the configuration,
// outbound classification by selector, and the two forwarding directions.
// Only standard DPDK calls after security_ctx(); the burst functions of
// InlineSecurity stand where a SmartNIC's inline rx/tx would.
#define ALLOW_EXPERIMENTAL_API 1

#include "gateway.h"

#include <rte_errno.h>
#include <rte_ether.h>

#include <cstdio>
#include <cstring>

namespace inlinesec::dpdk_gateway {

namespace {

rte_crypto_aead_algorithm AlgoOf(sdk::AeadAlgo a) {
  return a == sdk::AeadAlgo::kChaCha20Poly1305 ? RTE_CRYPTO_AEAD_CHACHA20_POLY1305
                                               : RTE_CRYPTO_AEAD_AES_GCM;
}

bool IsZero(const std::array<std::uint8_t, 6>& mac) {
  for (std::uint8_t b : mac)
    if (b != 0) return false;
  return true;
}

}  // namespace

Status SetupPort(std::uint16_t port, rte_mempool* mbufs, std::uint16_t rxd, std::uint16_t txd) {
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port, 1, 1, &conf) != 0)
    return Status(Code::kUnavailable,
                  "rte_eth_dev_configure failed on port " + std::to_string(port));
  const int socket = rte_eth_dev_socket_id(port);
  const unsigned sock = socket < 0 ? 0 : static_cast<unsigned>(socket);
  if (rte_eth_rx_queue_setup(port, 0, rxd, sock, nullptr, mbufs) != 0 ||
      rte_eth_tx_queue_setup(port, 0, txd, sock, nullptr) != 0)
    return Status(Code::kUnavailable, "queue setup failed on port " + std::to_string(port));
  if (rte_eth_dev_start(port) != 0)
    return Status(Code::kUnavailable, "rte_eth_dev_start failed on port " + std::to_string(port));
  (void)rte_eth_promiscuous_enable(port);
  return Status::Ok();
}

Result<std::unique_ptr<Gateway>> Gateway::Create(const GatewayConfig& config,
                                                 dpdk::InlineSecurity& sec,
                                                 std::uint16_t protected_port,
                                                 std::uint16_t unprotected_port) {
  std::unique_ptr<Gateway> g(new Gateway(sec, protected_port, unprotected_port));
  g->ctx_ = sec.security_ctx();  // the one inlinesec call; the rest is DPDK
  g->prot_hop_ = config.protected_next_hop;
  g->unprot_hop_ = config.unprotected_next_hop;
  g->bypass_ = config.bypass_unmatched;
  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(protected_port, &mac) == 0)
    std::memcpy(g->prot_mac_.data(), mac.addr_bytes, 6);
  if (rte_eth_macaddr_get(unprotected_port, &mac) == 0)
    std::memcpy(g->unprot_mac_.data(), mac.addr_bytes, 6);

  // Session objects come from the application's mempool, sized by the
  // context (header plus driver private data).
  char pool_name[RTE_MEMPOOL_NAMESIZE];
  std::snprintf(pool_name, sizeof(pool_name), "gws_%llx",
                static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(g.get())));
  const unsigned elt = rte_security_session_get_size(g->ctx_) + 2 * RTE_CACHE_LINE_SIZE;
  const unsigned n = static_cast<unsigned>(config.sas.size()) + 64;
  g->sess_pool_ = rte_mempool_create(pool_name, n, elt, 0, 0, nullptr, nullptr, nullptr, nullptr,
                                     SOCKET_ID_ANY, 0);
  if (g->sess_pool_ == nullptr)
    return Status(Code::kResourceExhausted, "cannot create the session mempool");
  for (const SaConfig& sa : config.sas) INLINESEC_RETURN_IF_ERROR(g->AddSession(sa));
  for (const Policy& p : config.policies) g->routes_.push_back({p, g->session(p.sa)});
  return g;
}

Gateway::~Gateway() {
  for (auto& [name, s] : sessions_) (void)rte_security_session_destroy(ctx_, s);
  rte_mempool_free(sess_pool_);
}

Status Gateway::AddSession(const SaConfig& sa) {
  const bool out = sa.direction == sdk::SaDirection::kOutbound;
  // What a DPDK application checks first: does the device do this SA?
  rte_security_capability_idx idx{};
  idx.action = RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL;
  idx.protocol = RTE_SECURITY_PROTOCOL_IPSEC;
  idx.ipsec.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
  idx.ipsec.mode = sa.mode == sdk::SaMode::kTunnel ? RTE_SECURITY_IPSEC_SA_MODE_TUNNEL
                                                   : RTE_SECURITY_IPSEC_SA_MODE_TRANSPORT;
  idx.ipsec.direction = out ? RTE_SECURITY_IPSEC_SA_DIR_EGRESS : RTE_SECURITY_IPSEC_SA_DIR_INGRESS;
  if (rte_security_capability_get(ctx_, &idx) == nullptr)
    return Status(Code::kUnimplemented, "SA " + sa.name + ": no matching rte_security capability");

  rte_crypto_sym_xform x{};
  x.type = RTE_CRYPTO_SYM_XFORM_AEAD;
  x.aead.op = out ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT;
  x.aead.algo = AlgoOf(sa.algo);
  x.aead.key.data = sa.key.data();
  x.aead.key.length = static_cast<std::uint16_t>(sa.key.size());
  x.aead.iv.length = 12;
  x.aead.digest_length = 16;
  x.aead.aad_length = sa.esn ? 12 : 8;

  rte_security_session_conf conf{};
  conf.action_type = RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL;
  conf.protocol = RTE_SECURITY_PROTOCOL_IPSEC;
  rte_security_ipsec_xform& ix = conf.ipsec;
  ix.spi = sa.spi;
  std::memcpy(&ix.salt, sa.salt.data(), 4);
  ix.options.esn = sa.esn ? 1 : 0;
  ix.options.udp_encap = sa.udp_encap ? 1 : 0;
  ix.options.copy_dscp = 1;
  ix.options.copy_df = 1;
  ix.direction = idx.ipsec.direction;
  ix.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
  ix.mode = idx.ipsec.mode;
  if (sa.mode == sdk::SaMode::kTunnel) {
    if (sa.tunnel_src.v6) {
      ix.tunnel.type = RTE_SECURITY_IPSEC_TUNNEL_IPV6;
      std::memcpy(&ix.tunnel.ipv6.src_addr, sa.tunnel_src.bytes.data(), 16);
      std::memcpy(&ix.tunnel.ipv6.dst_addr, sa.tunnel_dst.bytes.data(), 16);
      ix.tunnel.ipv6.hlimit = 64;
    } else {
      ix.tunnel.type = RTE_SECURITY_IPSEC_TUNNEL_IPV4;
      std::memcpy(&ix.tunnel.ipv4.src_ip, sa.tunnel_src.bytes.data(), 4);
      std::memcpy(&ix.tunnel.ipv4.dst_ip, sa.tunnel_dst.bytes.data(), 4);
      ix.tunnel.ipv4.ttl = 64;
    }
  }
  ix.replay_win_sz = out ? 0 : sa.replay_window;
  ix.udp.sport = sa.udp_sport;
  ix.udp.dport = sa.udp_dport;
  ix.life.bytes_soft_limit = sa.bytes_soft;
  ix.life.bytes_hard_limit = sa.bytes_hard;
  ix.life.packets_soft_limit = sa.packets_soft;
  ix.life.packets_hard_limit = sa.packets_hard;
  conf.crypto_xform = &x;
  // Userdata: the SA's position in the configuration, echoed in events and
  // in the rte_security dynamic field of decrypted packets.
  conf.userdata = reinterpret_cast<void*>(static_cast<std::uintptr_t>(sessions_.size() + 1));

  void* s = rte_security_session_create(ctx_, &conf, sess_pool_);
  if (s == nullptr) {
    const Status& why = sec_.last_error();
    return Status(why.ok() ? Code::kInternal : why.code(),
                  "SA " + sa.name + ": rte_security_session_create failed (" +
                      std::string(rte_strerror(rte_errno)) + "): " + why.message());
  }
  sessions_.emplace_back(sa.name, s);
  return Status::Ok();
}

void* Gateway::session(const std::string& sa_name) const {
  for (const auto& [name, s] : sessions_)
    if (name == sa_name) return s;
  return nullptr;
}

void* Gateway::Classify(rte_mbuf* m) const {
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const std::uint32_t len = m->data_len;
  if (len < RTE_ETHER_HDR_LEN + 20) return nullptr;
  const std::uint16_t type = static_cast<std::uint16_t>(p[12] << 8 | p[13]);
  const std::uint8_t* ip = p + RTE_ETHER_HDR_LEN;
  bool v6;
  const std::uint8_t* src;
  const std::uint8_t* dst;
  if (type == RTE_ETHER_TYPE_IPV4 && (ip[0] >> 4) == 4) {
    v6 = false;
    src = ip + 12;
    dst = ip + 16;
  } else if (type == RTE_ETHER_TYPE_IPV6 && len >= RTE_ETHER_HDR_LEN + 40 && (ip[0] >> 4) == 6) {
    v6 = true;
    src = ip + 8;
    dst = ip + 24;
  } else {
    return nullptr;
  }
  for (const Route& r : routes_)
    if (r.policy.src.Contains(v6, src) && r.policy.dst.Contains(v6, dst)) return r.session;
  return nullptr;
}

void Gateway::SetMacs(rte_mbuf* m, bool to_protected) const {
  auto* eth = rte_pktmbuf_mtod(m, std::uint8_t*);
  const auto& hop = to_protected ? prot_hop_ : unprot_hop_;
  const auto& own = to_protected ? prot_mac_ : unprot_mac_;
  if (!IsZero(hop)) std::memcpy(eth, hop.data(), 6);
  std::memcpy(eth + 6, own.data(), 6);
}

std::uint32_t Gateway::Poll() {
  rte_mbuf* pkts[kBurst];
  // Outbound: plain -> ESP.
  std::uint16_t n = rte_eth_rx_burst(unprot_, 0, pkts, kBurst);
  stats_.out_rx += n;
  std::uint16_t keep = 0;
  std::uint16_t clear = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    void* s = Classify(m);
    if (s != nullptr) {
      (void)rte_security_set_pkt_metadata(ctx_, s, m, nullptr);
      m->ol_flags |= RTE_MBUF_F_TX_SEC_OFFLOAD;
    } else if (bypass_) {
      ++clear;
    } else {
      ++stats_.out_no_policy;
      rte_pktmbuf_free(m);
      continue;
    }
    SetMacs(m, true);
    pkts[keep++] = m;
  }
  std::uint16_t sent = sec_.TxBurst(prot_, 0, pkts, keep);
  stats_.out_bypassed += clear;
  stats_.out_protected += sent;
  stats_.out_failed += keep - sent;
  if (sent < keep) rte_pktmbuf_free_bulk(pkts + sent, keep - sent);
  std::uint32_t moved = sent;

  // Inbound: ESP -> plain.
  std::uint16_t ok = 0;
  n = sec_.RxBurst(prot_, 0, pkts, kBurst, &ok);
  stats_.in_rx += n;
  stats_.in_failed += n - ok;
  if (ok < n) rte_pktmbuf_free_bulk(pkts + ok, n - ok);
  keep = 0;
  for (std::uint16_t i = 0; i < ok; ++i) {
    rte_mbuf* m = pkts[i];
    if ((m->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD) != 0) {
      ++stats_.in_decrypted;
    } else {
      ++stats_.in_plain;
      if (!bypass_) {
        rte_pktmbuf_free(m);
        continue;
      }
    }
    SetMacs(m, false);
    pkts[keep++] = m;
  }
  sent = keep == 0 ? 0 : rte_eth_tx_burst(unprot_, 0, pkts, keep);
  stats_.in_tx_drops += keep - sent;
  if (sent < keep) rte_pktmbuf_free_bulk(pkts + sent, keep - sent);
  return moved + sent;
}

Status Gateway::PollControl() {
  Result<std::size_t> r = sec_.PollEvents();
  return r.status();
}

}  // namespace inlinesec::dpdk_gateway
