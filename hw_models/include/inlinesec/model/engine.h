// The bit-accurate inlinesec engine model: what a card presents to the host,
// in process. The host side sees only 32-bit registers (Read32/Write32), device
// memory reached by DMA (DevWrite/DevRead) and an interrupt line; packets go
// through Transmit/Receive with the ABI's TX/RX metadata, as a NIC's MAC would
// hand them to the inline engine. The model is written against
// firmware_iface/ and nothing else.
//
// Threading: an Engine is not thread-safe. ModelTransport serialises access
// when it runs the engine on its own thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "inlinesec/abi/abi.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/common/status.h"

namespace inlinesec::model {

inline constexpr std::uint32_t kModelBuildId = 0x4D440100;  // "MD" 1.0

struct EngineConfig {
  std::uint32_t sa_capacity = 1u << 16;           // power of two, 2^4 .. 2^24
  std::uint32_t replay_window_max = 4096;         // packets, multiple of 32
  std::uint32_t max_batch = 1024;                 // records per kWriteSaBatch
  std::uint32_t ring_log2_max = 16;               // for all three rings
  std::uint64_t dev_mem_base = 0x1'0000'0000ull;  // device address of device memory
  std::uint64_t dev_mem_bytes = 64ull << 20;      // size of device memory
  std::uint32_t algos = abi::AlgoBit(abi::Algo::kAesGcm128) | abi::AlgoBit(abi::Algo::kAesGcm256) |
                        abi::AlgoBit(abi::Algo::kChaCha20Poly1305);
  std::uint32_t features = 0x3FF;  // every cap_features bit of ABI v1.0
};

// A packet in a caller-owned buffer: bytes [off, off + len) of buf. The
// engine grows the packet into the headroom (before off) and tailroom (after
// off + len) in place and never allocates. IP header first (no L2).
struct Frame {
  std::span<std::uint8_t> buf;
  std::size_t off = 0;
  std::size_t len = 0;
  std::span<std::uint8_t> bytes() const { return buf.subspan(off, len); }
};
// Room a caller should leave so that any outbound SA fits:
// outer IPv6 (40) + UDP (8) + ESP header (8) + IV (8) before; pad (<= 255? no:
// up to 3 for 4-byte alignment) + pad length + next header + ICV (16) after.
inline constexpr std::size_t kTxHeadroom = 64;
inline constexpr std::size_t kTxTailroom = 32;

// Faults the model can be told to commit, for driver tests (issue 4).
struct FaultPlan {
  std::uint32_t drop_doorbells = 0;       // ignore the next N doorbells (command timeout)
  std::uint32_t fail_commands = 0;        // complete the next N commands with kInternal
  std::uint32_t corrupt_exq = 0;          // write the next N exception entries corrupted
  std::uint32_t reset_after_records = 0;  // >0: reset the engine mid-batch after N records
};

class Engine {
 public:
  Engine(const EngineConfig& config, const Clock& clock);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates an EngineConfig (capacity a power of two in range, ...).
  static Status CheckConfig(const EngineConfig& config);

  // --- host interface ---
  std::uint32_t Read32(abi::RegOffset off);
  void Write32(abi::RegOffset off, std::uint32_t value);
  Status DevWrite(std::uint64_t dev_addr, std::span<const std::uint8_t> src);
  Status DevRead(std::uint64_t dev_addr, std::span<std::uint8_t> dst) const;
  // True while (irq cause & irq mask) != 0.
  bool IrqAsserted() const;

  // --- command processor ---
  // Executes queued commands until the ring is empty, completions are stalled
  // or `max` commands ran. Returns the number executed.
  std::size_t ProcessCommands(std::size_t max = SIZE_MAX);
  bool CommandsPending() const;

  // --- datapath (issue 3) ---
  // Outbound: `f` holds an IP packet; on success (kNone) it holds the ESP
  // packet (outer IP header first). Any other reason: packet dropped, an
  // exception entry posted, `f` unspecified.
  abi::ExqReason Transmit(const abi::TxMeta& meta, Frame& f);
  // Inbound: `f` holds an IP packet from the wire. On kDecrypted `f` holds the
  // inner packet; on kBypass / kIkeToHost it is untouched.
  abi::RxMeta Receive(Frame& f);

  // --- bring-up and tests ---
  FaultPlan& faults();
  const EngineConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inlinesec::model
