// Commands (host -> device) and completions (device -> host), ABI v1
// (docs/abi/commands.md). The host writes CmdDesc entries into the command
// ring and advances its producer register (the doorbell). The engine executes
// them in order and writes one CplEntry per command, carrying the command's
// tag. A command that fails changes nothing: a batch is validated whole
// before any record is applied, and reports the first bad record.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "inlinesec/abi/le.h"

namespace inlinesec::abi {

enum class Opcode : std::uint8_t {
  kInvalid = 0x00,       // zeroed memory is never a valid command
  kNop = 0x01,           // completes with kOk; used to fence and to probe
  kWriteSa = 0x02,       // one SaEntry at dma_addr -> table[sa_index]
  kWriteSaBatch = 0x03,  // `count` SaWriteRecords at dma_addr, all or nothing
  kInvalidateSa = 0x04,  // clear table[sa_index]; if spi != 0 it must match
  kReadSa = 0x05,        // SaState of table[sa_index] -> dma_addr
  kFlushTable = 0x06,    // invalidate every entry
  kReadStats = 0x07,     // GlobalStats -> dma_addr
};

namespace cmd_flags {
// kWriteSa / SaWriteRecord: allow overwriting a valid entry (SA update).
// Without it, writing over a valid entry fails with kExists.
using Replace = Bits<0, 1>;
inline constexpr std::uint32_t kDefinedMask = 0x1;
}  // namespace cmd_flags

// Command descriptor: 64 bytes, 64-byte aligned slots in the command ring.
struct CmdDesc {
  std::uint8_t opcode;                     // 0x00 abi::Opcode
  std::uint8_t flags;                      // 0x01 cmd_flags::*
  std::array<std::uint8_t, 2> rsvd_0x02;   // 0x02 must be zero
  Le<std::uint32_t> tag;                   // 0x04 echoed in the completion
  Le<std::uint32_t> sa_index;              // 0x08 table index (single-SA commands)
  Le<std::uint32_t> count;                 // 0x0C records in a batch
  Le<std::uint64_t> dma_addr;              // 0x10 device address of the buffer
  Le<std::uint32_t> dma_len;               // 0x18 buffer bytes
  Le<std::uint32_t> spi;                   // 0x1C kInvalidateSa: expected SPI, 0 = any
  std::array<std::uint8_t, 32> rsvd_0x20;  // 0x20 must be zero
};
static_assert(sizeof(CmdDesc) == 64 && alignof(CmdDesc) == 1);
static_assert(std::is_trivially_copyable_v<CmdDesc> && std::is_standard_layout_v<CmdDesc>);
static_assert(offsetof(CmdDesc, tag) == 0x04 && offsetof(CmdDesc, sa_index) == 0x08);
static_assert(offsetof(CmdDesc, count) == 0x0C && offsetof(CmdDesc, dma_addr) == 0x10);
static_assert(offsetof(CmdDesc, dma_len) == 0x18 && offsetof(CmdDesc, spi) == 0x1C);
static_assert(offsetof(CmdDesc, rsvd_0x20) == 0x20);

// Completion status codes (CplEntry byte 0x05).
enum class CmdStatus : std::uint8_t {
  kOk = 0x00,
  kBadOpcode = 0x01,        // opcode unknown
  kBadIndex = 0x02,         // sa_index (or a record's index) >= capacity
  kReservedNonZero = 0x03,  // a reserved field or undefined flag bit is set
  kBadAlgo = 0x04,          // algorithm unknown or not in CapAlgos
  kBadKeyLen = 0x05,        // key or ICV length wrong for the algorithm
  kDmaRange = 0x06,         // buffer outside device memory or too short
  kExists = 0x07,           // write over a valid entry without Replace
  kNotFound = 0x08,         // entry not valid, or SPI did not match
  kBadParam = 0x09,         // other field out of its range (window, mode...)
  kBadBatch = 0x0A,         // count 0 or > CapMaxBatch, or dma_len != count*208
  kDuplicate = 0x0B,        // two records of one batch name the same index
  kUnsupported = 0x0C,      // feature not in CapFeatures (ESN, NAT-T, IPv6...)
  kBadSpi = 0x0D,           // inbound SPI < 256 or SPI mod capacity != index
  kInternal = 0x0F,         // engine fault (fault injection, firmware bug)
};

// Completion entry: 16 bytes. The engine writes words 0, 2, 3 first and word 1
// (with the phase bit) last. Phase is 1 on the first pass through the ring,
// 0 on the second, and so on; a slot whose phase differs from the host's
// expected phase is not yet written.
struct CplEntry {
  Le<std::uint32_t> tag;   // 0x00 CmdDesc::tag
  Le<std::uint32_t> ctl;   // 0x04 cpl_ctl::*
  Le<std::uint32_t> info;  // 0x08 batch: index of the failed record; else sa_index
  Le<std::uint32_t> done;  // 0x0C records applied (batch: count or 0; single: 1 or 0)
};
static_assert(sizeof(CplEntry) == 16 && alignof(CplEntry) == 1);
static_assert(offsetof(CplEntry, ctl) == 4 && offsetof(CplEntry, done) == 12);

namespace cpl_ctl {
using Opcode = Bits<0, 8>;  // CmdDesc::opcode
using Status = Bits<8, 8>;  // abi::CmdStatus
using Phase = Bits<31, 1>;  // ownership, see above
}  // namespace cpl_ctl

// What kReadStats writes: 16 counters since the last reset.
struct GlobalStats {
  Le<std::uint64_t> rx_packets;       // 0x00 ESP packets received
  Le<std::uint64_t> rx_bytes;         // 0x08 bytes of those packets (outer)
  Le<std::uint64_t> tx_packets;       // 0x10 ESP packets sent
  Le<std::uint64_t> tx_bytes;         // 0x18 bytes sent (outer)
  Le<std::uint64_t> spi_miss;         // 0x20
  Le<std::uint64_t> replay_drops;     // 0x28
  Le<std::uint64_t> auth_fails;       // 0x30
  Le<std::uint64_t> malformed;        // 0x38 unparseable, bad padding or next header
  Le<std::uint64_t> lifetime_drops;   // 0x40 dropped by a hard limit
  Le<std::uint64_t> seq_overflows;    // 0x48 dropped: sequence space exhausted
  Le<std::uint64_t> exq_posted;       // 0x50 exception entries written
  Le<std::uint64_t> exq_dropped;      // 0x58 exception entries dropped
  Le<std::uint64_t> cmd_done;         // 0x60
  Le<std::uint64_t> cmd_errors;       // 0x68
  Le<std::uint64_t> ike_passthrough;  // 0x70 UDP 4500 non-ESP packets handed to host
  Le<std::uint64_t> tx_no_sa;         // 0x78 outbound packets naming no valid SA
};
static_assert(sizeof(GlobalStats) == 128 && alignof(GlobalStats) == 1);
static_assert(offsetof(GlobalStats, tx_no_sa) == 0x78);

}  // namespace inlinesec::abi
