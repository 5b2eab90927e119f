// rte_security_session_conf -> sdk::SaDescription (see session_conf.h and the
// table in docs/sdk_sa_manager.md). The SA manager validates what it knows
// (key lengths, windows, lifetimes, SPI rules, capability bits); this file
// refuses what only the DPDK side can express: other action types and
// protocols, AH, cipher/auth chains, and options ABI v1 has no encoding for.
#include "session_conf.h"

#include <cstring>
#include <string>

namespace inlinesec::dpdk {

namespace {

Status Unsupported(std::string what) {
  return Status(Code::kUnimplemented, "rte_security: " + std::move(what));
}
Status Bad(std::string what) {
  return Status(Code::kInvalidArgument, "rte_security: " + std::move(what));
}

// Options with no ABI v1 encoding: a non-default value is refused.
Status CheckOptions(const rte_security_ipsec_sa_options& o) {
  if (o.copy_flabel) return Unsupported("options.copy_flabel (no flow label control in ABI v1)");
  if (o.dec_ttl) return Unsupported("options.dec_ttl");
  if (o.ecn) return Unsupported("options.ecn");
  if (o.iv_gen_disable) return Unsupported("options.iv_gen_disable (the engine makes the IV)");
  if (o.tunnel_hdr_verify) return Unsupported("options.tunnel_hdr_verify");
  if (o.udp_ports_verify) return Unsupported("options.udp_ports_verify");
  if (o.ip_csum_enable || o.l4_csum_enable) return Unsupported("options.ip/l4_csum_enable");
  if (o.ip_reassembly_en) return Unsupported("options.ip_reassembly_en");
  return Status::Ok();
}

Result<sdk::AeadAlgo> AlgoOf(const rte_crypto_aead_xform& a) {
  if (a.algo == RTE_CRYPTO_AEAD_AES_GCM) {
    if (a.key.length == 16) return sdk::AeadAlgo::kAesGcm128;
    if (a.key.length == 32) return sdk::AeadAlgo::kAesGcm256;
    return Bad("aead.key.length " + std::to_string(a.key.length) + " for AES-GCM (16 or 32)");
  }
  if (a.algo == RTE_CRYPTO_AEAD_CHACHA20_POLY1305) {
    if (a.key.length == 32) return sdk::AeadAlgo::kChaCha20Poly1305;
    return Bad("aead.key.length " + std::to_string(a.key.length) + " for ChaCha20-Poly1305 (32)");
  }
  return Unsupported("aead.algo " + std::to_string(static_cast<int>(a.algo)) +
                     " (AES-GCM and ChaCha20-Poly1305 only)");
}

}  // namespace

Result<sdk::SaDescription> DescriptionFromConf(const rte_security_session_conf& conf,
                                               const driver::Capabilities& caps) {
  if (conf.action_type == RTE_SECURITY_ACTION_TYPE_INLINE_CRYPTO)
    return Unsupported(
        "action INLINE_CRYPTO: the engine builds and parses ESP itself, use INLINE_PROTOCOL");
  if (conf.action_type != RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL)
    return Unsupported("action type " + std::to_string(static_cast<int>(conf.action_type)) +
                       " (INLINE_PROTOCOL only)");
  if (conf.protocol != RTE_SECURITY_PROTOCOL_IPSEC)
    return Unsupported("protocol " + std::to_string(static_cast<int>(conf.protocol)) +
                       " (IPsec only)");
  const rte_security_ipsec_xform& x = conf.ipsec;
  if (x.proto != RTE_SECURITY_IPSEC_SA_PROTO_ESP)
    return Unsupported("ipsec.proto AH (ESP only: AH has no ABI v1 encoding)");
  INLINESEC_RETURN_IF_ERROR(CheckOptions(x.options));

  const rte_crypto_sym_xform* cx = conf.crypto_xform;
  if (cx == nullptr) return Bad("crypto_xform is NULL");
  if (cx->type != RTE_CRYPTO_SYM_XFORM_AEAD || cx->next != nullptr)
    return Unsupported("crypto_xform must be one AEAD xform (no cipher/auth chains in ABI v1)");
  const rte_crypto_aead_xform& a = cx->aead;
  Result<sdk::AeadAlgo> algo = AlgoOf(a);
  if (!algo.ok()) return algo.status();
  if (a.digest_length != 16)
    return Bad("aead.digest_length " + std::to_string(a.digest_length) + " (16)");
  if (a.key.data == nullptr) return Bad("aead.key.data is NULL");

  sdk::SaDescription d;
  if (x.direction == RTE_SECURITY_IPSEC_SA_DIR_EGRESS) {
    if (a.op != RTE_CRYPTO_AEAD_OP_ENCRYPT) return Bad("egress SA with aead.op DECRYPT");
    d.direction = sdk::SaDirection::kOutbound;
  } else if (x.direction == RTE_SECURITY_IPSEC_SA_DIR_INGRESS) {
    if (a.op != RTE_CRYPTO_AEAD_OP_DECRYPT) return Bad("ingress SA with aead.op ENCRYPT");
    d.direction = sdk::SaDirection::kInbound;
  } else {
    return Bad("ipsec.direction");
  }
  d.algo = *algo;
  d.key = SecureBytes(std::span<const std::uint8_t>(a.key.data, a.key.length));
  d.spi = x.spi;
  std::memcpy(d.salt.data(), &x.salt, sizeof(x.salt));
  d.esn = x.options.esn != 0;
  d.udp_encap = x.options.udp_encap != 0;
  d.udp_sport = x.udp.sport;
  d.udp_dport = x.udp.dport;
  d.copy_dscp = x.options.copy_dscp != 0;
  d.replay_window = d.direction == sdk::SaDirection::kInbound ? x.replay_win_sz : 0;
  d.initial_seq = x.esn.value;
  d.cookie = reinterpret_cast<std::uint64_t>(conf.userdata);
  d.life.bytes_soft = x.life.bytes_soft_limit;
  d.life.bytes_hard = x.life.bytes_hard_limit;
  d.life.packets_soft = x.life.packets_soft_limit;
  d.life.packets_hard = x.life.packets_hard_limit;

  if (x.mode == RTE_SECURITY_IPSEC_SA_MODE_TRANSPORT) {
    d.mode = sdk::SaMode::kTransport;
    d.df = sdk::DfPolicy::kCopy;
  } else if (x.mode == RTE_SECURITY_IPSEC_SA_MODE_TUNNEL) {
    d.mode = sdk::SaMode::kTunnel;
    if (x.tunnel.type == RTE_SECURITY_IPSEC_TUNNEL_IPV4) {
      const auto& t = x.tunnel.ipv4;
      d.tunnel_src = sdk::IpAddress{};
      d.tunnel_dst = sdk::IpAddress{};
      std::memcpy(d.tunnel_src.bytes.data(), &t.src_ip, 4);
      std::memcpy(d.tunnel_dst.bytes.data(), &t.dst_ip, 4);
      d.dscp = t.dscp;
      d.ttl = t.ttl;
      d.df = x.options.copy_df ? sdk::DfPolicy::kCopy
                               : (t.df ? sdk::DfPolicy::kSet : sdk::DfPolicy::kClear);
    } else if (x.tunnel.type == RTE_SECURITY_IPSEC_TUNNEL_IPV6) {
      if (!caps.ipv6) return Unsupported("IPv6 tunnel (engine capability ipv6 is off)");
      const auto& t = x.tunnel.ipv6;
      if (t.flabel != 0) return Unsupported("tunnel.ipv6.flabel (no flow label in ABI v1)");
      d.tunnel_src.v6 = true;
      d.tunnel_dst.v6 = true;
      std::memcpy(d.tunnel_src.bytes.data(), &t.src_addr, 16);
      std::memcpy(d.tunnel_dst.bytes.data(), &t.dst_addr, 16);
      d.dscp = t.dscp;
      d.ttl = t.hlimit;
      d.df = sdk::DfPolicy::kCopy;
    } else {
      return Bad("ipsec.tunnel.type");
    }
  } else {
    return Bad("ipsec.mode");
  }
  return d;
}

}  // namespace inlinesec::dpdk
