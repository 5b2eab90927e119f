// ESP encapsulation and decapsulation over raw packet bytes, as the engine
// model's datapath performs them (docs/esp_datapath.md says what happens to
// every header field). These functions hold no state of their own: the caller
// (Engine::Transmit/Receive) owns the SA entry, its Aead, the outbound
// sequence counter and the inbound ReplayWindow, picks the sequence number,
// and decides what a failure means for counters and the exception ring.
//
// Outbound: Encapsulate() turns an IP packet into an ESP packet in place,
// using the frame's headroom and tailroom: tunnel mode (RFC 4303 §3.1.2, new
// outer IPv4/IPv6 header from the SA) or transport mode (§3.1.1, ESP after the
// IP header), optionally in UDP (RFC 3948). Inbound: ParseInbound() reads the
// outer headers through a ByteReader and classifies the packet; after the SA
// lookup and replay check, Decapsulate() verifies the ICV, decrypts, checks
// padding and next header, and leaves the inner packet in the frame.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "inlinesec/abi/exq.h"
#include "inlinesec/abi/sa_entry.h"
#include "inlinesec/model/engine.h"
#include "inlinesec/model/esp/aead.h"

namespace inlinesec::model::esp {

inline constexpr std::uint8_t kProtoIpv4 = 4;      // IP-in-IP (tunnel, inner IPv4)
inline constexpr std::uint8_t kProtoUdp = 17;      // NAT-T carrier
inline constexpr std::uint8_t kProtoIpv6 = 41;     // tunnel, inner IPv6
inline constexpr std::uint8_t kProtoEsp = 50;      // RFC 4303
inline constexpr std::uint8_t kProtoNoNext = 59;   // RFC 4303 §2.6 dummy packet
inline constexpr std::uint16_t kNatTPort = 4500;   // RFC 3948 §2.2
inline constexpr std::size_t kEspHeaderBytes = 8;  // SPI + sequence number
inline constexpr std::uint8_t kDefaultTtl = 64;    // sa_outer::Ttl == 0

// ---------------------------------------------------------------- outbound

struct TxResult {
  abi::ExqReason reason = abi::ExqReason::kNone;  // kNone or kMalformed
  std::size_t inner_len = 0;  // bytes of the IP packet protected (lifetime bytes)
};

// The explicit IV the model sends for sequence number `seq`: the 64-bit
// sequence number, big-endian (RFC 4106 §3.1 allows a counter; seq never
// repeats under one key, so neither does the nonce).
std::array<std::uint8_t, kIvBytes> IvForSeq(std::uint64_t seq);

// What Encapsulate needs from an outbound SA entry, decoded once when the SA
// is written rather than per packet: the flags of sa_ctl, and a template of
// the headers placed in front of ESP with every field that does not depend on
// the packet already filled in.
struct TxPlan {
  std::uint32_t spi = 0;
  bool tunnel = false;
  bool outer_v6 = false;
  bool esn = false;
  std::uint8_t hdr_len = 0;    // tunnel: outer IP header bytes (20 / 40); transport: 0
  std::uint8_t udp_len = 0;    // 8 with NAT-T, else 0
  std::uint8_t grow_head = 0;  // bytes added in front: hdr_len + udp_len + ESP header + IV
  std::uint8_t carrier = 0;    // kProtoEsp, or kProtoUdp with NAT-T
  // Tunnel outer TOS / traffic class = (inner & tos_keep) | tos_set:
  // DscpMode kCopy keeps all 8 bits; kSet keeps the ECN bits and sets the
  // SA's DSCP.
  std::uint8_t tos_keep = 0xFF;
  std::uint8_t tos_set = 0;
  // IPv4 tunnel flags = (inner DF ? df_copy : 0) | df_force (DfMode kCopy:
  // df_copy = DF; kSet: df_force = DF; kClear: both 0).
  std::uint16_t df_copy = 0;
  std::uint16_t df_force = 0;
  // Tunnel: the outer header at [0, hdr_len) (IPv4: version/IHL, TTL,
  // protocol, addresses; IPv6: version, next header, hop limit, addresses),
  // then (NAT-T) the UDP header's ports at [hdr_len, hdr_len + 8). Transport:
  // the UDP ports at [0, 8). Lengths, TOS, ID, flags and checksums are zero.
  std::array<std::uint8_t, 48> head{};
  // IPv4 tunnel: the one's-complement sum (unfolded) of the template's
  // 16-bit words, so the checksum per packet adds only the variable words.
  std::uint64_t head_sum = 0;
};

// Decodes an outbound entry (validated by the engine) into its TxPlan.
TxPlan PlanTx(const abi::SaEntry& sa);
// The same, written into `out` where it lies (an SaSlot: no copy of a plan
// just built with narrow stores).
void PlanTx(const abi::SaEntry& sa, TxPlan& out);

// Protects the IP packet in `f` with `sa` (an outbound entry) and sequence
// number `seq` (the full 64-bit number; only its low 32 bits are sent).
// On kNone `f` holds the ESP packet; on kMalformed (the packet is not a
// well-formed IPv4/IPv6 packet of the SA's family in transport mode, an IPv4
// fragment, an IPv6 packet with extension headers or a packet of protocol 59
// (which ESP would mark as a dummy packet) in transport mode, the
// frame lacks headroom/tailroom, or the result would exceed 65535 bytes) `f`
// is untouched. `iv_override` exists for known-answer tests whose vectors fix
// the IV; the engine always passes nullptr and uses IvForSeq(seq).
[[nodiscard]] TxResult Encapsulate(const TxPlan& sa, Aead& aead, std::uint64_t seq, Frame& f,
                                   const std::array<std::uint8_t, kIvBytes>* iv_override = nullptr);
// The same for an entry not decoded yet (tests; one PlanTx per call).
[[nodiscard]] TxResult Encapsulate(const abi::SaEntry& sa, Aead& aead, std::uint64_t seq, Frame& f,
                                   const std::array<std::uint8_t, kIvBytes>* iv_override = nullptr);

// ----------------------------------------------------------------- inbound

enum class RxClass : std::uint8_t {
  kBypass,     // not (complete, unfragmented) IP carrying ESP: not ours
  kIke,        // UDP to port 4500 with the non-ESP marker, or a NAT keepalive
  kEsp,        // ESP (protocol 50 or UDP 4500) with a complete header
  kMalformed,  // ESP whose outer headers or ESP header are truncated/invalid
};

// What the outer headers say; filled as far as parsing got (for exceptions).
// 64 bytes (offsets and lengths fit 32 bits: a packet is at most 65535 bytes
// past its IPv6 header), so that the per-packet default is a few wide stores.
struct RxParse {
  RxClass cls = RxClass::kBypass;
  bool v6 = false;
  bool udp = false;
  std::uint8_t outer_tos = 0;  // IPv4 TOS / IPv6 traffic class (DSCP << 2 | ECN)
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint32_t spi = 0;
  std::uint32_t seq_low = 0;
  std::uint32_t l3_len = 0;   // outer IP header bytes incl. options / ext headers
  std::uint32_t nh_off = 0;   // offset of the next-header byte naming ESP/UDP
  std::uint32_t esp_off = 0;  // offset of the ESP header in the packet
  std::uint32_t esp_len = 0;  // ESP header .. ICV, bytes
  abi::IpAddr src{};
  abi::IpAddr dst{};
};
static_assert(sizeof(RxParse) == 64);

// Reads the outer IPv4/IPv6 header (IPv6: hop-by-hop, routing and
// destination-options headers are walked), and a UDP header to port 4500.
[[nodiscard]] RxParse ParseInbound(std::span<const std::uint8_t> pkt);

struct RxResult {
  abi::ExqReason reason = abi::ExqReason::kNone;  // kNone, kIcvFail, kMalformed
  bool icv_ok = false;                            // the ICV verified (the window may move)
  std::uint8_t next_header = 0;
  std::size_t inner_len = 0;  // bytes of the delivered IP packet (lifetime bytes)
};

// Verifies and decrypts the ESP packet `p` (from ParseInbound over f.bytes())
// with inbound `sa` and the full sequence number `seq` (ESN-inferred by the
// replay window; its low 32 bits are the packet's). On kNone `f` holds the inner IP packet: the
// tunnel's inner packet, or the transport packet with its IP header restored. On kIcvFail nothing
// is learned; on kMalformed after a good ICV (bad padding, next header or inner packet) icv_ok is
// true. On failure the bytes of `f` past the ESP header and IV are unspecified (decrypted in
// place).
[[nodiscard]] RxResult Decapsulate(const abi::SaEntry& sa, Aead& aead, const RxParse& p,
                                   std::uint64_t seq, Frame& f);
// The same with the SA given by its sa_ctl word (all Decapsulate reads of it).
[[nodiscard]] RxResult Decapsulate(std::uint32_t sa_ctl, Aead& aead, const RxParse& p,
                                   std::uint64_t seq, Frame& f);

// One's-complement sum helpers, exposed for tests.
std::uint16_t Ipv4HeaderChecksum(std::span<const std::uint8_t> hdr);

}  // namespace inlinesec::model::esp
