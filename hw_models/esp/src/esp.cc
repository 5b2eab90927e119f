// ESP encapsulation/decapsulation of the engine model (see esp.h for the
// contract and docs/esp_datapath.md for every header field). Outbound bytes
// come from the host and inbound bytes from the wire; both are parsed through
// ByteReader and never read past the frame. Packets are rewritten in place:
// headers grow into the frame's headroom, trailers into its tailroom, and the
// AEAD runs over the payload where it lies, so nothing is copied or
// allocated per packet beyond moving a transport-mode IP header.
#include "inlinesec/model/esp/esp.h"

#include <climits>
#include <cstring>

#include "esp_fast.h"
#include "inlinesec/common/byte_reader.h"
#include "inlinesec/common/check.h"

namespace inlinesec::model::esp {

// The shared constants and helpers (esp_fast.h) serve both directions.
using namespace detail;  // NOLINT(google-build-using-namespace)

std::uint16_t Ipv4HeaderChecksum(std::span<const std::uint8_t> hdr) {
  return HeaderChecksum(hdr.data(), hdr.size());
}

std::array<std::uint8_t, kIvBytes> IvForSeq(std::uint64_t seq) {
  std::array<std::uint8_t, kIvBytes> iv;
  StoreBe64(iv.data(), seq);
  return iv;
}

TxPlan PlanTx(const abi::SaEntry& sa) {
  TxPlan p;
  PlanTx(sa, p);
  return p;
}

void PlanTx(const abi::SaEntry& sa, TxPlan& p) {
  p = TxPlan{};
  const std::uint32_t ctl = sa.ctl.get();
  const std::uint32_t outer = sa.outer.get();
  p.spi = sa.spi.get();
  p.tunnel = abi::sa_ctl::Mode::Get(ctl) == static_cast<std::uint32_t>(abi::Mode::kTunnel);
  p.outer_v6 = abi::sa_ctl::OuterV6::Get(ctl) != 0;
  p.esn = abi::sa_ctl::Esn::Get(ctl) != 0;
  if (abi::sa_ctl::DscpMode::Get(ctl) == static_cast<std::uint32_t>(abi::DscpMode::kSet)) {
    p.tos_keep = kEcnMask;
    p.tos_set = static_cast<std::uint8_t>(abi::sa_outer::Dscp::Get(outer) << 2);
  }
  // DF: kSet and kClear force it; kCopy (and anything else) takes the inner
  // IPv4 DF (an inner IPv6 packet counts as DF, see Inner).
  switch (static_cast<abi::DfMode>(abi::sa_ctl::DfMode::Get(ctl))) {
    case abi::DfMode::kSet:
      p.df_force = kIpv4Df;
      break;
    case abi::DfMode::kClear:
      break;
    default:
      p.df_copy = kIpv4Df;
      break;
  }
  const bool udp = abi::sa_ctl::UdpEncap::Get(ctl) != 0;
  p.udp_len = udp ? kUdpHeaderBytes : 0;
  p.carrier = udp ? kProtoUdp : kProtoEsp;
  const std::uint32_t ttl_field = abi::sa_outer::Ttl::Get(outer);
  const std::uint8_t ttl = ttl_field != 0 ? static_cast<std::uint8_t>(ttl_field) : kDefaultTtl;
  std::uint8_t* h = p.head.data();
  if (p.tunnel && p.outer_v6) {
    p.hdr_len = kIpv6HeaderBytes;
    h[0] = 0x60;  // traffic class and flow label (0) are per packet
    h[6] = p.carrier;
    h[7] = ttl;
    std::memcpy(h + 8, sa.src.data(), 16);
    std::memcpy(h + 24, sa.dst.data(), 16);
  } else if (p.tunnel) {
    p.hdr_len = kIpv4HeaderBytes;
    h[0] = 0x45;
    h[8] = ttl;
    h[9] = p.carrier;
    std::memcpy(h + 12, sa.src.data(), 4);
    std::memcpy(h + 16, sa.dst.data(), 4);
    // The sum of the template's 32-bit words, from the values just stored
    // rather than re-read from the bytes (loads spanning several fresh byte
    // stores cannot be forwarded and stall): word 0 version/IHL, word 2
    // TTL/protocol, words 3 and 4 the addresses; the rest are zero.
    p.head_sum = std::uint64_t{0x45u << 24} + (std::uint32_t{ttl} << 24) +
                 (std::uint32_t{p.carrier} << 16) + LoadBe32(sa.src.data()) +
                 LoadBe32(sa.dst.data());
  }
  p.grow_head = static_cast<std::uint8_t>(p.hdr_len + p.udp_len + kEspIvHeaderBytes);
  if (udp) {
    // RFC 3948 §2.1: ports from the SA.
    StoreBe16(h + p.hdr_len, sa.udp_sport.get());
    StoreBe16(h + p.hdr_len + 2, sa.udp_dport.get());
  }
}

TxResult Encapsulate(const abi::SaEntry& sa, Aead& aead, std::uint64_t seq, Frame& f,
                     const std::array<std::uint8_t, kIvBytes>* iv_override) {
  return Encapsulate(PlanTx(sa), aead, seq, f, iv_override);
}

TxResult Encapsulate(const TxPlan& sa, Aead& aead, std::uint64_t seq, Frame& f,
                     const std::array<std::uint8_t, kIvBytes>* iv_override) {
  return EncapsulateFast(sa, aead, seq, f, iv_override);
}

RxParse ParseInbound(std::span<const std::uint8_t> pkt) {
  RxParse p;
  if (!ParseInboundCommon(pkt, p)) p = ParseInboundGeneral(pkt);
  return p;
}

RxParse detail::ParseInboundGeneral(std::span<const std::uint8_t> pkt) {
  RxParse p;
  // The fixed IP header is taken as one length-checked view and its fields
  // read at constant offsets inside it (one bound check instead of one per
  // field); everything variable goes through ByteReader.
  ByteReader r(pkt);
  std::span<const std::uint8_t> h;
  std::uint8_t proto = 0;
  std::size_t total = 0;
  bool csum_ok = true;
  const unsigned version = pkt.empty() ? 0u : pkt[0] >> 4;
  if (version == 4) {
    if (!r.Bytes(kIpv4HeaderBytes, h)) [[unlikely]]
      return p;
    // The fixed header as five big-endian words: the fields are cut out of
    // them and, without options, the checksum is their sum.
    const std::uint32_t w0 = LoadBe32(&h[0]), w1 = LoadBe32(&h[4]), w2 = LoadBe32(&h[8]);
    const std::uint32_t w3 = LoadBe32(&h[12]), w4 = LoadBe32(&h[16]);
    const std::uint32_t tot = w0 & 0xFFFF;
    proto = static_cast<std::uint8_t>(w2 >> 16);
    StoreBe32(p.src.data(), w3);
    StoreBe32(p.dst.data(), w4);
    p.outer_tos = static_cast<std::uint8_t>(w0 >> 16);
    p.l3_len = (w0 >> 22) & 0x3C;  // IHL * 4
    p.nh_off = 9;
    if (p.l3_len < kIpv4HeaderBytes || tot < p.l3_len || tot > pkt.size()) {
      if (proto == kProtoEsp) p.cls = RxClass::kMalformed;
      return p;
    }
    // Fragments go to the host: the engine does not reassemble.
    if ((w1 & (kIpv4Mf | kIpv4FragOffsetMask)) != 0) [[unlikely]]
      return p;
    const std::uint64_t sum = p.l3_len == kIpv4HeaderBytes ? std::uint64_t{w0} + w1 + w2 + w3 + w4
                                                           : SumWords(pkt.first(p.l3_len), 0);
    csum_ok = HeaderSumOk(sum);
    total = tot;
  } else if (version == 6) {
    if (!r.Bytes(kIpv6HeaderBytes, h)) [[unlikely]]
      return p;
    const std::uint16_t plen = LoadBe16(&h[4]);
    proto = h[6];
    std::memcpy(p.src.data(), &h[8], 16);
    std::memcpy(p.dst.data(), &h[24], 16);
    p.v6 = true;
    p.outer_tos = static_cast<std::uint8_t>(((h[0] & 0x0F) << 4) | (h[1] >> 4));
    p.nh_off = 6;
    total = kIpv6HeaderBytes + plen;
    if (plen == 0 || total > pkt.size()) {  // jumbograms are not ours either
      if (proto == kProtoEsp && plen != 0) p.cls = RxClass::kMalformed;
      return p;
    }
    ByteReader ext(pkt.subspan(kIpv6HeaderBytes, plen));
    std::size_t off = kIpv6HeaderBytes;
    for (std::size_t n = 0; proto == 0 || proto == 43 || proto == 60; ++n) {
      std::uint8_t next = 0, len8 = 0;
      if (n == kMaxIpv6ExtHeaders || !ext.U8(next) || !ext.U8(len8)) [[unlikely]]
        return p;
      const std::size_t hdr_bytes = (std::size_t{len8} + 1) * 8;
      if (!ext.Skip(hdr_bytes - 2)) [[unlikely]]
        return p;
      p.nh_off = off;
      off += hdr_bytes;
      proto = next;
    }
    p.l3_len = off;  // a fragment header (44) ends the walk: bypass below
  } else {
    return p;
  }

  std::span<const std::uint8_t> esp;
  ByteReader body(pkt.subspan(p.l3_len, total - p.l3_len));
  if (proto == kProtoEsp) {
    p.esp_off = p.l3_len;
    esp = body.rest();
  } else if (proto == kProtoUdp) {
    std::span<const std::uint8_t> u;
    if (!body.Bytes(kUdpHeaderBytes, u) || LoadBe16(&u[2]) != kNatTPort) return p;
    p.sport = LoadBe16(&u[0]);
    p.dport = kNatTPort;
    p.udp = true;
    // RFC 3948 §2.1: the UDP checksum is not checked. The UDP length bounds
    // the ESP packet.
    const std::uint16_t ulen = LoadBe16(&u[4]);
    if (ulen < kUdpHeaderBytes || !body.Bytes(ulen - kUdpHeaderBytes, esp)) {
      p.cls = RxClass::kMalformed;
      return p;
    }
    // RFC 3948 §2.2 NAT keepalive (one 0xFF byte) and §2.2 non-ESP marker
    // (four zero bytes, then IKE): the host's IKE daemon handles both.
    if ((esp.size() == 1 && esp[0] == 0xFF) ||
        (esp.size() >= 4 && esp[0] == 0 && esp[1] == 0 && esp[2] == 0 && esp[3] == 0)) {
      p.cls = RxClass::kIke;
      return p;
    }
    p.esp_off = p.l3_len + kUdpHeaderBytes;
  } else {
    return p;
  }

  if (esp.size() >= kEspMinBytes && csum_ok) [[likely]] {
    p.spi = LoadBe32(esp.data());
    p.seq_low = LoadBe32(esp.data() + 4);
    p.esp_len = esp.size();
    p.cls = RxClass::kEsp;
    return p;
  }
  // Malformed: SPI and sequence number as far as present (an exception
  // reports them).
  if (esp.size() >= 4) p.spi = LoadBe32(esp.data());
  if (esp.size() >= kEspHeaderBytes) p.seq_low = LoadBe32(esp.data() + 4);
  p.cls = RxClass::kMalformed;
  return p;
}

RxResult Decapsulate(const abi::SaEntry& sa, Aead& aead, const RxParse& p, std::uint64_t seq,
                     Frame& f) {
  return Decapsulate(sa.ctl.get(), aead, p, seq, f);
}

RxResult Decapsulate(std::uint32_t ctl, Aead& aead, const RxParse& p, std::uint64_t seq, Frame& f) {
  INLINESEC_CHECK(p.cls == RxClass::kEsp && p.esp_len >= kEspMinBytes);
  INLINESEC_CHECK(f.off <= f.buf.size() && p.esp_off + p.esp_len <= f.buf.size() - f.off);
  // Aead::Open's size limit (never reached by a parsed packet, whose IP
  // length bounds it to 65535 bytes).
  if (p.esp_len - kEspIvHeaderBytes - kIcvBytes > INT_MAX) {
    RxResult res;
    res.reason = abi::ExqReason::kIcvFail;
    return res;
  }
  return DecapsulateFast(ctl, aead, p, seq, f);
}

}  // namespace inlinesec::model::esp
