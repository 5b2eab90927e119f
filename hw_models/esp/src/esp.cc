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

namespace {

// RFC 4303 §2.4 padding bytes 1, 2, 3 (and a zero to make a word).
constexpr std::uint8_t kPadBytes[4] = {1, 2, 3, 0};

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

RxParse ParseInbound(std::span<const std::uint8_t> pkt) { return ParseInboundFast(pkt); }

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
