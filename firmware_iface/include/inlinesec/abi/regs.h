// Register map of the inlinesec engine, ABI v1 (docs/abi/registers.md). All
// registers are 32 bits wide, at byte offsets from BAR/AXI-Lite base, accessed
// with 32-bit reads and writes only. Access kinds: RO (writes ignored), RW,
// W1C (write 1 to clear), W1S (write 1 to trigger; reads as 0).
// 64-bit counters are LO/HI pairs: reading LO latches the whole value, and the
// next read of HI returns the latched upper half.
#pragma once

#include <cstdint>

#include "inlinesec/abi/le.h"

namespace inlinesec::abi {

using RegOffset = std::uint32_t;

enum class Reg : RegOffset {
  // --- identity (0x000) ---
  kId = 0x000,          // RO  kEngineMagic
  kAbiVersion = 0x004,  // RO  abi_version::*
  kBuild = 0x008,       // RO  implementation build id (model: kModelBuildId)
  kEpoch = 0x00C,       // RO  +1 at every reset (power-on, CTRL.reset, firmware restart)
  // --- capabilities (0x010) ---
  kCapSaCapacity = 0x010,    // RO  SA table entries, a power of two (2^4 .. 2^24)
  kCapRings = 0x014,         // RO  cap_rings::*
  kCapAlgos = 0x018,         // RO  bit (1 << Algo) set for each supported algorithm
  kCapFeatures = 0x01C,      // RO  cap_features::*
  kCapReplayWindow = 0x020,  // RO  largest replay window, packets (multiple of 32)
  kCapMaxBatch = 0x024,      // RO  most records one kWriteSaBatch may carry
  // --- control and status (0x040) ---
  kCtrl = 0x040,      // RW  ctrl::*          reset 0
  kStatus = 0x044,    // RO  status::*
  kIrqCause = 0x048,  // W1C irq::*           reset 0x10 (ResetDone)
  kIrqMask = 0x04C,   // RW  irq::* (1 = raise interrupt)  reset 0
  kScratch = 0x050,   // RW  free for bring-up tests        reset 0
  // --- rings (0x100): three blocks of RingReg, see RingBase() ---
  kCmdRing = 0x100,  // host -> device commands (CmdDesc)
  kCplRing = 0x120,  // device -> host completions (CplEntry)
  kExqRing = 0x140,  // device -> host exceptions (ExqEntry)
  // --- global counters (0x200), 64-bit LO/HI pairs ---
  kCntRxPkts = 0x200,      // ESP packets received (all outcomes)
  kCntTxPkts = 0x208,      // packets sent as ESP
  kCntSpiMiss = 0x210,     // inbound packets whose SPI matched no SA
  kCntExqDropped = 0x218,  // exception entries dropped: ring full or off
  kCntCmdDone = 0x220,     // commands completed (any status)
  kCntCmdErrors = 0x228,   // commands completed with a non-OK status
  kCntRxDropped = 0x230,   // inbound packets dropped for any reason
  kCntTxDropped = 0x238,   // outbound packets dropped for any reason
};
inline constexpr RegOffset kRegSpaceBytes = 0x1000;
inline constexpr RegOffset kHiHalf = 4;  // offset of HI after a counter's LO

constexpr RegOffset Off(Reg r) { return static_cast<RegOffset>(r); }

// Registers of one ring block, relative to kCmdRing / kCplRing / kExqRing.
// Base and size are writable only while ctrl::Enable is 0 (ignored otherwise).
// Producer and consumer are free-running 32-bit entry counts; the slot is
// count mod 2^size_log2. A device->host ring is full when prod - cons == size.
enum class RingReg : RegOffset {
  kBaseLo = 0x00,    // RW  device address of slot 0, bits 31:0 (64-byte aligned)
  kBaseHi = 0x04,    // RW  bits 63:32
  kSizeLog2 = 0x08,  // RW  log2(entries), 0 = ring off; 4 .. cap_rings limit
  kProd = 0x0C,      // cmd: RW by host (writing it rings the doorbell); cpl/exq: RO
  kCons = 0x10,      // cmd: RO (device progress); cpl/exq: RW by host (frees slots)
};
constexpr RegOffset RingOff(Reg ring, RingReg r) {
  return static_cast<RegOffset>(ring) + static_cast<RegOffset>(r);
}

namespace abi_version {
using Minor = Bits<0, 16>;
using Major = Bits<16, 16>;
}  // namespace abi_version

namespace cap_rings {
using CmdLog2Max = Bits<0, 8>;
using CplLog2Max = Bits<8, 8>;
using ExqLog2Max = Bits<16, 8>;
}  // namespace cap_rings
inline constexpr std::uint32_t kRingLog2Min = 4;

namespace cap_features {
using Esn = Bits<0, 1>;             // 64-bit extended sequence numbers
using NatT = Bits<1, 1>;            // UDP encapsulation, RFC 3948
using Ipv6 = Bits<2, 1>;            // IPv6 outer and inner
using Tunnel = Bits<3, 1>;          // tunnel mode
using Transport = Bits<4, 1>;       // transport mode
using LifetimeBytes = Bits<5, 1>;   // byte soft/hard limits
using LifetimePkts = Bits<6, 1>;    // packet soft/hard limits
using IkePassthrough = Bits<7, 1>;  // UDP 4500 non-ESP marker handed to host
using DscpCopy = Bits<8, 1>;        // inner DSCP copied to the outer header
using DfControl = Bits<9, 1>;       // outer DF copy/set/clear
}  // namespace cap_features

namespace ctrl {
using Enable = Bits<0, 1>;  // 1: process commands and packets
using Reset = Bits<1, 1>;   // W1S: full reset, see docs/abi/registers.md
}  // namespace ctrl

namespace status {
using Ready = Bits<0, 1>;       // out of reset, registers usable
using Enabled = Bits<1, 1>;     // engine running (ctrl::Enable accepted)
using Fatal = Bits<2, 1>;       // internal error; only a reset clears it
using CplStalled = Bits<3, 1>;  // command processing waits for completion space
using CfgError = Bits<4, 1>;    // last enable refused: a ring is misconfigured
}  // namespace status

namespace irq {
using Cpl = Bits<0, 1>;          // completion(s) written
using Exq = Bits<1, 1>;          // exception entry(ies) written
using ExqOverflow = Bits<2, 1>;  // an exception was dropped (ring full or off)
using Fatal = Bits<3, 1>;        // status::Fatal became 1
using ResetDone = Bits<4, 1>;    // a reset finished
inline constexpr std::uint32_t kAll = 0x1F;
}  // namespace irq

// SA algorithms. Capability bit for algorithm a is (1u << a).
enum class Algo : std::uint8_t {
  kNone = 0,
  kAesGcm128 = 1,            // RFC 4106, 16-byte key, 4-byte salt
  kAesGcm256 = 2,            // RFC 4106, 32-byte key, 4-byte salt
  kChaCha20Poly1305 = 3,     // RFC 7634, 32-byte key, 4-byte salt
  kAesCbc128HmacSha256 = 4,  // RFC 3602 + RFC 4868 (reserved in v1.0)
  kAesCbc256HmacSha256 = 5,  // RFC 3602 + RFC 4868 (reserved in v1.0)
};
inline constexpr std::uint32_t AlgoBit(Algo a) { return 1u << static_cast<unsigned>(a); }

}  // namespace inlinesec::abi
