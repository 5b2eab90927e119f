// ESP encapsulation/decapsulation of the engine model (see esp.h for the
// contract and docs/esp_datapath.md for every header field). Outbound bytes
// come from the host and inbound bytes from the wire; both are parsed through
// ByteReader and never read past the frame. Packets are rewritten in place:
// headers grow into the frame's headroom, trailers into its tailroom, and the
// AEAD runs over the payload where it lies, so nothing is copied or
// allocated per packet beyond moving a transport-mode IP header.
#include "inlinesec/model/esp/esp.h"

#include <cstring>

#include "inlinesec/common/byte_reader.h"
#include "inlinesec/common/check.h"

namespace inlinesec::model::esp {

namespace {

constexpr std::size_t kIpv4HeaderBytes = 20;
constexpr std::size_t kIpv6HeaderBytes = 40;
constexpr std::size_t kUdpHeaderBytes = 8;
constexpr std::size_t kEspIvHeaderBytes = kEspHeaderBytes + kIvBytes;  // 16
// ESP header, IV, pad length, next header and ICV: the smallest ESP packet.
constexpr std::size_t kEspMinBytes = kEspIvHeaderBytes + 2 + kIcvBytes;
constexpr std::size_t kMaxIpv6ExtHeaders = 8;
constexpr std::uint8_t kEcnMask = 0x03;
constexpr std::uint8_t kEcnEct1 = 0x01;
constexpr std::uint8_t kEcnEct0 = 0x02;
constexpr std::uint8_t kEcnCe = 0x03;
constexpr std::uint16_t kIpv4Df = 0x4000;
constexpr std::uint16_t kIpv4Mf = 0x2000;
constexpr std::uint16_t kIpv4FragOffsetMask = 0x1FFF;
// RFC 4303 §2.4 padding bytes 1, 2, 3 (and a zero to make a word).
constexpr std::uint8_t kPadBytes[4] = {1, 2, 3, 0};

// The IP packet handed to Encapsulate, as far as ESP needs it.
struct Inner {
  bool v6 = false;
  std::uint32_t total = 0;  // IP total length (bytes past it are ignored)
  std::uint32_t l3 = 0;     // IP header bytes (IPv4 with options, IPv6 fixed 40)
  std::uint8_t tos = 0;     // IPv4 TOS / IPv6 traffic class
  bool df = false;
  bool fragment = false;
  std::uint8_t proto = 0;  // IPv4 protocol / IPv6 next header
};

bool IsIpv6ExtHeader(std::uint8_t nh) {
  switch (nh) {
    case 0:    // hop-by-hop options
    case 43:   // routing
    case 44:   // fragment
    case 50:   // ESP
    case 51:   // AH
    case 60:   // destination options
    case 135:  // mobility
    case 139:  // HIP
    case 140:  // shim6
    case 253:  // experimental
    case 254:  // experimental
      return true;
    default:
      return false;
  }
}

// Inlined into both callers: it runs once per packet in each direction.
[[gnu::always_inline]] inline bool ParseInner(std::span<const std::uint8_t> pkt, Inner& in) {
  // One length-checked view of the fixed header, fields at constant offsets.
  ByteReader r(pkt);
  std::span<const std::uint8_t> h;
  const unsigned version = pkt.empty() ? 0u : pkt[0] >> 4;
  if (version == 4) {
    if (!r.Bytes(kIpv4HeaderBytes, h)) return false;
    const std::uint32_t total = LoadBe16(&h[2]);
    const std::uint16_t frag = LoadBe16(&h[6]);
    const std::uint32_t l3 = (h[0] & 0x0Fu) * 4;
    if (l3 < kIpv4HeaderBytes || total < l3 || total > pkt.size()) return false;
    in = Inner{false,
               total,
               l3,
               h[1],
               (frag & kIpv4Df) != 0,
               (frag & (kIpv4Mf | kIpv4FragOffsetMask)) != 0,
               h[9]};
    return true;
  }
  if (version == 6) {
    if (!r.Bytes(kIpv6HeaderBytes, h)) return false;
    const std::uint32_t total = kIpv6HeaderBytes + LoadBe16(&h[4]);
    if (total > pkt.size()) return false;
    in = Inner{true,
               total,
               kIpv6HeaderBytes,
               static_cast<std::uint8_t>(((h[0] & 0x0F) << 4) | (h[1] >> 4)),
               true,  // IPv6 is never fragmented on path (RFC 8200 §5)
               false,
               h[6]};
    return true;
  }
  return false;
}

std::uint64_t SumWords(std::span<const std::uint8_t> b, std::uint64_t sum) {
  std::size_t i = 0;
  for (; i + 4 <= b.size(); i += 4) sum += LoadBe32(b.data() + i);
  if (i + 2 <= b.size()) {
    sum += std::uint64_t{LoadBe16(b.data() + i)} << 16;
    i += 2;
  }
  if (i < b.size()) sum += std::uint64_t{b[i]} << (i % 4 == 0 ? 24 : 8);
  return sum;
}

// One's-complement fold of a sum of 16/32-bit words to 16 bits, inverted.
// Four fixed steps, no loop: after the first the value is below 2^33, after
// the second below 2^18, after the third at most 0x10001, then at most 0xFFFF.
std::uint16_t Fold(std::uint64_t sum) {
  sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// RFC 791 header checksum over `l3` bytes (0 when a received header with its
// checksum is correct). Inlined: the option-less header is five loads.
[[gnu::always_inline]] inline std::uint16_t HeaderChecksum(const std::uint8_t* h, std::size_t l3) {
  if (l3 == kIpv4HeaderBytes) {
    // Five 32-bit words, no loop; folding their sum needs at most three rounds.
    const std::uint64_t sum = std::uint64_t{LoadBe32(h)} + LoadBe32(h + 4) + LoadBe32(h + 8) +
                              LoadBe32(h + 12) + LoadBe32(h + 16);
    return Fold(sum);
  }
  return Fold(SumWords({h, l3}, 0));
}

void SetIpv4Checksum(std::uint8_t* hdr, std::size_t l3) {
  hdr[10] = 0;
  hdr[11] = 0;
  StoreBe16(hdr + 10, HeaderChecksum(hdr, l3));
}

// RFC 8200 §8.1 UDP checksum over an IPv6 pseudo header (a zero result is
// sent as 0xFFFF).
void SetUdp6Checksum(const std::uint8_t* ip6, std::uint8_t* udp, std::size_t udp_len) {
  udp[6] = 0;
  udp[7] = 0;
  std::uint64_t sum = SumWords({ip6 + 8, 32}, 0);
  sum += udp_len;
  sum += kProtoUdp;
  std::uint16_t c = Fold(SumWords({udp, udp_len}, sum));
  StoreBe16(udp + 6, c == 0 ? 0xFFFF : c);
}

std::size_t BuildAad(std::uint32_t spi, std::uint64_t seq, bool esn, std::uint8_t (&aad)[12]) {
  StoreBe32(aad, spi);
  if (esn) {
    StoreBe32(aad + 4, static_cast<std::uint32_t>(seq >> 32));
    StoreBe32(aad + 8, static_cast<std::uint32_t>(seq));
    return 12;
  }
  StoreBe32(aad + 4, static_cast<std::uint32_t>(seq));
  return 8;
}

// RFC 6040 §4.2 decapsulation, for the combinations that change the inner
// field: outer CE marks an ECN-capable inner packet CE, outer ECT(1) turns
// inner ECT(0) into ECT(1). A not-ECT inner packet under a CE outer header is
// delivered unchanged (RFC 6040 would drop it; the model leaves that policy
// to the host).
std::uint8_t DecapEcn(std::uint8_t outer, std::uint8_t inner) {
  if (outer == kEcnCe && inner != 0) return kEcnCe;
  if (outer == kEcnEct1 && inner == kEcnEct0) return kEcnEct1;
  return inner;
}

}  // namespace

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
    p.head_sum = SumWords({h, kIpv4HeaderBytes}, 0);
  }
  p.grow_head = static_cast<std::uint8_t>(p.hdr_len + p.udp_len + kEspIvHeaderBytes);
  if (udp) {
    // RFC 3948 §2.1: ports from the SA.
    StoreBe16(h + p.hdr_len, sa.udp_sport.get());
    StoreBe16(h + p.hdr_len + 2, sa.udp_dport.get());
  }
  return p;
}

TxResult Encapsulate(const abi::SaEntry& sa, Aead& aead, std::uint64_t seq, Frame& f,
                     const std::array<std::uint8_t, kIvBytes>* iv_override) {
  return Encapsulate(PlanTx(sa), aead, seq, f, iv_override);
}

TxResult Encapsulate(const TxPlan& sa, Aead& aead, std::uint64_t seq, Frame& f,
                     const std::array<std::uint8_t, kIvBytes>* iv_override) {
  TxResult res;
  res.reason = abi::ExqReason::kMalformed;
  Inner in;
  if (f.off > f.buf.size() || f.len > f.buf.size() - f.off) return res;
  if (!ParseInner(f.bytes(), in)) return res;

  std::size_t hdr_len;      // IP header in front of UDP/ESP in the result
  std::size_t payload_len;  // bytes ESP protects (before padding)
  std::uint8_t next_header;
  if (sa.tunnel) {
    hdr_len = sa.hdr_len;
    payload_len = in.total;
    next_header = in.v6 ? kProtoIpv6 : kProtoIpv4;
  } else {
    // Transport: the packet keeps its header, so it must be of the SA's
    // family, whole (RFC 4303 §3.1.1 applies to unfragmented datagrams), and
    // for IPv6 without extension headers (the model does not walk them). Its
    // protocol must not be 59: ESP next header 59 marks a dummy packet that
    // every receiver discards (RFC 4303 §2.6).
    if (in.v6 != sa.outer_v6 || in.fragment || (in.v6 && IsIpv6ExtHeader(in.proto)) ||
        in.proto == kProtoNoNext)
      return res;
    hdr_len = in.l3;
    payload_len = in.total - in.l3;
    next_header = in.proto;
  }
  // RFC 4303 §2.4: pad so that pad length and next header end on a 4-byte
  // boundary (the AEADs here are stream modes with no block alignment).
  const std::size_t pad = (4 - ((payload_len + 2) & 3)) & 3;
  const std::size_t ct_len = payload_len + pad + 2;
  const std::size_t esp_len = kEspIvHeaderBytes + ct_len + kIcvBytes;
  const std::size_t total = hdr_len + sa.udp_len + esp_len;
  // Tunnel: the outer header, UDP and ESP go in front of the packet;
  // transport: UDP and ESP go between its header and its payload.
  const std::size_t grow_head = sa.grow_head;
  const std::size_t tail_room = f.buf.size() - f.off - in.total;
  if (f.off < grow_head || tail_room < pad + 2 + kIcvBytes) return res;
  if ((sa.outer_v6 ? total - kIpv6HeaderBytes : total) > 0xFFFF) return res;

  std::uint8_t* out = f.buf.data() + (f.off - grow_head);
  if (!sa.tunnel) std::memmove(out, f.buf.data() + f.off, in.l3);
  std::uint8_t* udp = out + hdr_len;
  std::uint8_t* esp = udp + sa.udp_len;
  std::uint8_t* ct = esp + kEspIvHeaderBytes;  // the payload already lies here
  // SPI || low 32 bits of seq, as one big-endian word.
  StoreBe64(esp, (std::uint64_t{sa.spi} << 32) | (seq & 0xFFFFFFFFu));
  if (iv_override != nullptr) {
    std::memcpy(esp + kEspHeaderBytes, iv_override->data(), kIvBytes);
  } else {
    StoreBe64(esp + kEspHeaderBytes, seq);  // IvForSeq(seq)
  }
  // Padding 1, 2, 3 (RFC 4303 §2.4), pad length, next header. The four bytes
  // of kPadBytes always fit (the tailroom holds the ICV after them); bytes
  // past the trailer are overwritten by the ICV.
  std::uint8_t* trailer = ct + payload_len;
  std::memcpy(trailer, kPadBytes, sizeof(kPadBytes));
  trailer[pad] = static_cast<std::uint8_t>(pad);
  trailer[pad + 1] = next_header;

  // AAD (RFC 4106 §5): without ESN it is the ESP header as sent.
  std::uint8_t aad_esn[12];
  std::span<const std::uint8_t> aad(esp, kEspHeaderBytes);
  if (sa.esn) aad = {aad_esn, BuildAad(sa.spi, seq, true, aad_esn)};
  const bool sealed =
      aead.Seal(std::span<const std::uint8_t, kIvBytes>(esp + kEspHeaderBytes, kIvBytes), aad,
                {ct, ct_len}, std::span<std::uint8_t, kIcvBytes>(ct + ct_len, kIcvBytes));
  INLINESEC_CHECK(sealed);  // a keyed context with in-range sizes cannot fail

  if (sa.udp_len != 0) {
    // RFC 3948 §2.1: ports from the SA; checksum zero over IPv4. Over IPv6 a
    // zero UDP checksum is not allowed (RFC 8200 §8.1), so it is computed
    // below once the IPv6 header is final.
    std::memcpy(udp, sa.head.data() + sa.hdr_len, 4);
    StoreBe16(udp + 4, static_cast<std::uint16_t>(kUdpHeaderBytes + esp_len));
    StoreBe16(udp + 6, 0);
  }
  if (sa.tunnel) {
    // DSCP copied or set; RFC 6040 §4.1 normal mode: the ECN field is
    // copied from the inner header.
    const auto tos = static_cast<std::uint8_t>((in.tos & sa.tos_keep) | sa.tos_set);
    if (sa.outer_v6) {
      std::memcpy(out, sa.head.data(), kIpv6HeaderBytes);
      out[0] = static_cast<std::uint8_t>(0x60 | (tos >> 4));
      out[1] = static_cast<std::uint8_t>((tos & 0x0F) << 4);  // flow label 0
      StoreBe16(out + 4, static_cast<std::uint16_t>(total - kIpv6HeaderBytes));
    } else {
      const auto flags = static_cast<std::uint16_t>((in.df ? sa.df_copy : 0) | sa.df_force);
      const auto id = static_cast<std::uint16_t>(seq);  // ID: low 16 bits of seq
      // Version/IHL, TOS, total length, ID and flags as one big-endian
      // word; TTL, protocol and addresses from the template.
      StoreBe64(out, (std::uint64_t{0x45} << 56) | (std::uint64_t{tos} << 48) |
                         (std::uint64_t{total} << 32) | (std::uint64_t{id} << 16) | flags);
      std::memcpy(out + 8, sa.head.data() + 8, kIpv4HeaderBytes - 8);
      // The template's words are pre-summed; add the four written above.
      const std::uint64_t sum =
          sa.head_sum + (std::uint32_t{tos} << 16) + total + (std::uint32_t{id} << 16) + flags;
      StoreBe16(out + 10, Fold(sum));
    }
  } else if (sa.outer_v6) {
    StoreBe16(out + 4, static_cast<std::uint16_t>(total - kIpv6HeaderBytes));
    out[6] = sa.carrier;
  } else {
    StoreBe16(out + 2, static_cast<std::uint16_t>(total));
    out[9] = sa.carrier;
    SetIpv4Checksum(out, hdr_len);
  }
  if (sa.udp_len != 0 && sa.outer_v6) SetUdp6Checksum(out, udp, kUdpHeaderBytes + esp_len);

  f.off -= grow_head;
  f.len = total;
  res.reason = abi::ExqReason::kNone;
  res.inner_len = in.total;
  return res;
}

RxParse ParseInbound(std::span<const std::uint8_t> pkt) {
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
    if (!r.Bytes(kIpv4HeaderBytes, h)) return p;
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
    if ((w1 & (kIpv4Mf | kIpv4FragOffsetMask)) != 0) return p;
    const std::uint64_t sum = p.l3_len == kIpv4HeaderBytes ? std::uint64_t{w0} + w1 + w2 + w3 + w4
                                                           : SumWords(pkt.first(p.l3_len), 0);
    csum_ok = Fold(sum) == 0;
    total = tot;
  } else if (version == 6) {
    if (!r.Bytes(kIpv6HeaderBytes, h)) return p;
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
      if (n == kMaxIpv6ExtHeaders || !ext.U8(next) || !ext.U8(len8)) return p;
      const std::size_t hdr_bytes = (std::size_t{len8} + 1) * 8;
      if (!ext.Skip(hdr_bytes - 2)) return p;
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

  // SPI and sequence number as far as present (an exception reports them).
  if (esp.size() >= 4) p.spi = LoadBe32(esp.data());
  if (esp.size() >= kEspHeaderBytes) p.seq_low = LoadBe32(esp.data() + 4);
  if (esp.size() < kEspMinBytes || !csum_ok) {
    p.cls = RxClass::kMalformed;
    return p;
  }
  p.esp_len = esp.size();
  p.cls = RxClass::kEsp;
  return p;
}

RxResult Decapsulate(const abi::SaEntry& sa, Aead& aead, const RxParse& p, std::uint64_t seq,
                     Frame& f) {
  return Decapsulate(sa.ctl.get(), aead, p, seq, f);
}

RxResult Decapsulate(std::uint32_t ctl, Aead& aead, const RxParse& p, std::uint64_t seq, Frame& f) {
  RxResult res;
  res.reason = abi::ExqReason::kMalformed;
  INLINESEC_CHECK(p.cls == RxClass::kEsp && p.esp_len >= kEspMinBytes);
  INLINESEC_CHECK(f.off <= f.buf.size() && p.esp_off + p.esp_len <= f.buf.size() - f.off);
  std::uint8_t* base = f.buf.data() + f.off;
  std::uint8_t* esp = base + p.esp_off;
  std::uint8_t* ct = esp + kEspIvHeaderBytes;
  const std::size_t ct_len = p.esp_len - kEspIvHeaderBytes - kIcvBytes;
  // AAD (RFC 4106 §5): without ESN it is the ESP header as received (seq's
  // low 32 bits are the packet's); with ESN the high half goes in between.
  std::uint8_t aad_esn[12];
  std::span<const std::uint8_t> aad(esp, kEspHeaderBytes);
  if (abi::sa_ctl::Esn::Get(ctl) != 0) aad = {aad_esn, BuildAad(p.spi, seq, true, aad_esn)};
  if (!aead.Open(std::span<const std::uint8_t, kIvBytes>(esp + kEspHeaderBytes, kIvBytes), aad,
                 {ct, ct_len}, std::span<const std::uint8_t, kIcvBytes>(ct + ct_len, kIcvBytes))) {
    res.reason = abi::ExqReason::kIcvFail;
    return res;
  }
  res.icv_ok = true;
  // RFC 4303 §2.4: the ciphertext ends on a 4-byte boundary, pad bytes are
  // 1, 2, 3, ... and the pad length leaves room for the payload.
  if (ct_len % 4 != 0) return res;
  const std::size_t pad = ct[ct_len - 2];
  const std::uint8_t nh = ct[ct_len - 1];
  if (pad + 2 > ct_len) return res;
  const std::size_t payload_len = ct_len - 2 - pad;
  for (std::size_t i = 0; i < pad; ++i)
    if (ct[payload_len + i] != static_cast<std::uint8_t>(i + 1)) return res;
  res.next_header = nh;

  const bool tunnel = abi::sa_ctl::Mode::Get(ctl) == static_cast<std::uint32_t>(abi::Mode::kTunnel);
  if (tunnel) {
    std::span<const std::uint8_t> payload(ct, payload_len);
    Inner in;
    if (!ParseInner(payload, in)) return res;
    if ((nh == kProtoIpv4 && in.v6) || (nh == kProtoIpv6 && !in.v6) ||
        (nh != kProtoIpv4 && nh != kProtoIpv6))
      return res;
    const std::uint8_t ecn = DecapEcn(p.outer_tos & kEcnMask, in.tos & kEcnMask);
    if (ecn != (in.tos & kEcnMask)) {
      if (in.v6) {
        ct[1] = static_cast<std::uint8_t>((ct[1] & ~0x30) | (ecn << 4));
      } else {
        ct[1] = static_cast<std::uint8_t>((ct[1] & ~kEcnMask) | ecn);
        SetIpv4Checksum(ct, in.l3);
      }
    }
    // Bytes after the inner packet's own length are TFC padding (§2.7).
    f.off += p.esp_off + kEspIvHeaderBytes;
    f.len = in.total;
  } else {
    if (nh == kProtoNoNext) return res;
    const std::size_t start = p.esp_off + kEspIvHeaderBytes - p.l3_len;
    std::memmove(base + start, base, p.l3_len);
    std::uint8_t* hdr = base + start;
    if (p.v6) {
      hdr[p.nh_off] = nh;
      StoreBe16(hdr + 4, static_cast<std::uint16_t>(p.l3_len - kIpv6HeaderBytes + payload_len));
    } else {
      hdr[9] = nh;
      StoreBe16(hdr + 2, static_cast<std::uint16_t>(p.l3_len + payload_len));
      SetIpv4Checksum(hdr, p.l3_len);
    }
    f.off += start;
    f.len = p.l3_len + payload_len;
  }
  res.reason = abi::ExqReason::kNone;
  res.inner_len = f.len;
  return res;
}

}  // namespace inlinesec::model::esp
