// Internal to the engine model (hw_models/esp and hw_models/src only; not
// installed): the per-packet fast paths of esp.cc and aead.cc as inline
// functions, so that Engine::Receive and Engine::Transmit
// (hw_models/src/datapath.cc) inline them without link-time optimisation.
// esp.cc's ParseInbound, Decapsulate and Encapsulate and aead.cc's
// Aead::Open and Aead::Seal are these same bodies, so there is one
// implementation of each. Cold paths (the general inbound parser, the
// out-of-line helpers) stay in the .cc files.
#pragma once

#include <openssl/core_names.h>
#include <openssl/params.h>

#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "cipher.h"
#include "inlinesec/common/byte_reader.h"
#include "inlinesec/model/esp/aead.h"
#include "inlinesec/model/esp/esp.h"

namespace inlinesec::model::esp {

struct Aead::State {
  std::shared_ptr<const Cipher> cipher;
  void* ctx = nullptr;  // the provider's cipher context
  abi::Algo algo = abi::Algo::kNone;
  // Nonce buffer: bytes 0..3 hold the salt for the SA's lifetime, bytes 4..11
  // are overwritten with each packet's explicit IV.
  std::array<std::uint8_t, kSaltBytes + kIvBytes> nonce{};

  ~State();
};

// Aead's per-packet calls with the context in reach (Aead's friend).
struct AeadFast {
  // Aead::Seal without its size checks: the caller guarantees aad and data
  // are at most INT_MAX bytes (and, with kNonEmpty, data is not empty).
  // Nonce, AAD, payload, final, tag: the provider calls EVP_CipherInit_ex2,
  // EVP_CipherUpdate (twice), EVP_CipherFinal_ex and EVP_CTRL_AEAD_GET_TAG
  // would make, in that order.
  template <bool kNonEmpty = false>
  [[gnu::always_inline]] static bool Seal(Aead& a, const std::uint8_t* iv,
                                          std::span<const std::uint8_t> aad,
                                          std::span<std::uint8_t> data, std::uint8_t* tag) {
    Aead::State* s = Start(a, iv, 1);
    if (s == nullptr || !Feed<kNonEmpty>(*s, aad, data)) [[unlikely]]
      return false;
    if (!Final(*s)) [[unlikely]]
      return false;
    OSSL_PARAM p[2] = {OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kIcvBytes),
                       OSSL_PARAM_END};
    return s->cipher->get_ctx_params(s->ctx, p) == 1;
  }

  // Aead::Open without its size checks: the caller guarantees aad and data
  // are at most INT_MAX bytes (and, with kNonEmpty, data is not empty).
  // Nonce, expected tag, AAD, payload, final (which checks the tag).
  template <bool kNonEmpty = false>
  [[gnu::always_inline]] static bool Open(Aead& a, const std::uint8_t* iv,
                                          std::span<const std::uint8_t> aad,
                                          std::span<std::uint8_t> data, const std::uint8_t* tag) {
    Aead::State* s = Start(a, iv, 0);
    if (s == nullptr) [[unlikely]]
      return false;
    // The parameter's data pointer is not const, but setting a tag only
    // reads it.
    OSSL_PARAM p[2] = {OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                               const_cast<std::uint8_t*>(tag), kIcvBytes),
                       OSSL_PARAM_END};
    if (s->cipher->set_ctx_params(s->ctx, p) != 1) [[unlikely]]
      return false;
    if (!Feed<kNonEmpty>(*s, aad, data)) [[unlikely]]
      return false;
    return Final(*s);
  }

 private:
  // Sets the packet's nonce (salt || iv) and the direction (enc 1: seal) on
  // a's context: a's state, or nullptr if a is empty or the provider refused.
  [[gnu::always_inline]] static Aead::State* Start(Aead& a, const std::uint8_t* iv, int enc) {
    Aead::State* s = a.s_.get();
    if (s == nullptr) [[unlikely]]
      return nullptr;
    std::memcpy(s->nonce.data() + kSaltBytes, iv, kIvBytes);
    const Cipher& c = *s->cipher;
    const int ok = enc != 0
                       ? c.einit(s->ctx, nullptr, 0, s->nonce.data(), s->nonce.size(), nullptr)
                       : c.dinit(s->ctx, nullptr, 0, s->nonce.data(), s->nonce.size(), nullptr);
    return ok == 1 ? s : nullptr;
  }
  // The AAD, then the payload in place. The output size given is the input
  // size: both AEADs are stream modes (EVP passes the same for them).
  template <bool kNonEmpty>
  [[gnu::always_inline]] static bool Feed(Aead::State& s, std::span<const std::uint8_t> aad,
                                          std::span<std::uint8_t> data) {
    std::size_t n = 0;
    if (s.cipher->update(s.ctx, nullptr, &n, aad.size(), aad.data(), aad.size()) != 1) [[unlikely]]
      return false;
    return (!kNonEmpty && data.empty()) ||
           s.cipher->update(s.ctx, data.data(), &n, data.size(), data.data(), data.size()) == 1;
  }
  // Finishes the message: computes the tag (seal) or checks it (open). No
  // output (output size 0, as EVP_CipherFinal_ex gives a stream cipher).
  [[gnu::always_inline]] static bool Final(Aead::State& s) {
    std::size_t n = 0;
    std::uint8_t none[16];
    return s.cipher->final(s.ctx, none, &n, 0) == 1;
  }
};

namespace detail {

inline constexpr std::size_t kIpv4HeaderBytes = 20;
inline constexpr std::size_t kIpv6HeaderBytes = 40;
inline constexpr std::size_t kUdpHeaderBytes = 8;
inline constexpr std::size_t kEspIvHeaderBytes = kEspHeaderBytes + kIvBytes;  // 16
// ESP header, IV, pad length, next header and ICV: the smallest ESP packet.
inline constexpr std::size_t kEspMinBytes = kEspIvHeaderBytes + 2 + kIcvBytes;
inline constexpr std::size_t kMaxIpv6ExtHeaders = 8;
inline constexpr std::uint8_t kEcnMask = 0x03;
inline constexpr std::uint8_t kEcnEct1 = 0x01;
inline constexpr std::uint8_t kEcnEct0 = 0x02;
inline constexpr std::uint8_t kEcnCe = 0x03;
inline constexpr std::uint16_t kIpv4Df = 0x4000;
inline constexpr std::uint16_t kIpv4Mf = 0x2000;
inline constexpr std::uint16_t kIpv4FragOffsetMask = 0x1FFF;

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

// Inlined into both callers: it runs once per packet in each direction.
[[gnu::always_inline]] inline bool ParseInner(std::span<const std::uint8_t> pkt, Inner& in) {
  // One length-checked view of the fixed header, fields at constant offsets.
  ByteReader r(pkt);
  std::span<const std::uint8_t> h;
  const unsigned version = pkt.empty() ? 0u : pkt[0] >> 4;
  if (version == 4) {
    if (!r.Bytes(kIpv4HeaderBytes, h)) [[unlikely]]
      return false;
    const std::uint32_t total = LoadBe16(&h[2]);
    const std::uint16_t frag = LoadBe16(&h[6]);
    const std::uint32_t l3 = (h[0] & 0x0Fu) * 4;
    if (l3 < kIpv4HeaderBytes || total < l3 || total > pkt.size()) [[unlikely]]
      return false;
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
    if (!r.Bytes(kIpv6HeaderBytes, h)) [[unlikely]]
      return false;
    const std::uint32_t total = kIpv6HeaderBytes + LoadBe16(&h[4]);
    if (total > pkt.size()) [[unlikely]]
      return false;
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

inline std::uint64_t SumWords(std::span<const std::uint8_t> b, std::uint64_t sum) {
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
inline std::uint16_t Fold(std::uint64_t sum) {
  sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// Whether a received IPv4 header whose 32-bit words sum to `sum` has a good
// checksum: Fold(sum) == 0 without folding. The folded one's-complement sum
// is congruent to sum mod 0xFFFF (2^16 = 1 there), lies in [1, 0xFFFF] for
// sum != 0, and the check wants exactly 0xFFFF. sum % 0xFFFF == 0 is tested
// as one multiplication (for an odd divisor d, x * d^-1 mod 2^64 is at most
// (2^64 - 1) / d exactly for the multiples of d): GCC emitted a 64-bit div
// for the % in Receive, and a div costs tens of cycles.
[[gnu::always_inline]] inline bool HeaderSumOk(std::uint64_t sum) {
  constexpr std::uint64_t kInverse = 0xFFFEFFFEFFFEFFFFull;  // 0xFFFF^-1 mod 2^64
  constexpr std::uint64_t kLimit = ~std::uint64_t{0} / 0xFFFF;
  static_assert(std::uint64_t{0xFFFF} * kInverse == 1);
  return sum != 0 && sum * kInverse <= kLimit;
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

inline void SetIpv4Checksum(std::uint8_t* hdr, std::size_t l3) {
  hdr[10] = 0;
  hdr[11] = 0;
  StoreBe16(hdr + 10, HeaderChecksum(hdr, l3));
}

// RFC 8200 §8.1 UDP checksum over an IPv6 pseudo header (a zero result is
// sent as 0xFFFF).
inline void SetUdp6Checksum(const std::uint8_t* ip6, std::uint8_t* udp, std::size_t udp_len) {
  udp[6] = 0;
  udp[7] = 0;
  std::uint64_t sum = SumWords({ip6 + 8, 32}, 0);
  sum += udp_len;
  sum += kProtoUdp;
  std::uint16_t c = Fold(SumWords({udp, udp_len}, sum));
  StoreBe16(udp + 6, c == 0 ? 0xFFFF : c);
}

inline std::size_t BuildAad(std::uint32_t spi, std::uint64_t seq, bool esn,
                            std::uint8_t (&aad)[12]) {
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
inline std::uint8_t DecapEcn(std::uint8_t outer, std::uint8_t inner) {
  if (outer == kEcnCe && inner != 0) return kEcnCe;
  if (outer == kEcnEct1 && inner == kEcnEct0) return kEcnEct1;
  return inner;
}

// ParseInbound (esp.h has the contract) for every outer header form: IPv4
// with options, fragments, IPv6 with extension headers, UDP encapsulation,
// malformed packets. Out of line (esp.cc); ParseInbound and Receive call
// it for what ParseInboundCommon below does not cover.
RxParse ParseInboundGeneral(std::span<const std::uint8_t> pkt);

// ParseInbound's common case, inlined into Engine::Receive: IPv4 without
// options, not a fragment, protocol ESP, a good header checksum and at least
// the smallest ESP packet inside the IP length, decided from the five header
// words alone. Fills a default-constructed `p` and returns true, or returns
// false (p untouched) for everything else. For the packets it accepts,
// ParseInboundGeneral gives the same result (the unit tests compare both).
// l3_len, nh_off and esp_off are constants here, so a caller that inlines
// this sees them as such.
[[gnu::always_inline]] inline bool ParseInboundCommon(std::span<const std::uint8_t> pkt,
                                                      RxParse& p) {
  constexpr std::uint32_t kMinTotal = kIpv4HeaderBytes + kEspMinBytes;
  if (pkt.size() >= kMinTotal) [[likely]] {
    const std::uint8_t* h = pkt.data();
    const std::uint32_t w0 = LoadBe32(h), w1 = LoadBe32(h + 4), w2 = LoadBe32(h + 8);
    const std::uint32_t w3 = LoadBe32(h + 12), w4 = LoadBe32(h + 16);
    const std::uint32_t total = w0 & 0xFFFF;
    const std::uint64_t sum = std::uint64_t{w0} + w1 + w2 + w3 + w4;
    // Version 4 and IHL 5 in one byte; MF clear and offset 0; protocol ESP.
    if ((w0 >> 24) == 0x45 && (w1 & (kIpv4Mf | kIpv4FragOffsetMask)) == 0 &&
        ((w2 >> 16) & 0xFF) == kProtoEsp && total >= kMinTotal && total <= pkt.size() &&
        HeaderSumOk(sum)) [[likely]] {
      p.cls = RxClass::kEsp;
      p.outer_tos = static_cast<std::uint8_t>(w0 >> 16);
      p.spi = LoadBe32(h + kIpv4HeaderBytes);
      p.seq_low = LoadBe32(h + kIpv4HeaderBytes + 4);
      p.l3_len = kIpv4HeaderBytes;
      p.nh_off = 9;
      p.esp_off = kIpv4HeaderBytes;
      p.esp_len = total - kIpv4HeaderBytes;
      StoreBe32(p.src.data(), w3);
      StoreBe32(p.dst.data(), w4);
      return true;
    }
  }
  return false;
}

// Decapsulate's body (esp.h has the contract), inlined into Engine::Receive.
// Preconditions (checked by the out-of-line Decapsulate; Receive has them
// from its frame check and ParseInbound): p.cls == kEsp, p.esp_len >=
// kEspMinBytes, f.off <= f.buf.size() and p.esp_off + p.esp_len <= f.len.
[[gnu::always_inline]] inline RxResult DecapsulateFast(std::uint32_t ctl, Aead& aead,
                                                       const RxParse& p, std::uint64_t seq,
                                                       Frame& f) {
  RxResult res;
  res.reason = abi::ExqReason::kMalformed;
  std::uint8_t* base = f.buf.data() + f.off;
  std::uint8_t* esp = base + p.esp_off;
  std::uint8_t* ct = esp + kEspIvHeaderBytes;
  const std::size_t ct_len = p.esp_len - kEspIvHeaderBytes - kIcvBytes;
  // AAD (RFC 4106 §5): without ESN it is the ESP header as received (seq's
  // low 32 bits are the packet's); with ESN the high half goes in between.
  std::uint8_t aad_esn[12];
  std::span<const std::uint8_t> aad(esp, kEspHeaderBytes);
  if (abi::sa_ctl::Esn::Get(ctl) != 0) aad = {aad_esn, BuildAad(p.spi, seq, true, aad_esn)};
  // ct_len < 65536 (the packet's IP length bounds it): no size check needed.
  // ct_len >= 2 (pad length and next header): the payload is never empty.
  if (!AeadFast::Open<true>(aead, esp + kEspHeaderBytes, aad, {ct, ct_len}, ct + ct_len))
      [[unlikely]] {
    res.reason = abi::ExqReason::kIcvFail;
    return res;
  }
  res.icv_ok = true;
  // RFC 4303 §2.4: the ciphertext ends on a 4-byte boundary, pad bytes are
  // 1, 2, 3, ... and the pad length leaves room for the payload.
  if (ct_len % 4 != 0) [[unlikely]]
    return res;
  const std::size_t pad = ct[ct_len - 2];
  const std::uint8_t nh = ct[ct_len - 1];
  if (pad + 2 > ct_len) [[unlikely]]
    return res;
  const std::size_t payload_len = ct_len - 2 - pad;
  if (pad <= 3) {
    // Up to three pad bytes (the common case) as one big-endian word against
    // 01 02 03: the 4-byte load stays inside the packet (pad length, next
    // header and the 16-byte ICV follow the padding). The mask keeps the
    // first `pad` bytes of the word: 0, FF000000, FFFF0000, FFFFFF00.
    const auto mask = static_cast<std::uint32_t>(0xFFFFFFFF00000000ull >> (8 * pad));
    if (((LoadBe32(ct + payload_len) ^ 0x01020300u) & mask) != 0) [[unlikely]]
      return res;
  } else {
    for (std::size_t i = 0; i < pad; ++i)
      if (ct[payload_len + i] != static_cast<std::uint8_t>(i + 1)) [[unlikely]]
        return res;
  }
  res.next_header = nh;

  const bool tunnel = abi::sa_ctl::Mode::Get(ctl) == static_cast<std::uint32_t>(abi::Mode::kTunnel);
  if (tunnel) {
    std::span<const std::uint8_t> payload(ct, payload_len);
    Inner in;
    if (!ParseInner(payload, in)) [[unlikely]]
      return res;
    if ((nh == kProtoIpv4 && in.v6) || (nh == kProtoIpv6 && !in.v6) ||
        (nh != kProtoIpv4 && nh != kProtoIpv6)) [[unlikely]]
      return res;
    // The outer ECN field read again from the outer header (decryption left
    // it as received): p.outer_tos need not stay live across the AEAD calls.
    const std::uint8_t outer_ecn = p.v6 ? (base[1] >> 4) & kEcnMask : base[1] & kEcnMask;
    const std::uint8_t ecn = DecapEcn(outer_ecn, in.tos & kEcnMask);
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
    if (nh == kProtoNoNext) [[unlikely]]
      return res;
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

// RFC 4303 §2.4 padding bytes 1, 2, 3 (and a zero to make a word).
inline constexpr std::uint8_t kPadBytes[4] = {1, 2, 3, 0};

inline bool IsIpv6ExtHeader(std::uint8_t nh) {
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

// Encapsulate's body (esp.h has the contract), inlined into Engine::Transmit.
[[gnu::always_inline]] inline TxResult EncapsulateFast(
    const TxPlan& sa, Aead& aead, std::uint64_t seq, Frame& f,
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
  // ct_len < 65536 (checked above) and ct_len >= 2: no size checks needed.
  const bool sealed =
      AeadFast::Seal<true>(aead, esp + kEspHeaderBytes, aad, {ct, ct_len}, ct + ct_len);
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

}  // namespace detail

}  // namespace inlinesec::model::esp
