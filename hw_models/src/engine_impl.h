// Internal seam of the engine model: the whole state of one engine (register
// file, device memory, SA table, counters, rings) as EngineCore, and the
// methods the two halves of the model share. engine.cc / commands.cc /
// sa_table.cc implement the control plane; datapath.cc implements
// Engine::Transmit and Engine::Receive on top of the members documented
// below. Engine::Impl is EngineCore and nothing more, so tests can drive an
// EngineCore directly (for example to post exceptions before a datapath
// exists). Not installed, not part of any public API.
//
// What datapath.cc uses (all members of EngineCore, reached as `*impl_`):
//   enabled()                    engine running: Transmit/Receive do nothing else
//   config / clock / faults      the EngineConfig, injected Clock, FaultPlan
//   LookupInbound(spi)           DESIGN decision 2: table index or kNoSlot
//   SlotAt(index)                SaSlot* of a valid entry, nullptr otherwise
//   SaSlot fields                entry image, aead, replay, tx_seq, counters,
//                                state (sa_state bits); see SaSlot
//   counters                     global counters (GlobalStats fields plus
//                                rx_dropped / tx_dropped for the registers)
//   PostException(info)          the exception ring, with the overflow rule
//   Now()                        engine time in nanoseconds (from the Clock)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "inlinesec/abi/abi.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/common/fifo.h"
#include "inlinesec/common/status.h"
#include "inlinesec/model/engine.h"
#include "inlinesec/model/esp/aead.h"
#include "inlinesec/model/esp/esp.h"
#include "inlinesec/model/esp/replay_window.h"

namespace inlinesec::model {

// Table index meaning "no SA" (same value the ABI uses in exception entries
// and RX metadata).
inline constexpr std::uint32_t kNoSlot = abi::kExqNoSa;

// Per-SA counters, as reported in abi::SaState.
struct SaCounters {
  std::uint64_t packets = 0;       // packets processed successfully
  std::uint64_t bytes = 0;         // inner (payload) bytes processed
  std::uint64_t replay_drops = 0;  // inbound: replayed or too old
  std::uint64_t auth_fails = 0;    // inbound: ICV check failed
};

// An SA's four lifetime limits (0 = none), decoded from the entry image once
// at write so the datapath does not re-assemble them per packet.
struct SaLimits {
  std::uint64_t soft_packets = 0, hard_packets = 0, soft_bytes = 0, hard_bytes = 0;
  bool any() const { return (soft_packets | hard_packets | soft_bytes | hard_bytes) != 0; }
};

// One valid SA. Built when an entry is written (kWriteSa / batch). When the
// entry is invalidated, replaced or flushed, the SaSlot is reset to a fresh
// one (key bytes of its image wiped) that keeps only its AEAD context,
// scrubbed (Aead::Scrub), and parked for the next write, which re-keys that
// context in place instead of allocating one; an engine reset frees them
// all. Empty table slots own no SaSlot.
struct SaSlot {
  SaSlot() = default;
  SaSlot(const SaSlot&) = delete;
  SaSlot& operator=(const SaSlot&) = delete;
  ~SaSlot();  // SecureWipe(entry.key)

  std::uint32_t index = 0;  // table index of this SA
  // The SaEntry image exactly as the host wrote it (validated). seq in the
  // image is the value at write time; live sequence state is below.
  abi::SaEntry entry{};
  // Fields of `entry` the datapath reads per packet, decoded at write (the
  // image's Le fields are byte arrays).
  std::uint32_t spi = 0;
  std::uint32_t ctl = 0;  // abi::sa_ctl::*
  std::uint64_t cookie = 0;
  SaLimits limits;
  bool limited = false;  // limits.any(), decided at write (one test per packet)
  // Ready AEAD context (algorithm, key and salt of `entry`), built at write.
  std::optional<esp::Aead> aead;
  // Inbound SAs only: the anti-replay window built from sa_replay::Window,
  // sa_ctl::Esn and entry.seq (window 0 = no replay check, but top() still
  // tracks the highest sequence number for ESN inference). Outbound: empty.
  std::optional<esp::ReplayWindow> replay;
  // Outbound SAs only: last sequence number sent (next packet uses +1).
  // Starts at entry.seq.
  std::uint64_t tx_seq = 0;
  // Outbound SAs only: `entry` decoded for esp::Encapsulate, built at write.
  esp::TxPlan tx;
  SaCounters counters;
  std::uint32_t state = 0;  // abi::sa_state::* (SoftExpired, HardExpired, SeqOverflow)

  bool inbound() const {
    return abi::sa_ctl::Dir::Get(ctl) == static_cast<std::uint32_t>(abi::Dir::kInbound);
  }
  bool esn() const { return abi::sa_ctl::Esn::Get(ctl) != 0; }
  // Current sequence number as abi::SaState::seq reports it.
  std::uint64_t CurrentSeq() const { return replay ? replay->top() : tx_seq; }
};

// Global counters since the last reset: every abi::GlobalStats field plus the
// two drop counters only the registers expose. The datapath increments them.
struct EngineCounters {
  std::uint64_t rx_packets = 0;       // GlobalStats / kCntRxPkts
  std::uint64_t rx_bytes = 0;         // GlobalStats
  std::uint64_t tx_packets = 0;       // GlobalStats / kCntTxPkts
  std::uint64_t tx_bytes = 0;         // GlobalStats
  std::uint64_t spi_miss = 0;         // GlobalStats / kCntSpiMiss
  std::uint64_t replay_drops = 0;     // GlobalStats
  std::uint64_t auth_fails = 0;       // GlobalStats
  std::uint64_t malformed = 0;        // GlobalStats
  std::uint64_t lifetime_drops = 0;   // GlobalStats
  std::uint64_t seq_overflows = 0;    // GlobalStats
  std::uint64_t exq_posted = 0;       // GlobalStats (PostException)
  std::uint64_t exq_dropped = 0;      // GlobalStats / kCntExqDropped (PostException)
  std::uint64_t cmd_done = 0;         // GlobalStats / kCntCmdDone (command processor)
  std::uint64_t cmd_errors = 0;       // GlobalStats / kCntCmdErrors (command processor)
  std::uint64_t ike_passthrough = 0;  // GlobalStats
  std::uint64_t tx_no_sa = 0;         // GlobalStats
  std::uint64_t rx_dropped = 0;       // kCntRxDropped: inbound packets dropped, any reason
  std::uint64_t tx_dropped = 0;       // kCntTxDropped: outbound packets dropped, any reason
};

// What the datapath knows about a packet it cannot finish; PostException
// turns it into an abi::ExqEntry (docs/abi/exceptions.md).
struct ExceptionInfo {
  abi::ExqReason reason = abi::ExqReason::kNone;
  std::uint32_t spi = 0;
  std::uint32_t sa_index = abi::kExqNoSa;
  std::uint16_t orig_len = 0;  // packet length as received, bytes
  std::uint64_t seq = 0;
  bool v6 = false;         // src/dst are IPv6
  bool udp_encap = false;  // ESP in UDP; sport/dport valid
  bool outbound = false;   // raised on the TX path
  abi::IpAddr src{};
  abi::IpAddr dst{};
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  // First bytes of the packet; at most abi::kExqSnapBytes are copied.
  std::span<const std::uint8_t> snap;
};

// Registers of one ring block (abi::RingReg).
struct RingRegs {
  std::uint32_t base_lo = 0;
  std::uint32_t base_hi = 0;
  std::uint32_t size_log2 = 0;  // as written; validated when the engine is enabled
  std::uint32_t prod = 0;
  std::uint32_t cons = 0;

  std::uint64_t base() const { return (std::uint64_t{base_hi} << 32) | base_lo; }
  bool on() const { return size_log2 != 0; }
  // Entries of a validated ring (size_log2 <= 24 once enabled); 0 for a
  // value that could never be enabled, so no caller shifts out of range.
  std::uint32_t entries() const { return size_log2 < 32 ? 1u << size_log2 : 0; }
};

// One entry of the compact SA index: what the inbound lookup touches. `ref`
// is 0 for an empty slot, else (pool position + 1) with kRefOutbound set for
// outbound SAs. 8 bytes per table slot, so 2^20 slots cost 8 MiB and 2^24
// slots 128 MiB of lazily-zeroed memory.
struct SaIndexEntry {
  std::uint32_t spi;
  std::uint32_t ref;
};
inline constexpr std::uint32_t kRefOutbound = 0x80000000u;

// A zero-filled buffer from calloc: large tables and device memory cost no
// resident memory until touched.
struct FreeDeleter {
  void operator()(void* p) const;
};
template <typename T>
using ZeroedArray = std::unique_ptr<T[], FreeDeleter>;

class EngineCore {
 public:
  // `config` must pass Engine::CheckConfig (INLINESEC_CHECK otherwise).
  // Construction is a power-on reset: epoch 1, status Ready, irq ResetDone.
  EngineCore(const EngineConfig& config, const Clock& clock);
  ~EngineCore();
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  // ---- host interface (engine.cc) ----
  // Unknown or unaligned offsets read 0 and ignore writes.
  std::uint32_t Read32(abi::RegOffset off);
  void Write32(abi::RegOffset off, std::uint32_t value);
  Status DevWrite(std::uint64_t dev_addr, std::span<const std::uint8_t> src);
  Status DevRead(std::uint64_t dev_addr, std::span<std::uint8_t> dst) const;
  bool IrqAsserted() const { return (irq_cause & irq_mask) != 0; }

  // ---- command processor (commands.cc) ----
  std::size_t ProcessCommands(std::size_t max);
  // True when queued commands can run now: engine enabled, not fatal, the
  // command ring holds unconsumed descriptors and the completion ring has
  // space. False while stalled on completion space.
  bool CommandsPending() const;

  // ---- for the datapath (see the file comment) ----
  bool enabled() const { return enable; }
  std::uint64_t Now() const;  // clock.Now() as nanoseconds
  // DESIGN decision 2: index = spi & (capacity - 1); a miss (kNoSlot) if the
  // slot is empty, holds another SPI, or holds an outbound SA. One indexed
  // load and a compare.
  std::uint32_t LookupInbound(std::uint32_t spi) const {
    const SaIndexEntry e = sa_index[spi & index_mask];
    if (e.spi != spi || e.ref == 0 || (e.ref & kRefOutbound) != 0) return kNoSlot;
    return spi & index_mask;
  }
  // LookupInbound and SlotAt in one (Receive's fast path): the inbound SA
  // for `spi`, or nullptr on a miss; `index` is set to its table index.
  SaSlot* FindInbound(std::uint32_t spi, std::uint32_t& index) {
    index = spi & index_mask;
    const SaIndexEntry e = sa_index[index];
    if (e.spi != spi || e.ref == 0 || (e.ref & kRefOutbound) != 0) return nullptr;
    return pool[e.ref - 1].get();
  }
  // The SA at table `index`, or nullptr if index >= capacity or the slot is
  // empty. Pointers stay valid until the next command or reset.
  SaSlot* SlotAt(std::uint32_t index) {
    if (index > index_mask) return nullptr;
    const std::uint32_t ref = sa_index[index].ref & ~kRefOutbound;
    return ref == 0 ? nullptr : pool[ref - 1].get();
  }
  const SaSlot* SlotAt(std::uint32_t index) const {
    return const_cast<EngineCore*>(this)->SlotAt(index);
  }
  // Posts one exception entry (docs/abi/exceptions.md). If the engine is
  // disabled, the exception ring is off (size 0) or full (prod - cons ==
  // entries), the entry is dropped: counters.exq_dropped += 1, irq
  // ExqOverflow raised, returns false; it never waits. Otherwise the entry is
  // written at slot prod mod size with the timestamp from the Clock, every
  // word but word 0 first and word 0 (ctl, holding reason, flags, snap length
  // and the phase bit) last; prod advances, counters.exq_posted += 1, irq Exq
  // is raised and it returns true. faults.corrupt_exq > 0 writes the entry
  // with reason 0xEE and snap length 127 instead (and counts down).
  bool PostException(const ExceptionInfo& info);
  void RaiseIrq(std::uint32_t bits) { irq_cause |= bits & abi::irq::kAll; }

  // ---- SA table (sa_table.cc) ----
  std::size_t valid_count() const { return pool.size() - free_pool.size(); }
  // Installs `slot` at slot->index, destroying (and wiping) any SA there.
  void InstallSa(std::unique_ptr<SaSlot> slot);
  // Removes the SA at `index` (no-op if empty); its key bytes are wiped.
  void RemoveSa(std::uint32_t index);
  // Removes every SA: O(valid SAs), not O(capacity). Their SaSlots are
  // kept for reuse (see SaSlot).
  void RemoveAllSas();

  // ---- state (public: this is an internal struct-like class) ----
  const EngineConfig config;
  const Clock& clock;
  FaultPlan faults;

  // Device memory [config.dev_mem_base, + config.dev_mem_bytes).
  ZeroedArray<std::uint8_t> dev_mem;
  // True if [addr, addr + len) lies inside device memory (overflow-safe).
  bool InDevMem(std::uint64_t addr, std::uint64_t len) const;
  std::uint8_t* DevPtr(std::uint64_t addr) { return dev_mem.get() + (addr - config.dev_mem_base); }

  // Register file.
  std::uint32_t epoch = 0;
  bool enable = false;       // ctrl::Enable as accepted
  std::uint32_t status = 0;  // abi::status::*
  std::uint32_t irq_cause = 0;
  std::uint32_t irq_mask = 0;
  std::uint32_t scratch = 0;
  RingRegs cmd_ring, cpl_ring, exq_ring;
  EngineCounters counters;
  std::array<std::uint32_t, 8> counter_latch{};  // HI halves latched by LO reads

  // SA table: compact index (capacity entries) plus a pool of SaSlots for
  // the valid ones.
  std::uint32_t index_mask = 0;  // capacity - 1
  ZeroedArray<SaIndexEntry> sa_index;
  std::vector<std::unique_ptr<SaSlot>> pool;
  std::vector<std::uint32_t> free_pool;  // positions of null pool entries

  // Full reset (power-on and ctrl::Reset): see docs/abi/registers.md.
  void Reset();

 private:
  // commands.cc
  struct CmdOutcome {
    abi::CmdStatus status = abi::CmdStatus::kOk;
    std::uint32_t info = 0;
    std::uint32_t done = 0;
    bool reset = false;  // the engine reset while executing (fault plan)
  };
  CmdOutcome Execute(const abi::CmdDesc& cmd);
  CmdOutcome WriteSa(const abi::CmdDesc& cmd);
  CmdOutcome WriteSaBatch(const abi::CmdDesc& cmd);
  CmdOutcome InvalidateSa(const abi::CmdDesc& cmd);
  CmdOutcome ReadSa(const abi::CmdDesc& cmd);
  CmdOutcome ReadStats(const abi::CmdDesc& cmd);
  // The preamble of the single-SA commands (kWriteSa, kInvalidateSa,
  // kReadSa), in the order of docs/abi/commands.md: out.info = sa_index;
  // sa_index within the table (kBadIndex); then, if dma_min != 0, the DMA
  // buffer (CheckDma). False with out.status set if a check fails.
  bool CheckSaCommand(const abi::CmdDesc& cmd, std::size_t dma_min, CmdOutcome& out) const;
  // [dma_addr, dma_addr + dma_len) inside device memory and dma_len >=
  // dma_min, else kDmaRange.
  bool CheckDma(const abi::CmdDesc& cmd, std::size_t dma_min, CmdOutcome& out) const;
  // The valid SA at sa_index whose SPI matches cmd.spi (0 matches any), else
  // nullptr with kNotFound. sa_index must have passed CheckSaCommand.
  const SaSlot* NamedSlot(const abi::CmdDesc& cmd, CmdOutcome& out) const;
  abi::CmdStatus CheckEntry(const abi::SaEntry& e, std::uint32_t index) const;
  // A validated entry's SaSlot, from a spare one when there is one (its AEAD
  // context re-keyed in place), else newly allocated.
  Result<std::unique_ptr<SaSlot>> BuildSlot(const abi::SaEntry& e, std::uint32_t index);
  // sa_table.cc: resets `slot` to a fresh SaSlot keeping only its scrubbed
  // AEAD context, and parks it in spare_slots_.
  void Recycle(std::unique_ptr<SaSlot> slot);
  // Removes every SA; keep_for_reuse: park the SaSlots (else free them).
  void ClearSas(bool keep_for_reuse);
  void WriteCompletion(const abi::CmdDesc& cmd, const CmdOutcome& out);

  // engine.cc
  void SetEnable(bool on);
  bool RingConfigOk(const RingRegs& r, std::uint32_t entry_bytes) const;
  std::uint32_t ReadRing(RingRegs& r, abi::RegOffset rel) const;
  void WriteRing(abi::Reg ring, RingRegs& r, abi::RegOffset rel, std::uint32_t v);
  std::uint64_t CounterValue(std::size_t i) const;
  void UpdateCplStall();

  // Fetched OpenSSL ciphers, one per algorithm for this engine's lifetime
  // (an SA write re-keys a parked context, or allocates and keys one).
  esp::CipherCache ciphers_;
  // Scratch for batches, reused so a batch allocates nothing once warm.
  std::vector<std::uint32_t> batch_seen_;
  std::vector<std::unique_ptr<SaSlot>> batch_built_;
  // SaSlots of removed SAs (scrubbed AEAD context, nothing else), reused by
  // BuildSlot. At most the peak number of valid SAs since the last reset:
  // like device SRAM, the memory stays at the high-water mark. BuildSlot
  // takes the oldest parked one: after a bulk delete (a flush, a table
  // emptied for re-keying) the re-adds walk the slots and their contexts in
  // the order they were parked, usually the order they were allocated in,
  // which the hardware prefetcher follows. Newest first walked memory
  // backwards and cost about 15-30% per SA added (docs/benchmarks.md,
  // bench_sa_program).
  Fifo<std::unique_ptr<SaSlot>> spare_slots_;
};

struct Engine::Impl : EngineCore {
  using EngineCore::EngineCore;
};

}  // namespace inlinesec::model
