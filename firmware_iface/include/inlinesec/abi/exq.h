// Exception-ring entries (docs/abi/exceptions.md): every packet the engine
// cannot finish, and every SA event, becomes one 128-byte entry. When the ring
// is full or off the engine drops the entry, counts it (kCntExqDropped) and
// raises irq::ExqOverflow; it never stalls the datapath.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "inlinesec/abi/le.h"

namespace inlinesec::abi {

enum class ExqReason : std::uint8_t {
  kNone = 0,          // never written by the engine: a zero reason is corrupt
  kSpiMiss = 1,       // inbound SPI indexes an empty entry or one with another SPI
  kReplay = 2,        // inbound sequence number replayed or left of the window
  kIcvFail = 3,       // inbound integrity check failed
  kSoftLifetime = 4,  // soft byte/packet limit reached (event, packet passed)
  kHardLifetime = 5,  // hard limit reached: SA stops (event; later packets dropped)
  kSeqOverflow = 6,   // outbound sequence space exhausted: SA stops
  kMalformed = 7,     // truncated or unparseable packet, bad padding or next header
  kTxNoSa = 8,        // outbound metadata names an invalid or inbound SA
  kLast = kTxNoSa,
};

inline constexpr std::size_t kExqSnapBytes = 60;

struct ExqEntry {
  Le<std::uint32_t> ctl;                         // 0x00 exq_ctl::* (written last: holds phase)
  Le<std::uint32_t> spi;                         // 0x04 SPI from the packet or the SA
  Le<std::uint32_t> sa_index;                    // 0x08 table index, kExqNoSa if none
  Le<std::uint16_t> orig_len;                    // 0x0C length of the packet as received, bytes
  Le<std::uint16_t> rsvd_0x0e;                   // 0x0E zero
  Le<std::uint64_t> seq;                         // 0x10 sequence number (ESN-inferred when known)
  Le<std::uint64_t> timestamp;                   // 0x18 engine time, nanoseconds
  IpAddr src;                                    // 0x20 outer source address
  IpAddr dst;                                    // 0x30 outer destination address
  Le<std::uint16_t> sport;                       // 0x40 UDP source port (NAT-T), else 0
  Le<std::uint16_t> dport;                       // 0x42 UDP destination port (NAT-T), else 0
  std::array<std::uint8_t, kExqSnapBytes> snap;  // 0x44 first bytes of the packet
};
static_assert(sizeof(ExqEntry) == 128 && alignof(ExqEntry) == 1);
static_assert(std::is_trivially_copyable_v<ExqEntry> && std::is_standard_layout_v<ExqEntry>);
static_assert(offsetof(ExqEntry, spi) == 0x04 && offsetof(ExqEntry, sa_index) == 0x08);
static_assert(offsetof(ExqEntry, orig_len) == 0x0C && offsetof(ExqEntry, seq) == 0x10);
static_assert(offsetof(ExqEntry, timestamp) == 0x18 && offsetof(ExqEntry, src) == 0x20);
static_assert(offsetof(ExqEntry, dst) == 0x30 && offsetof(ExqEntry, sport) == 0x40);
static_assert(offsetof(ExqEntry, snap) == 0x44);

inline constexpr std::uint32_t kExqNoSa = 0xFFFFFFFF;

namespace exq_ctl {
using Reason = Bits<0, 8>;     // abi::ExqReason
using V6 = Bits<8, 1>;         // src/dst are IPv6
using UdpEncap = Bits<9, 1>;   // packet was ESP in UDP; sport/dport valid
using Outbound = Bits<10, 1>;  // raised on the TX path (else RX or SA event)
using SnapLen = Bits<16, 7>;   // valid bytes in snap (0 .. kExqSnapBytes)
using Phase = Bits<31, 1>;     // as CplEntry
inline constexpr std::uint32_t kDefinedMask = 0x807F07FF;
}  // namespace exq_ctl

}  // namespace inlinesec::abi
