// Ring arithmetic shared by every producer and consumer of an inlinesec ring
// (docs/abi/rings.md): free-running 32-bit counts, power-of-two sizes, and the
// phase bit that marks a device-written slot as new.
#pragma once

#include <cstdint>

#include "inlinesec/abi/exq.h"
#include "inlinesec/abi/mailbox.h"

namespace inlinesec::abi {

inline constexpr std::uint32_t kCmdEntryBytes = sizeof(CmdDesc);
inline constexpr std::uint32_t kCplEntryBytes = sizeof(CplEntry);
inline constexpr std::uint32_t kExqEntryBytes = sizeof(ExqEntry);
inline constexpr std::uint32_t kRingAlign = 64;  // base address alignment

constexpr std::uint32_t RingSlot(std::uint32_t count, std::uint32_t log2) {
  return count & ((1u << log2) - 1);
}
// Phase written into the slot for the entry with free-running index `count`:
// 1 on the first lap, 0 on the second, alternating.
constexpr std::uint32_t RingPhase(std::uint32_t count, std::uint32_t log2) {
  return ((count >> log2) & 1u) ^ 1u;
}
constexpr std::uint32_t RingUsed(std::uint32_t prod, std::uint32_t cons) { return prod - cons; }

}  // namespace inlinesec::abi
