// Per-packet side-band metadata between the host datapath and the engine
// (docs/abi/packet_metadata.md): what a NIC descriptor carries next to the
// packet. TX metadata names the outbound SA; RX metadata reports what the
// engine did with a received packet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "inlinesec/abi/le.h"

namespace inlinesec::abi {

struct TxMeta {
  Le<std::uint32_t> sa_index;             // 0x00 outbound SA
  Le<std::uint32_t> flags;                // 0x04 tx_flags::*
  std::array<std::uint8_t, 8> rsvd_0x08;  // 0x08 must be zero
};
static_assert(sizeof(TxMeta) == 16 && alignof(TxMeta) == 1);

namespace tx_flags {
using Offload = Bits<0, 1>;  // 1: encrypt with sa_index; 0: send as is (bypass)
inline constexpr std::uint32_t kDefinedMask = 0x1;
}  // namespace tx_flags

enum class RxStatus : std::uint8_t {
  kBypass = 0,     // not ESP: passed through untouched
  kDecrypted = 1,  // ESP decapsulated; the buffer holds the inner packet
  kFailed = 2,     // ESP that failed; see the exception entry (reason)
  kIkeToHost = 3,  // UDP 4500 with the non-ESP marker: IKE, untouched
};

struct RxMeta {
  Le<std::uint32_t> sa_index;   // 0x00 SA used, kExqNoSa if none
  Le<std::uint32_t> spi;        // 0x04 SPI of the packet (0 if not ESP)
  Le<std::uint32_t> ctl;        // 0x08 rx_ctl::*
  Le<std::uint32_t> rsvd_0x0c;  // 0x0C zero
  Le<std::uint64_t> seq;        // 0x10 full (ESN-inferred) sequence number
  Le<std::uint64_t> cookie;     // 0x18 SaEntry::cookie of the SA used
};
static_assert(sizeof(RxMeta) == 32 && alignof(RxMeta) == 1);
static_assert(offsetof(RxMeta, seq) == 0x10 && offsetof(RxMeta, cookie) == 0x18);

namespace rx_ctl {
using Status = Bits<0, 8>;       // abi::RxStatus
using Reason = Bits<8, 8>;       // abi::ExqReason when Status is kFailed
using NextHeader = Bits<16, 8>;  // ESP next header of the inner packet
using UdpEncap = Bits<24, 1>;    // arrived as ESP in UDP
using Tunnel = Bits<25, 1>;      // inner packet came from tunnel mode
}  // namespace rx_ctl

}  // namespace inlinesec::abi
