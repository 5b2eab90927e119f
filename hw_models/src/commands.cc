// The engine model's command processor (docs/abi/commands.md): takes CmdDesc
// entries from the command ring in order, validates every field before it
// changes anything, executes, and writes one CplEntry per command into the
// completion ring (phase bit in word 1, written last). A batch is validated
// whole and its AEAD contexts built before the first record is installed, so
// a failing batch changes no SA. When the completion ring is full the
// processor stops with status::CplStalled until the host frees a slot.
#include <array>
#include <cstring>
#include <utility>

#include "engine_impl.h"
#include "inlinesec/common/secure_bytes.h"

namespace inlinesec::model {
namespace {

using abi::CmdStatus;

// Wipes the key bytes of SA images copied out of device memory.
class KeyWipe {
 public:
  explicit KeyWipe(abi::SaEntry& e) : e_(e) {}
  ~KeyWipe() { SecureWipe(e_.key); }
  KeyWipe(const KeyWipe&) = delete;
  KeyWipe& operator=(const KeyWipe&) = delete;

 private:
  abi::SaEntry& e_;
};

// Cipher key bytes of an algorithm, 0 if the model does not implement it.
std::uint32_t KeyLenFor(abi::Algo a) {
  switch (a) {
    case abi::Algo::kAesGcm128:
      return 16;
    case abi::Algo::kAesGcm256:
    case abi::Algo::kChaCha20Poly1305:
      return 32;
    default:
      return 0;
  }
}

constexpr std::uint32_t kIcvLen = 16;
constexpr std::uint32_t kMinInboundSpi = 256;  // RFC 4303 §2.1: 1..255 reserved

// True if bytes [from, end) of `b` are all zero. OR-reduced without an early
// exit, 8 bytes at a time while `from` and N allow (it runs for every SA
// written, for the key padding).
template <std::size_t N>
bool ZeroFrom(const std::array<std::uint8_t, N>& b, std::size_t from) {
  std::uint64_t acc = 0;
  std::size_t i = from;
  for (; i % 8 != 0 && i < N; ++i) acc |= b[i];
  for (; i + 8 <= N; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, b.data() + i, 8);
    acc |= w;
  }
  for (; i < N; ++i) acc |= b[i];
  return acc == 0;
}

// An IPv4 address leaves bytes 4..15 zero.
bool Ipv4Clean(const abi::IpAddr& a) {
  static_assert(sizeof(abi::IpAddr) == 16);
  std::uint32_t lo;
  std::uint64_t hi;
  std::memcpy(&lo, a.data() + 4, 4);
  std::memcpy(&hi, a.data() + 8, 8);
  return (lo | hi) == 0;
}

}  // namespace

bool EngineCore::CommandsPending() const {
  if (!enable || !cmd_ring.on() || cmd_ring.prod == cmd_ring.cons) return false;
  return abi::RingUsed(cpl_ring.prod, cpl_ring.cons) < cpl_ring.entries();
}

std::size_t EngineCore::ProcessCommands(std::size_t max) {
  std::size_t n = 0;
  while (n < max) {
    if (!enable || !cmd_ring.on()) break;
    const std::uint32_t queued = abi::RingUsed(cmd_ring.prod, cmd_ring.cons);
    if (queued == 0) break;
    if (queued > cmd_ring.entries()) {
      // The host moved its producer more than a ring ahead: its own commands
      // are overwritten. Stop for good; only a reset recovers.
      enable = false;
      status = abi::status::Enabled::Set(status, 0);
      status = abi::status::Fatal::Set(status, 1);
      RaiseIrq(abi::irq::Fatal::Set(0, 1));
      break;
    }
    if (abi::RingUsed(cpl_ring.prod, cpl_ring.cons) >= cpl_ring.entries()) {
      status = abi::status::CplStalled::Set(status, 1);
      break;
    }
    status = abi::status::CplStalled::Set(status, 0);
    abi::CmdDesc cmd;
    const std::uint64_t at = cmd_ring.base() + std::uint64_t{abi::kCmdEntryBytes} *
                                                   abi::RingSlot(cmd_ring.cons, cmd_ring.size_log2);
    std::memcpy(&cmd, DevPtr(at), sizeof(cmd));  // ring validated at enable
    const CmdOutcome out = Execute(cmd);
    if (out.reset) break;  // the engine reset: rings are gone, no completion
    WriteCompletion(cmd, out);
    ++cmd_ring.cons;
    ++n;
  }
  return n;
}

void EngineCore::WriteCompletion(const abi::CmdDesc& cmd, const CmdOutcome& out) {
  abi::CplEntry c{};
  c.tag = cmd.tag;
  c.info.set(out.info);
  c.done.set(out.done);
  std::uint32_t ctl = abi::cpl_ctl::Opcode::Set(0, cmd.opcode);
  ctl = abi::cpl_ctl::Status::Set(ctl, static_cast<std::uint32_t>(out.status));
  ctl = abi::cpl_ctl::Phase::Set(ctl, abi::RingPhase(cpl_ring.prod, cpl_ring.size_log2));
  c.ctl.set(ctl);
  std::uint8_t* slot =
      DevPtr(cpl_ring.base() +
             std::uint64_t{abi::kCplEntryBytes} * abi::RingSlot(cpl_ring.prod, cpl_ring.size_log2));
  // Words 0, 2, 3 first; word 1 (phase) last.
  std::memcpy(slot, c.tag.b.data(), 4);
  std::memcpy(slot + 8, c.info.b.data(), 4);
  std::memcpy(slot + 12, c.done.b.data(), 4);
  std::memcpy(slot + 4, c.ctl.b.data(), 4);
  ++cpl_ring.prod;
  ++counters.cmd_done;
  if (out.status != CmdStatus::kOk) ++counters.cmd_errors;
  RaiseIrq(abi::irq::Cpl::Set(0, 1));
}

EngineCore::CmdOutcome EngineCore::Execute(const abi::CmdDesc& cmd) {
  const auto op = static_cast<abi::Opcode>(cmd.opcode);
  CmdOutcome out;
  // info: a batch reports the failing record's position (0 when the whole
  // command fails); every other opcode echoes sa_index.
  out.info = op == abi::Opcode::kWriteSaBatch ? 0 : cmd.sa_index.get();
  if (faults.fail_commands > 0) {  // fault: engine error, nothing changes
    --faults.fail_commands;
    out.status = CmdStatus::kInternal;
    return out;
  }
  switch (op) {
    case abi::Opcode::kNop:
    case abi::Opcode::kWriteSa:
    case abi::Opcode::kWriteSaBatch:
    case abi::Opcode::kInvalidateSa:
    case abi::Opcode::kReadSa:
    case abi::Opcode::kFlushTable:
    case abi::Opcode::kReadStats:
      break;
    default:
      out.status = CmdStatus::kBadOpcode;
      return out;
  }
  // Reserved bytes, undefined flag bits, and Replace on an opcode that has no
  // use for it.
  if (!abi::AllZero(cmd.rsvd_0x02) || !abi::AllZero(cmd.rsvd_0x20) ||
      (cmd.flags & ~abi::cmd_flags::kDefinedMask) != 0 ||
      (cmd.flags != 0 && op != abi::Opcode::kWriteSa)) {
    out.status = CmdStatus::kReservedNonZero;
    return out;
  }
  switch (op) {
    case abi::Opcode::kNop:
      out.done = 1;
      return out;
    case abi::Opcode::kWriteSa:
      return WriteSa(cmd);
    case abi::Opcode::kWriteSaBatch:
      return WriteSaBatch(cmd);
    case abi::Opcode::kInvalidateSa:
      return InvalidateSa(cmd);
    case abi::Opcode::kReadSa:
      return ReadSa(cmd);
    case abi::Opcode::kFlushTable:
      RemoveAllSas();
      out.done = 1;
      return out;
    case abi::Opcode::kReadStats:
      return ReadStats(cmd);
    default:
      break;
  }
  out.status = CmdStatus::kBadOpcode;
  return out;
}

// Checks one SA image for table slot `index`, in this order: reserved and
// undefined bits, Valid, algorithm, key/ICV lengths and key padding,
// capability features, other field ranges, inbound SPI rule.
CmdStatus EngineCore::CheckEntry(const abi::SaEntry& e, std::uint32_t index) const {
  namespace ctl = abi::sa_ctl;
  namespace cf = abi::cap_features;
  const std::uint32_t c = e.ctl.get();
  const std::uint32_t crypto = e.crypto.get();
  const std::uint32_t replay = e.replay.get();
  const std::uint32_t outer = e.outer.get();
  if ((c & ~ctl::kDefinedMask) != 0 || (replay & ~abi::sa_replay::kDefinedMask) != 0 ||
      (outer & ~abi::sa_outer::kDefinedMask) != 0 || !abi::AllZero(e.rsvd_0x1c) ||
      !abi::AllZero(e.rsvd_0xb0))
    return CmdStatus::kReservedNonZero;
  if (ctl::Valid::Get(c) == 0) return CmdStatus::kBadParam;

  const std::uint32_t algo = abi::sa_crypto::Algo::Get(crypto);
  if (algo >= 32 || (config.algos & (1u << algo)) == 0) return CmdStatus::kBadAlgo;
  const std::uint32_t key_len = KeyLenFor(static_cast<abi::Algo>(algo));
  if (key_len == 0) return CmdStatus::kBadAlgo;
  if (abi::sa_crypto::KeyLen::Get(crypto) != key_len ||
      abi::sa_crypto::IcvLen::Get(crypto) != kIcvLen ||
      abi::sa_crypto::AuthKeyLen::Get(crypto) != 0)
    return CmdStatus::kBadKeyLen;
  if (!ZeroFrom(e.key, key_len)) return CmdStatus::kBadKeyLen;

  const std::uint32_t f = config.features;
  const bool esn = ctl::Esn::Get(c) != 0;
  const bool tunnel = ctl::Mode::Get(c) == static_cast<std::uint32_t>(abi::Mode::kTunnel);
  const std::uint32_t df = ctl::DfMode::Get(c);
  const bool has_byte_limits = e.soft_bytes.get() != 0 || e.hard_bytes.get() != 0;
  const bool has_pkt_limits = e.soft_packets.get() != 0 || e.hard_packets.get() != 0;
  if ((esn && cf::Esn::Get(f) == 0) || (ctl::UdpEncap::Get(c) != 0 && cf::NatT::Get(f) == 0) ||
      (ctl::OuterV6::Get(c) != 0 && cf::Ipv6::Get(f) == 0) || (tunnel && cf::Tunnel::Get(f) == 0) ||
      (!tunnel && cf::Transport::Get(f) == 0) ||
      (has_byte_limits && cf::LifetimeBytes::Get(f) == 0) ||
      (has_pkt_limits && cf::LifetimePkts::Get(f) == 0) ||
      ((df == static_cast<std::uint32_t>(abi::DfMode::kSet) ||
        df == static_cast<std::uint32_t>(abi::DfMode::kClear)) &&
       cf::DfControl::Get(f) == 0) ||
      (ctl::DscpMode::Get(c) == static_cast<std::uint32_t>(abi::DscpMode::kSet) &&
       cf::DscpCopy::Get(f) == 0))
    return CmdStatus::kUnsupported;

  const std::uint32_t window = abi::sa_replay::Window::Get(replay);
  if (window % 32 != 0 || window > config.replay_window_max) return CmdStatus::kBadParam;
  if (df == 3) return CmdStatus::kBadParam;
  if (!esn && (e.seq.get() >> 32) != 0) return CmdStatus::kBadParam;
  if (e.soft_bytes.get() != 0 && e.hard_bytes.get() != 0 && e.soft_bytes.get() > e.hard_bytes.get())
    return CmdStatus::kBadParam;
  if (e.soft_packets.get() != 0 && e.hard_packets.get() != 0 &&
      e.soft_packets.get() > e.hard_packets.get())
    return CmdStatus::kBadParam;
  if (ctl::OuterV6::Get(c) == 0 && (!Ipv4Clean(e.src) || !Ipv4Clean(e.dst)))
    return CmdStatus::kBadParam;

  if (ctl::Dir::Get(c) == static_cast<std::uint32_t>(abi::Dir::kInbound)) {
    const std::uint32_t spi = e.spi.get();
    if (spi < kMinInboundSpi || (spi & index_mask) != index) return CmdStatus::kBadSpi;
  }
  return CmdStatus::kOk;
}

Result<std::unique_ptr<SaSlot>> EngineCore::BuildSlot(const abi::SaEntry& e, std::uint32_t index) {
  std::unique_ptr<SaSlot> slot =
      spare_slots_.empty() ? std::make_unique<SaSlot>() : spare_slots_.Pop();
  slot->index = index;
  slot->entry = e;
  slot->spi = e.spi.get();
  slot->ctl = e.ctl.get();
  slot->cookie = e.cookie.get();
  slot->limits =
      SaLimits{e.soft_packets.get(), e.hard_packets.get(), e.soft_bytes.get(), e.hard_bytes.get()};
  slot->limited = slot->limits.any();
  const std::uint32_t crypto = e.crypto.get();
  const auto algo = static_cast<abi::Algo>(abi::sa_crypto::Algo::Get(crypto));
  const std::size_t key_len = abi::sa_crypto::KeyLen::Get(crypto);
  const auto key = std::span<const std::uint8_t>(e.key).first(key_len);
  const auto salt = std::span<const std::uint8_t, esp::kSaltBytes>(e.salt);
  // A spare context of the same algorithm is re-keyed in place.
  if (!slot->aead || slot->aead->algo() != algo || !slot->aead->Rekey(key, salt)) {
    auto aead = esp::Aead::Create(ciphers_, algo, key, salt);
    if (!aead.ok()) {
      Recycle(std::move(slot));
      return aead.status();
    }
    slot->aead.emplace(std::move(aead).value());
  }
  if (slot->inbound()) {
    slot->replay.emplace(abi::sa_replay::Window::Get(e.replay.get()), slot->esn(), e.seq.get());
  } else {
    slot->tx_seq = e.seq.get();
    esp::PlanTx(e, slot->tx);
  }
  return slot;
}

bool EngineCore::CheckSaCommand(const abi::CmdDesc& cmd, std::size_t dma_min,
                                CmdOutcome& out) const {
  out.info = cmd.sa_index.get();
  if (out.info > index_mask) {
    out.status = CmdStatus::kBadIndex;
    return false;
  }
  return dma_min == 0 || CheckDma(cmd, dma_min, out);
}

bool EngineCore::CheckDma(const abi::CmdDesc& cmd, std::size_t dma_min, CmdOutcome& out) const {
  const std::uint32_t len = cmd.dma_len.get();
  if (len < dma_min || !InDevMem(cmd.dma_addr.get(), len)) {
    out.status = CmdStatus::kDmaRange;
    return false;
  }
  return true;
}

const SaSlot* EngineCore::NamedSlot(const abi::CmdDesc& cmd, CmdOutcome& out) const {
  const SaSlot* slot = SlotAt(cmd.sa_index.get());
  const std::uint32_t spi = cmd.spi.get();
  if (slot == nullptr || (spi != 0 && slot->spi != spi)) {
    out.status = CmdStatus::kNotFound;
    return nullptr;
  }
  return slot;
}

EngineCore::CmdOutcome EngineCore::WriteSa(const abi::CmdDesc& cmd) {
  CmdOutcome out;
  if (!CheckSaCommand(cmd, sizeof(abi::SaEntry), out)) return out;
  const std::uint32_t index = out.info;
  abi::SaEntry e;
  KeyWipe wipe(e);
  std::memcpy(&e, DevPtr(cmd.dma_addr.get()), sizeof(e));
  out.status = CheckEntry(e, index);
  if (out.status != CmdStatus::kOk) return out;
  if (SlotAt(index) != nullptr && abi::cmd_flags::Replace::Get(cmd.flags) == 0) {
    out.status = CmdStatus::kExists;
    return out;
  }
  auto slot = BuildSlot(e, index);
  if (!slot.ok()) {
    out.status = CmdStatus::kInternal;
    return out;
  }
  InstallSa(std::move(slot).value());
  out.done = 1;
  return out;
}

EngineCore::CmdOutcome EngineCore::WriteSaBatch(const abi::CmdDesc& cmd) {
  CmdOutcome out;
  out.info = 0;
  const std::uint32_t count = cmd.count.get();
  const std::uint64_t addr = cmd.dma_addr.get();
  const std::uint32_t len = cmd.dma_len.get();
  if (count == 0 || count > config.max_batch ||
      std::uint64_t{len} != std::uint64_t{count} * sizeof(abi::SaWriteRecord)) {
    out.status = CmdStatus::kBadBatch;
    return out;
  }
  if (!InDevMem(addr, len)) {
    out.status = CmdStatus::kDmaRange;
    return out;
  }
  // The records are read where the host put them in device memory, as the
  // engine's DMA would fetch them, without a copy of the batch (and of its
  // keys) of its own: nothing writes device memory while a command runs
  // (the engine is single-threaded; the transport holds its lock), and
  // calloc'd device memory holds implicit-lifetime objects of any such
  // byte-array type (alignment 1).
  const auto* batch_records = reinterpret_cast<const abi::SaWriteRecord*>(DevPtr(addr));

  // Open-addressing set of the indices seen so far, to find duplicates.
  std::size_t set_size = 16;
  while (set_size < 2 * std::size_t{count}) set_size *= 2;
  batch_seen_.assign(set_size, kNoSlot);
  const std::size_t set_mask = set_size - 1;

  // Phase 1: validate every record; the first bad one fails the batch.
  for (std::uint32_t i = 0; i < count; ++i) {
    const abi::SaWriteRecord& rec = batch_records[i];
    out.info = i;
    const std::uint32_t index = rec.index.get();
    if (index > index_mask) {
      out.status = CmdStatus::kBadIndex;
      return out;
    }
    if ((rec.flags.get() & ~abi::cmd_flags::kDefinedMask) != 0 || !abi::AllZero(rec.rsvd_0x08)) {
      out.status = CmdStatus::kReservedNonZero;
      return out;
    }
    out.status = CheckEntry(rec.entry, index);
    if (out.status != CmdStatus::kOk) return out;
    std::size_t h = (index * 0x9E3779B1u) & set_mask;
    while (batch_seen_[h] != kNoSlot && batch_seen_[h] != index) h = (h + 1) & set_mask;
    if (batch_seen_[h] == index) {
      out.status = CmdStatus::kDuplicate;
      return out;
    }
    batch_seen_[h] = index;
    if (SlotAt(index) != nullptr && abi::cmd_flags::Replace::Get(rec.flags.get()) == 0) {
      out.status = CmdStatus::kExists;
      return out;
    }
  }
  // Phase 2: build every SA's runtime (AEAD key schedule) before touching
  // the table, so even an internal failure leaves the table as it was.
  // Slots not installed when this returns (a failure, a reset) go back to
  // the spares.
  struct Unbuild {
    EngineCore& e;
    ~Unbuild() {
      for (auto& s : e.batch_built_) {
        if (s != nullptr) e.Recycle(std::move(s));
      }
      e.batch_built_.clear();
    }
  } unbuild{*this};
  std::vector<std::unique_ptr<SaSlot>>& built = batch_built_;
  built.clear();
  for (std::uint32_t i = 0; i < count; ++i) {
    auto slot = BuildSlot(batch_records[i].entry, batch_records[i].index.get());
    if (!slot.ok()) {
      out.info = i;
      out.status = CmdStatus::kInternal;
      return out;
    }
    built.push_back(std::move(slot).value());
  }
  // Phase 3: install.
  for (std::uint32_t i = 0; i < count; ++i) {
    if (faults.reset_after_records > 0 && i == faults.reset_after_records) {
      faults.reset_after_records = 0;  // fault: the engine resets mid-batch
      Reset();
      out.reset = true;
      return out;
    }
    InstallSa(std::move(built[i]));
  }
  out.info = 0;
  out.done = count;
  return out;
}

EngineCore::CmdOutcome EngineCore::InvalidateSa(const abi::CmdDesc& cmd) {
  CmdOutcome out;
  if (!CheckSaCommand(cmd, 0, out) || NamedSlot(cmd, out) == nullptr) return out;
  RemoveSa(out.info);
  out.done = 1;
  return out;
}

EngineCore::CmdOutcome EngineCore::ReadSa(const abi::CmdDesc& cmd) {
  CmdOutcome out;
  if (!CheckSaCommand(cmd, sizeof(abi::SaState), out)) return out;
  const SaSlot* slot = NamedSlot(cmd, out);
  if (slot == nullptr) return out;
  abi::SaState s{};
  s.spi = slot->entry.spi;
  s.ctl = slot->entry.ctl;
  s.state.set(slot->state);
  s.seq.set(slot->CurrentSeq());
  s.packets.set(slot->counters.packets);
  s.bytes.set(slot->counters.bytes);
  s.replay_drops.set(slot->counters.replay_drops);
  s.auth_fails.set(slot->counters.auth_fails);
  s.cookie = slot->entry.cookie;
  std::memcpy(DevPtr(cmd.dma_addr.get()), &s, sizeof(s));
  out.done = 1;
  return out;
}

EngineCore::CmdOutcome EngineCore::ReadStats(const abi::CmdDesc& cmd) {
  CmdOutcome out;
  out.info = cmd.sa_index.get();
  if (!CheckDma(cmd, sizeof(abi::GlobalStats), out)) return out;
  const EngineCounters& k = counters;
  abi::GlobalStats g{};
  g.rx_packets.set(k.rx_packets);
  g.rx_bytes.set(k.rx_bytes);
  g.tx_packets.set(k.tx_packets);
  g.tx_bytes.set(k.tx_bytes);
  g.spi_miss.set(k.spi_miss);
  g.replay_drops.set(k.replay_drops);
  g.auth_fails.set(k.auth_fails);
  g.malformed.set(k.malformed);
  g.lifetime_drops.set(k.lifetime_drops);
  g.seq_overflows.set(k.seq_overflows);
  g.exq_posted.set(k.exq_posted);
  g.exq_dropped.set(k.exq_dropped);
  g.cmd_done.set(k.cmd_done);
  g.cmd_errors.set(k.cmd_errors);
  g.ike_passthrough.set(k.ike_passthrough);
  g.tx_no_sa.set(k.tx_no_sa);
  std::memcpy(DevPtr(cmd.dma_addr.get()), &g, sizeof(g));
  out.done = 1;
  return out;
}

}  // namespace inlinesec::model
