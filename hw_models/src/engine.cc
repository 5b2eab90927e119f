// The engine model's register file, device memory, reset and exception ring,
// and the thin Engine facade over EngineCore. Registers follow
// firmware_iface/include/inlinesec/abi/regs.h and docs/abi/registers.md:
// unknown or unaligned offsets read 0 and ignore writes, RO registers ignore
// writes, IRQ_CAUSE is write-1-to-clear, CTRL.Reset is write-1-to-trigger, and
// reading a counter's LO half latches the upper half for the next HI read.
#include <cstdlib>
#include <cstring>

#include "engine_impl.h"
#include "inlinesec/common/check.h"
#include "inlinesec/common/secure_bytes.h"

namespace inlinesec::model {
namespace {

using abi::Off;
using abi::Reg;
using abi::RingReg;

constexpr std::uint32_t kMaxCapacityLog2 = 24;
constexpr std::uint32_t kMinCapacityLog2 = 4;
constexpr std::uint32_t kModelReplayMax = 4096;  // what esp::ReplayWindow supports
constexpr std::uint32_t kMaxBatchLimit = 1u << 16;
constexpr std::uint32_t kRingLog2Limit = 24;
constexpr std::uint64_t kDevMemMin = 4096;
constexpr std::uint64_t kDevMemMax = 1ull << 34;  // 16 GiB
// Algorithms the model implements (CBC+HMAC is reserved in ABI v1.0).
constexpr std::uint32_t kModelAlgos = abi::AlgoBit(abi::Algo::kAesGcm128) |
                                      abi::AlgoBit(abi::Algo::kAesGcm256) |
                                      abi::AlgoBit(abi::Algo::kChaCha20Poly1305);
constexpr std::uint32_t kAllFeatures = 0x3FF;  // every cap_features bit of ABI v1.0
constexpr std::size_t kCounterCount = 8;       // 0x200 .. 0x23F, LO/HI pairs

bool IsPow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Ring block containing `off`, and the register offset inside it.
bool RingOf(abi::RegOffset off, Reg& ring, abi::RegOffset& rel) {
  for (Reg r : {Reg::kCmdRing, Reg::kCplRing, Reg::kExqRing}) {
    if (off >= Off(r) && off <= abi::RingOff(r, RingReg::kCons)) {
      ring = r;
      rel = off - Off(r);
      return true;
    }
  }
  return false;
}

}  // namespace

void FreeDeleter::operator()(void* p) const { std::free(p); }

SaSlot::~SaSlot() { SecureWipe(entry.key); }

// ---------------------------------------------------------------- lifecycle

EngineCore::EngineCore(const EngineConfig& cfg, const Clock& clk) : config(cfg), clock(clk) {
  INLINESEC_CHECK(Engine::CheckConfig(cfg).ok());
  dev_mem.reset(static_cast<std::uint8_t*>(std::calloc(cfg.dev_mem_bytes, 1)));
  INLINESEC_CHECK(dev_mem != nullptr);
  sa_index.reset(static_cast<SaIndexEntry*>(std::calloc(cfg.sa_capacity, sizeof(SaIndexEntry))));
  INLINESEC_CHECK(sa_index != nullptr);
  index_mask = cfg.sa_capacity - 1;
  Reset();  // power-on reset: epoch becomes 1
}

EngineCore::~EngineCore() { ClearSas(/*keep_for_reuse=*/false); }

void EngineCore::Reset() {
  ClearSas(/*keep_for_reuse=*/false);  // wipes every key, frees every context
  spare_slots_.Clear();                // scrubbed already; freeing cleanses again
  pool.clear();
  free_pool.clear();
  pool.shrink_to_fit();
  free_pool.shrink_to_fit();
  spare_slots_.ShrinkToFit();
  enable = false;
  cmd_ring = RingRegs{};
  cpl_ring = RingRegs{};
  exq_ring = RingRegs{};
  counters = EngineCounters{};
  counter_latch.fill(0);
  irq_mask = 0;
  scratch = 0;
  ++epoch;
  status = abi::status::Ready::Set(0, 1);
  irq_cause = abi::irq::ResetDone::Set(0, 1);
}

Status Engine::CheckConfig(const EngineConfig& c) {
  if (!IsPow2(c.sa_capacity) || c.sa_capacity < (1u << kMinCapacityLog2) ||
      c.sa_capacity > (1u << kMaxCapacityLog2))
    return Status(Code::kInvalidArgument, "sa_capacity must be a power of two in 2^4 .. 2^24");
  if (c.replay_window_max < 32 || c.replay_window_max > kModelReplayMax ||
      c.replay_window_max % 32 != 0)
    return Status(Code::kInvalidArgument, "replay_window_max must be a multiple of 32, 32 .. 4096");
  if (c.max_batch == 0 || c.max_batch > kMaxBatchLimit)
    return Status(Code::kInvalidArgument, "max_batch must be 1 .. 65536");
  if (c.ring_log2_max < abi::kRingLog2Min || c.ring_log2_max > kRingLog2Limit)
    return Status(Code::kInvalidArgument, "ring_log2_max must be 4 .. 24");
  if (c.dev_mem_base % abi::kRingAlign != 0)
    return Status(Code::kInvalidArgument, "dev_mem_base must be 64-byte aligned");
  if (c.dev_mem_bytes < kDevMemMin || c.dev_mem_bytes > kDevMemMax ||
      c.dev_mem_bytes % abi::kRingAlign != 0)
    return Status(Code::kInvalidArgument,
                  "dev_mem_bytes must be a multiple of 64 in 4 KiB .. 16 GiB");
  if (c.dev_mem_base > UINT64_MAX - c.dev_mem_bytes)
    return Status(Code::kInvalidArgument, "device memory wraps the 64-bit address space");
  if (c.algos == 0 || (c.algos & ~kModelAlgos) != 0)
    return Status(Code::kInvalidArgument, "algos must be a non-empty subset of what the model has");
  if ((c.features & ~kAllFeatures) != 0)
    return Status(Code::kInvalidArgument, "features has bits outside cap_features");
  return Status::Ok();
}

std::uint64_t EngineCore::Now() const {
  const auto ns = clock.Now().since_epoch.count();
  return ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
}

// ---------------------------------------------------------------- device memory

bool EngineCore::InDevMem(std::uint64_t addr, std::uint64_t len) const {
  if (addr < config.dev_mem_base) return false;
  const std::uint64_t off = addr - config.dev_mem_base;
  return off <= config.dev_mem_bytes && len <= config.dev_mem_bytes - off;
}

Status EngineCore::DevWrite(std::uint64_t dev_addr, std::span<const std::uint8_t> src) {
  if (!InDevMem(dev_addr, src.size()))
    return Status(Code::kOutOfRange, "DMA write outside device memory");
  if (!src.empty()) std::memcpy(DevPtr(dev_addr), src.data(), src.size());
  return Status::Ok();
}

Status EngineCore::DevRead(std::uint64_t dev_addr, std::span<std::uint8_t> dst) const {
  if (!InDevMem(dev_addr, dst.size()))
    return Status(Code::kOutOfRange, "DMA read outside device memory");
  if (!dst.empty())
    std::memcpy(dst.data(), dev_mem.get() + (dev_addr - config.dev_mem_base), dst.size());
  return Status::Ok();
}

// ---------------------------------------------------------------- registers

std::uint64_t EngineCore::CounterValue(std::size_t i) const {
  switch (i) {
    case 0:
      return counters.rx_packets;
    case 1:
      return counters.tx_packets;
    case 2:
      return counters.spi_miss;
    case 3:
      return counters.exq_dropped;
    case 4:
      return counters.cmd_done;
    case 5:
      return counters.cmd_errors;
    case 6:
      return counters.rx_dropped;
    case 7:
      return counters.tx_dropped;
    default:
      return 0;
  }
}

std::uint32_t EngineCore::Read32(abi::RegOffset off) {
  if (off % 4 != 0 || off >= abi::kRegSpaceBytes) return 0;
  switch (static_cast<Reg>(off)) {
    case Reg::kId:
      return abi::kEngineMagic;
    case Reg::kAbiVersion:
      return abi::abi_version::Major::Set(abi::abi_version::Minor::Set(0, abi::kAbiMinor),
                                          abi::kAbiMajor);
    case Reg::kBuild:
      return kModelBuildId;
    case Reg::kEpoch:
      return epoch;
    case Reg::kCapSaCapacity:
      return config.sa_capacity;
    case Reg::kCapRings: {
      std::uint32_t v = abi::cap_rings::CmdLog2Max::Set(0, config.ring_log2_max);
      v = abi::cap_rings::CplLog2Max::Set(v, config.ring_log2_max);
      return abi::cap_rings::ExqLog2Max::Set(v, config.ring_log2_max);
    }
    case Reg::kCapAlgos:
      return config.algos;
    case Reg::kCapFeatures:
      return config.features;
    case Reg::kCapReplayWindow:
      return config.replay_window_max;
    case Reg::kCapMaxBatch:
      return config.max_batch;
    case Reg::kCtrl:
      return abi::ctrl::Enable::Set(0, enable ? 1 : 0);
    case Reg::kStatus:
      return status;
    case Reg::kIrqCause:
      return irq_cause;
    case Reg::kIrqMask:
      return irq_mask;
    case Reg::kScratch:
      return scratch;
    default:
      break;
  }
  Reg ring;
  abi::RegOffset rel;
  if (RingOf(off, ring, rel)) {
    RingRegs& r = ring == Reg::kCmdRing ? cmd_ring : ring == Reg::kCplRing ? cpl_ring : exq_ring;
    return ReadRing(r, rel);
  }
  const abi::RegOffset cnt_base = Off(Reg::kCntRxPkts);
  if (off >= cnt_base && off < cnt_base + 8 * kCounterCount) {
    const std::size_t i = (off - cnt_base) / 8;
    if ((off - cnt_base) % 8 == 0) {  // LO: latch the whole value
      const std::uint64_t v = CounterValue(i);
      counter_latch[i] = static_cast<std::uint32_t>(v >> 32);
      return static_cast<std::uint32_t>(v);
    }
    return counter_latch[i];  // HI: the half latched by the last LO read
  }
  return 0;
}

std::uint32_t EngineCore::ReadRing(RingRegs& r, abi::RegOffset rel) const {
  switch (static_cast<RingReg>(rel)) {
    case RingReg::kBaseLo:
      return r.base_lo;
    case RingReg::kBaseHi:
      return r.base_hi;
    case RingReg::kSizeLog2:
      return r.size_log2;
    case RingReg::kProd:
      return r.prod;
    case RingReg::kCons:
      return r.cons;
  }
  return 0;
}

void EngineCore::Write32(abi::RegOffset off, std::uint32_t value) {
  if (off % 4 != 0 || off >= abi::kRegSpaceBytes) return;
  switch (static_cast<Reg>(off)) {
    case Reg::kCtrl:
      if (abi::ctrl::Reset::Get(value) != 0) {
        Reset();  // W1S; the Enable bit of the same write is ignored
      } else {
        SetEnable(abi::ctrl::Enable::Get(value) != 0);
      }
      return;
    case Reg::kIrqCause:
      irq_cause &= ~value;
      return;
    case Reg::kIrqMask:
      irq_mask = value & abi::irq::kAll;
      return;
    case Reg::kScratch:
      scratch = value;
      return;
    default:
      break;
  }
  Reg ring;
  abi::RegOffset rel;
  if (RingOf(off, ring, rel)) {
    RingRegs& r = ring == Reg::kCmdRing ? cmd_ring : ring == Reg::kCplRing ? cpl_ring : exq_ring;
    WriteRing(ring, r, rel, value);
  }
  // Everything else is RO or unmapped: the write is ignored.
}

void EngineCore::WriteRing(Reg ring, RingRegs& r, abi::RegOffset rel, std::uint32_t v) {
  switch (static_cast<RingReg>(rel)) {
    case RingReg::kBaseLo:
      if (!enable) r.base_lo = v;
      return;
    case RingReg::kBaseHi:
      if (!enable) r.base_hi = v;
      return;
    case RingReg::kSizeLog2:
      if (!enable) r.size_log2 = v;
      return;
    case RingReg::kProd:
      if (ring != Reg::kCmdRing) return;  // device-owned on cpl/exq
      if (faults.drop_doorbells > 0) {    // fault: this doorbell is lost
        --faults.drop_doorbells;
        return;
      }
      r.prod = v;
      return;
    case RingReg::kCons:
      if (ring == Reg::kCmdRing) return;  // device-owned on the command ring
      r.cons = v;
      if (ring == Reg::kCplRing) UpdateCplStall();
      return;
  }
}

bool EngineCore::RingConfigOk(const RingRegs& r, std::uint32_t entry_bytes) const {
  if (!r.on()) return true;
  if (r.size_log2 < abi::kRingLog2Min || r.size_log2 > config.ring_log2_max) return false;
  if (r.base() % abi::kRingAlign != 0) return false;
  return InDevMem(r.base(), std::uint64_t{entry_bytes} << r.size_log2);
}

void EngineCore::SetEnable(bool on) {
  if (!on) {
    enable = false;
    status = abi::status::Enabled::Set(status, 0);
    status = abi::status::CplStalled::Set(status, 0);
    return;
  }
  if (enable) return;
  // Fatal: only a reset brings the engine back.
  if (abi::status::Fatal::Get(status) != 0) return;
  const bool ok = RingConfigOk(cmd_ring, abi::kCmdEntryBytes) &&
                  RingConfigOk(cpl_ring, abi::kCplEntryBytes) &&
                  RingConfigOk(exq_ring, abi::kExqEntryBytes) &&
                  (!cmd_ring.on() || cpl_ring.on());  // commands need somewhere to complete
  if (!ok) {
    status = abi::status::CfgError::Set(status, 1);
    return;
  }
  enable = true;
  status = abi::status::CfgError::Set(status, 0);
  status = abi::status::Enabled::Set(status, 1);
}

void EngineCore::UpdateCplStall() {
  if (abi::status::CplStalled::Get(status) == 0) return;
  if (!cpl_ring.on() || abi::RingUsed(cpl_ring.prod, cpl_ring.cons) < cpl_ring.entries())
    status = abi::status::CplStalled::Set(status, 0);
}

// ---------------------------------------------------------------- exception ring

bool EngineCore::PostException(const ExceptionInfo& info) {
  const bool room =
      enable && exq_ring.on() && abi::RingUsed(exq_ring.prod, exq_ring.cons) < exq_ring.entries();
  if (!room) {
    ++counters.exq_dropped;
    RaiseIrq(abi::irq::ExqOverflow::Set(0, 1));
    return false;
  }
  abi::ExqEntry e{};
  e.spi.set(info.spi);
  e.sa_index.set(info.sa_index);
  e.orig_len.set(info.orig_len);
  e.seq.set(info.seq);
  e.timestamp.set(Now());
  e.src = info.src;
  e.dst = info.dst;
  e.sport.set(info.sport);
  e.dport.set(info.dport);
  const std::size_t snap_len =
      info.snap.size() < abi::kExqSnapBytes ? info.snap.size() : abi::kExqSnapBytes;
  if (snap_len != 0) std::memcpy(e.snap.data(), info.snap.data(), snap_len);

  std::uint32_t reason = static_cast<std::uint32_t>(info.reason);
  std::uint32_t snap_field = static_cast<std::uint32_t>(snap_len);
  if (faults.corrupt_exq > 0) {  // fault: values a bounded decoder must reject
    --faults.corrupt_exq;
    reason = 0xEE;
    snap_field = abi::exq_ctl::SnapLen::kMax;
  }
  std::uint32_t ctl = abi::exq_ctl::Reason::Set(0, reason);
  ctl = abi::exq_ctl::V6::Set(ctl, info.v6 ? 1 : 0);
  ctl = abi::exq_ctl::UdpEncap::Set(ctl, info.udp_encap ? 1 : 0);
  ctl = abi::exq_ctl::Outbound::Set(ctl, info.outbound ? 1 : 0);
  ctl = abi::exq_ctl::SnapLen::Set(ctl, snap_field);
  ctl = abi::exq_ctl::Phase::Set(ctl, abi::RingPhase(exq_ring.prod, exq_ring.size_log2));

  // The ring was validated when the engine was enabled, so the slot is in
  // device memory. Words 1.. first, then word 0 with the phase bit.
  std::uint8_t* slot =
      DevPtr(exq_ring.base() +
             std::uint64_t{abi::kExqEntryBytes} * abi::RingSlot(exq_ring.prod, exq_ring.size_log2));
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(&e);
  std::memcpy(slot + 4, bytes + 4, sizeof(e) - 4);
  e.ctl.set(ctl);
  std::memcpy(slot, e.ctl.b.data(), 4);
  ++exq_ring.prod;
  ++counters.exq_posted;
  RaiseIrq(abi::irq::Exq::Set(0, 1));
  return true;
}

// ---------------------------------------------------------------- Engine facade

Engine::Engine(const EngineConfig& config, const Clock& clock)
    : impl_(std::make_unique<Impl>(config, clock)) {}
Engine::~Engine() = default;

std::uint32_t Engine::Read32(abi::RegOffset off) { return impl_->Read32(off); }
void Engine::Write32(abi::RegOffset off, std::uint32_t value) { impl_->Write32(off, value); }
Status Engine::DevWrite(std::uint64_t dev_addr, std::span<const std::uint8_t> src) {
  return impl_->DevWrite(dev_addr, src);
}
Status Engine::DevRead(std::uint64_t dev_addr, std::span<std::uint8_t> dst) const {
  return impl_->DevRead(dev_addr, dst);
}
bool Engine::IrqAsserted() const { return impl_->IrqAsserted(); }
std::size_t Engine::ProcessCommands(std::size_t max) { return impl_->ProcessCommands(max); }
bool Engine::CommandsPending() const { return impl_->CommandsPending(); }
FaultPlan& Engine::faults() { return impl_->faults; }
const EngineConfig& Engine::config() const { return impl_->config; }

}  // namespace inlinesec::model
