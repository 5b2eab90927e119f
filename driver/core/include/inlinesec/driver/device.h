// Device: one inlinesec engine seen through a Transport. It identifies the
// engine (magic, ABI major/minor, capabilities), resets it, sets up the
// command, completion and exception rings in DMA buffers, submits commands
// and matches their completions by tag, consumes the exception ring, and
// watches the epoch register for resets it did not ask for. Every wait has a
// deadline on the injected Clock. Device never knows whether the transport is
// the model or a card.
//
// Threading: all public methods are serialised by an internal mutex, so the
// SA manager and the exception consumer may run on different threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inlinesec/abi/abi.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/common/status.h"
#include "inlinesec/driver/transport.h"

namespace inlinesec::driver {

struct DeviceOptions {
  Duration reset_timeout = std::chrono::seconds(1);
  Duration command_timeout = std::chrono::milliseconds(500);
  // Longest single WaitIrq while a command is outstanding.
  Duration poll_interval = std::chrono::microseconds(100);
  // Ring sizes (log2 entries); clamped to the engine's maxima.
  std::uint32_t cmd_ring_log2 = 10;
  std::uint32_t cpl_ring_log2 = 10;
  std::uint32_t exq_ring_log2 = 12;
};

// What the engine announces at attach (Reg::kCap*), as typed fields.
struct Capabilities {
  std::uint16_t abi_major = 0;
  std::uint16_t abi_minor = 0;
  std::uint32_t build = 0;
  std::uint32_t sa_capacity = 0;
  std::uint32_t cmd_ring_log2_max = 0;
  std::uint32_t cpl_ring_log2_max = 0;
  std::uint32_t exq_ring_log2_max = 0;
  std::uint32_t algos = 0;  // bit (1 << abi::Algo)
  std::uint32_t replay_window_max = 0;
  std::uint32_t max_batch = 0;
  bool esn = false;
  bool nat_t = false;
  bool ipv6 = false;
  bool tunnel = false;
  bool transport = false;
  bool lifetime_bytes = false;
  bool lifetime_packets = false;
  bool ike_passthrough = false;
  bool dscp_copy = false;
  bool df_control = false;

  bool SupportsAlgo(abi::Algo a) const { return (algos & abi::AlgoBit(a)) != 0; }
};

// A completion as the driver checked it.
struct Completion {
  std::uint32_t tag = 0;
  abi::Opcode opcode = abi::Opcode::kInvalid;
  abi::CmdStatus status = abi::CmdStatus::kOk;
  std::uint32_t info = 0;  // batch: failed record; else sa_index
  std::uint32_t done = 0;  // records applied
};

// Result of one kWriteSaBatch: the engine applies a batch whole or not at all.
struct BatchOutcome {
  std::uint32_t applied = 0;        // records applied (count or 0)
  Status status;                    // first failure, if any
  std::uint32_t failed_record = 0;  // index into the batch of the bad record
};

struct RegisterValue {
  std::string_view name;
  abi::RegOffset offset;
  std::uint32_t value;
};

// Driver-side counters for diagnosis.
struct DeviceStats {
  std::uint64_t commands = 0;
  std::uint64_t command_errors = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t stale_completions = 0;    // tag matched nothing outstanding
  std::uint64_t corrupt_completions = 0;  // opcode/tag inconsistent: ignored
  std::uint64_t cpl_ring_waits = 0;       // command ring full: waited for the engine
  std::uint64_t resets = 0;
  std::uint64_t unexpected_resets = 0;  // epoch moved without our reset
};

// Maps a completion status to a Status (kOk -> OK), keeping the raw status in
// device_status().
Status CmdStatusToStatus(abi::CmdStatus s, abi::Opcode op, std::uint32_t info);
std::string_view CmdStatusName(abi::CmdStatus s);

class Device {
 public:
  // Opens a device by URI ("model:...", "xrt:..."): see uri.h. Defined in the
  // inlinesec::driver target, which links every transport built.
  [[nodiscard]] static Result<std::unique_ptr<Device>> Open(std::string_view uri,
                                                            const Clock& clock,
                                                            const DeviceOptions& options = {});
  // Attaches to an engine behind `transport`: identifies it, refuses another
  // ABI major, reads capabilities, resets it and brings the rings up.
  [[nodiscard]] static Result<std::unique_ptr<Device>> Attach(std::unique_ptr<Transport> transport,
                                                              const Clock& clock,
                                                              const DeviceOptions& options = {});
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const Capabilities& caps() const { return caps_; }
  Transport& transport() { return *transport_; }
  const Clock& clock() const { return clock_; }

  // CTRL.reset, wait for status::Ready (deadline on the Clock), rings set up
  // again from empty, engine enabled. The SA table is empty afterwards.
  [[nodiscard]] Status Reset();

  // --- commands (each waits for its completion or the command deadline) ---
  [[nodiscard]] Status Nop();
  [[nodiscard]] Status WriteSa(std::uint32_t index, const abi::SaEntry& entry, bool replace);
  // All-or-nothing batch (the engine validates every record first). Up to
  // caps().max_batch records. A transport or timeout failure is the Result's
  // error; an engine refusal is reported in BatchOutcome.
  [[nodiscard]] Result<BatchOutcome> WriteSaBatch(std::span<const abi::SaWriteRecord> records);
  [[nodiscard]] Status InvalidateSa(std::uint32_t index, std::uint32_t expected_spi);
  [[nodiscard]] Result<abi::SaState> ReadSa(std::uint32_t index);
  [[nodiscard]] Status FlushTable();
  [[nodiscard]] Result<abi::GlobalStats> ReadStats();
  // Submits several commands with one doorbell (tags are assigned here) and
  // waits for all of them. `out` receives one completion per command.
  [[nodiscard]] Status Execute(std::span<abi::CmdDesc> cmds, std::span<Completion> out);

  // --- exception ring ---
  // Copies up to out.size() new raw entries (phase-checked only; the caller
  // decodes them as untrusted) and frees their slots. Returns the count.
  [[nodiscard]] Result<std::size_t> ReadExceptions(std::span<abi::ExqEntry> out);
  // Acknowledges exception interrupts (W1C Exq and ExqOverflow).
  void AckExceptionIrq();

  // --- counters, epoch, bring-up ---
  // Reads a 64-bit LO/HI counter register pair (LO latches HI).
  std::uint64_t ReadCounter(abi::Reg lo);
  // The epoch recorded at our last reset.
  std::uint32_t epoch() const {
    std::lock_guard<std::mutex> lock(mu_);
    return epoch_;
  }
  // True if the engine's epoch differs from ours: it was reset (or its
  // firmware restarted) behind our back, so rings and SA table are gone.
  bool EpochChanged();
  std::uint32_t Peek(abi::RegOffset off);
  void Poke(abi::RegOffset off, std::uint32_t value);
  // Named register dump (RegisterTable()); reading latches LO/HI pairs.
  std::vector<RegisterValue> DumpRegisters();
  DeviceStats stats() const;

 private:
  struct Ring {
    DmaBuffer buf;
    std::uint32_t log2 = 0;
    std::uint32_t count = 0;  // host-side free-running count (prod or cons)
  };

  Device(std::unique_ptr<Transport> transport, const Clock& clock, const DeviceOptions& options);
  Status Identify();
  Status AllocateBuffers();
  Status ResetLocked();
  Status WaitStatus(std::uint32_t mask, TimePoint deadline, std::string_view what);
  Status ExecuteLocked(std::span<abi::CmdDesc> cmds, std::span<Completion> out);
  Result<Completion> ExecuteOne(abi::CmdDesc desc);
  // Drains ready completions into `out` (matched by tag), decrementing
  // `remaining` for each outstanding command completed, and frees the slots.
  Status DrainCompletions(std::span<const abi::CmdDesc> cmds, std::span<Completion> out,
                          std::vector<bool>& got, std::size_t& remaining);

  std::unique_ptr<Transport> transport_;
  const Clock& clock_;
  DeviceOptions options_;
  Capabilities caps_;

  mutable std::mutex mu_;
  std::uint32_t epoch_ = 0;
  std::uint32_t next_tag_ = 1;
  bool rings_up_ = false;
  Ring cmd_;
  Ring cpl_;
  Ring exq_;
  std::uint32_t cmd_dev_cons_ = 0;  // last CMD_CONS read
  DmaBuffer staging_;               // SA entries, batches, read-back
  DeviceStats stats_;
};

}  // namespace inlinesec::driver
