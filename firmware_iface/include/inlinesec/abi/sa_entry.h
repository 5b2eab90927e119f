// The SA-table entry (docs/abi/sa_table.md): what the host writes for one SA,
// as the engine stores it in device memory. 192 bytes, little-endian fields,
// packet-order byte arrays for salt, keys and addresses. Keys are write-only:
// no command ever reads them back (SaState below has no key field).
//
// Table addressing (DESIGN decision 2): with capacity C = 2^k entries, an
// inbound packet with SPI s looks at index (s mod C) and matches only if the
// entry is valid, inbound, and holds exactly s. Outbound SAs are named by
// index in the TX metadata. Indices whose SPI would be < 256 are never used
// for inbound SAs by the host (SPIs 0-255 are reserved by RFC 4303).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "inlinesec/abi/le.h"

namespace inlinesec::abi {

inline constexpr std::size_t kSaKeyBytes = 64;

struct SaEntry {
  Le<std::uint32_t> spi;                  // 0x00 SPI as a number (wire: big-endian)
  Le<std::uint32_t> ctl;                  // 0x04 sa_ctl::*
  Le<std::uint32_t> crypto;               // 0x08 sa_crypto::*
  Le<std::uint32_t> replay;               // 0x0C sa_replay::*
  std::array<std::uint8_t, 4> salt;       // 0x10 nonce salt, in nonce byte order
  Le<std::uint32_t> outer;                // 0x14 sa_outer::*
  Le<std::uint16_t> udp_sport;            // 0x18 NAT-T source port (host value)
  Le<std::uint16_t> udp_dport;            // 0x1A NAT-T destination port (host value)
  std::array<std::uint8_t, 4> rsvd_0x1c;  // 0x1C must be zero
  // 0x20: cipher key, then (CBC+HMAC only) the HMAC key right after it;
  // bytes past key_len + auth_key_len must be zero.
  std::array<std::uint8_t, kSaKeyBytes> key;
  // 0x60: outbound: last sequence number sent (next packet uses seq + 1);
  // inbound: highest sequence number received; every number <= seq counts as
  // already received. 64 bits with ESN, else bits 63:32 must be zero.
  Le<std::uint64_t> seq;
  Le<std::uint64_t> soft_bytes;            // 0x68 soft byte limit, 0 = none
  Le<std::uint64_t> hard_bytes;            // 0x70 hard byte limit, 0 = none
  Le<std::uint64_t> soft_packets;          // 0x78 soft packet limit, 0 = none
  Le<std::uint64_t> hard_packets;          // 0x80 hard packet limit, 0 = none
  IpAddr src;                              // 0x88 outer source (tunnel; NAT-T source)
  IpAddr dst;                              // 0x98 outer destination
  Le<std::uint64_t> cookie;                // 0xA8 opaque host value, echoed in events
  std::array<std::uint8_t, 16> rsvd_0xb0;  // 0xB0 must be zero
};
static_assert(sizeof(SaEntry) == 192 && alignof(SaEntry) == 1);
static_assert(std::is_trivially_copyable_v<SaEntry> && std::is_standard_layout_v<SaEntry>);
static_assert(offsetof(SaEntry, ctl) == 0x04 && offsetof(SaEntry, crypto) == 0x08);
static_assert(offsetof(SaEntry, replay) == 0x0C && offsetof(SaEntry, salt) == 0x10);
static_assert(offsetof(SaEntry, outer) == 0x14 && offsetof(SaEntry, udp_sport) == 0x18);
static_assert(offsetof(SaEntry, udp_dport) == 0x1A && offsetof(SaEntry, rsvd_0x1c) == 0x1C);
static_assert(offsetof(SaEntry, key) == 0x20 && offsetof(SaEntry, seq) == 0x60);
static_assert(offsetof(SaEntry, soft_bytes) == 0x68 && offsetof(SaEntry, hard_bytes) == 0x70);
static_assert(offsetof(SaEntry, soft_packets) == 0x78 && offsetof(SaEntry, hard_packets) == 0x80);
static_assert(offsetof(SaEntry, src) == 0x88 && offsetof(SaEntry, dst) == 0x98);
static_assert(offsetof(SaEntry, cookie) == 0xA8 && offsetof(SaEntry, rsvd_0xb0) == 0xB0);

enum class Dir : std::uint32_t { kInbound = 0, kOutbound = 1 };
enum class Mode : std::uint32_t { kTransport = 0, kTunnel = 1 };
enum class DfMode : std::uint32_t { kCopy = 0, kSet = 1, kClear = 2 };  // 3 is invalid
enum class DscpMode : std::uint32_t { kCopy = 0, kSet = 1 };

namespace sa_ctl {
using Valid = Bits<0, 1>;     // entry in use; 0 = empty slot
using Dir = Bits<1, 1>;       // abi::Dir
using Mode = Bits<2, 1>;      // abi::Mode
using OuterV6 = Bits<3, 1>;   // outer header (tunnel) / addresses are IPv6
using Esn = Bits<4, 1>;       // 64-bit extended sequence numbers (RFC 4303 §2.2.1)
using UdpEncap = Bits<5, 1>;  // ESP in UDP (RFC 3948), ports from udp_sport/udp_dport
using DfMode = Bits<6, 2>;    // abi::DfMode, IPv4 outer only
using DscpMode = Bits<8, 1>;  // abi::DscpMode
inline constexpr std::uint32_t kDefinedMask = 0x1FF;  // bits 31:9 must be zero
}  // namespace sa_ctl

namespace sa_crypto {
using Algo = Bits<0, 8>;         // abi::Algo
using IcvLen = Bits<8, 8>;       // ICV bytes (16 in v1)
using KeyLen = Bits<16, 8>;      // cipher key bytes
using AuthKeyLen = Bits<24, 8>;  // HMAC key bytes (CBC+HMAC only, else 0)
}  // namespace sa_crypto

namespace sa_replay {
using Window = Bits<0, 16>;  // packets; 0 = no replay check; else multiple of 32
inline constexpr std::uint32_t kDefinedMask = 0xFFFF;
}  // namespace sa_replay

namespace sa_outer {
using Ttl = Bits<0, 8>;   // outer TTL / hop limit for tunnel mode (0 = 64)
using Dscp = Bits<8, 6>;  // outer DSCP when DscpMode is kSet
inline constexpr std::uint32_t kDefinedMask = 0x3FFF;
}  // namespace sa_outer

// One record of a kWriteSaBatch buffer: the target index and the entry.
struct SaWriteRecord {
  Le<std::uint32_t> index;                // 0x00 table index
  Le<std::uint32_t> flags;                // 0x04 cmd_flags::* (Replace)
  std::array<std::uint8_t, 8> rsvd_0x08;  // 0x08 must be zero
  SaEntry entry;                          // 0x10
};
static_assert(sizeof(SaWriteRecord) == 208 && alignof(SaWriteRecord) == 1);
static_assert(offsetof(SaWriteRecord, entry) == 0x10);

// What kReadSa writes back: live state and counters of one SA (no keys).
struct SaState {
  Le<std::uint32_t> spi;                  // 0x00
  Le<std::uint32_t> ctl;                  // 0x04 copy of SaEntry::ctl
  Le<std::uint32_t> state;                // 0x08 sa_state::*
  std::array<std::uint8_t, 4> rsvd_0x0c;  // 0x0C zero
  Le<std::uint64_t> seq;                  // 0x10 current sequence number (as SaEntry::seq)
  Le<std::uint64_t> packets;              // 0x18 packets processed successfully
  Le<std::uint64_t> bytes;                // 0x20 payload bytes (inner packet) processed
  Le<std::uint64_t> replay_drops;         // 0x28 inbound: replayed or too old
  Le<std::uint64_t> auth_fails;           // 0x30 inbound: ICV check failed
  Le<std::uint64_t> cookie;               // 0x38 SaEntry::cookie
};
static_assert(sizeof(SaState) == 64 && alignof(SaState) == 1);
static_assert(offsetof(SaState, seq) == 0x10 && offsetof(SaState, cookie) == 0x38);

namespace sa_state {
using SoftExpired = Bits<0, 1>;  // a soft limit was reached (event posted once)
using HardExpired = Bits<1, 1>;  // a hard limit was reached; the SA drops all traffic
using SeqOverflow = Bits<2, 1>;  // outbound sequence space exhausted; SA stopped
}  // namespace sa_state

}  // namespace inlinesec::abi
