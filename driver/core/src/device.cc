// Device: identification, reset, ring setup, the command path (tags, phase-bit
// completion consumer, deadlines on the injected Clock), the exception ring
// consumer and epoch tracking. See device.h.
#include "inlinesec/driver/device.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "inlinesec/driver/registers.h"

namespace inlinesec::driver {
namespace {

using abi::Off;
using abi::Reg;
using abi::RingOff;
using abi::RingReg;

constexpr std::uint32_t kAllOnes = 0xFFFFFFFFu;
// Upper bound on a batch staging buffer whatever the engine announces.
constexpr std::uint32_t kMaxBatchSupported = 1u << 16;

std::string Hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

template <typename T>
std::span<const std::uint8_t> BytesOf(const T& v) {
  return {reinterpret_cast<const std::uint8_t*>(&v), sizeof(T)};
}
template <typename T>
std::span<std::uint8_t> BytesOf(T& v) {
  return {reinterpret_cast<std::uint8_t*>(&v), sizeof(T)};
}

abi::CmdDesc MakeCmd(abi::Opcode op) {
  abi::CmdDesc d{};
  d.opcode = static_cast<std::uint8_t>(op);
  return d;
}

std::string_view OpcodeName(abi::Opcode op) {
  switch (op) {
    case abi::Opcode::kInvalid:
      return "Invalid";
    case abi::Opcode::kNop:
      return "Nop";
    case abi::Opcode::kWriteSa:
      return "WriteSa";
    case abi::Opcode::kWriteSaBatch:
      return "WriteSaBatch";
    case abi::Opcode::kInvalidateSa:
      return "InvalidateSa";
    case abi::Opcode::kReadSa:
      return "ReadSa";
    case abi::Opcode::kFlushTable:
      return "FlushTable";
    case abi::Opcode::kReadStats:
      return "ReadStats";
  }
  return "Unknown";
}

}  // namespace

std::string_view CmdStatusName(abi::CmdStatus s) {
  switch (s) {
    case abi::CmdStatus::kOk:
      return "kOk";
    case abi::CmdStatus::kBadOpcode:
      return "kBadOpcode";
    case abi::CmdStatus::kBadIndex:
      return "kBadIndex";
    case abi::CmdStatus::kReservedNonZero:
      return "kReservedNonZero";
    case abi::CmdStatus::kBadAlgo:
      return "kBadAlgo";
    case abi::CmdStatus::kBadKeyLen:
      return "kBadKeyLen";
    case abi::CmdStatus::kDmaRange:
      return "kDmaRange";
    case abi::CmdStatus::kExists:
      return "kExists";
    case abi::CmdStatus::kNotFound:
      return "kNotFound";
    case abi::CmdStatus::kBadParam:
      return "kBadParam";
    case abi::CmdStatus::kBadBatch:
      return "kBadBatch";
    case abi::CmdStatus::kDuplicate:
      return "kDuplicate";
    case abi::CmdStatus::kUnsupported:
      return "kUnsupported";
    case abi::CmdStatus::kBadSpi:
      return "kBadSpi";
    case abi::CmdStatus::kInternal:
      return "kInternal";
  }
  return "unknown";
}

Status CmdStatusToStatus(abi::CmdStatus s, abi::Opcode op, std::uint32_t info) {
  Code code = Code::kDeviceError;
  switch (s) {
    case abi::CmdStatus::kOk:
      return Status::Ok();
    case abi::CmdStatus::kBadIndex:
    case abi::CmdStatus::kDmaRange:
      code = Code::kOutOfRange;
      break;
    case abi::CmdStatus::kExists:
      code = Code::kAlreadyExists;
      break;
    case abi::CmdStatus::kNotFound:
      code = Code::kNotFound;
      break;
    case abi::CmdStatus::kBadOpcode:
    case abi::CmdStatus::kReservedNonZero:
    case abi::CmdStatus::kBadAlgo:
    case abi::CmdStatus::kBadKeyLen:
    case abi::CmdStatus::kBadParam:
    case abi::CmdStatus::kBadBatch:
    case abi::CmdStatus::kDuplicate:
    case abi::CmdStatus::kBadSpi:
      code = Code::kInvalidArgument;
      break;
    case abi::CmdStatus::kUnsupported:
      code = Code::kUnimplemented;
      break;
    case abi::CmdStatus::kInternal:
      code = Code::kDeviceError;
      break;
  }
  return Status(code,
                "engine refused " + std::string(OpcodeName(op)) + ": " +
                    std::string(CmdStatusName(s)) + " (info " + std::to_string(info) + ")",
                static_cast<std::uint32_t>(s));
}

Device::Device(std::unique_ptr<Transport> transport, const Clock& clock,
               const DeviceOptions& options)
    : transport_(std::move(transport)), clock_(clock), options_(options) {}

Device::~Device() {
  if (!transport_) return;
  // Stop the engine before its rings go away.
  transport_->Write32(Off(Reg::kCtrl), 0);
  for (DmaBuffer* b : {&cmd_.buf, &cpl_.buf, &exq_.buf, &staging_}) {
    if (b->size != 0) (void)transport_->FreeDma(*b);
  }
}

Result<std::unique_ptr<Device>> Device::Attach(std::unique_ptr<Transport> transport,
                                               const Clock& clock, const DeviceOptions& options) {
  if (!transport) return Status(Code::kInvalidArgument, "Device::Attach: no transport");
  std::unique_ptr<Device> dev(new Device(std::move(transport), clock, options));
  std::lock_guard<std::mutex> lock(dev->mu_);
  INLINESEC_RETURN_IF_ERROR(dev->Identify());
  INLINESEC_RETURN_IF_ERROR(dev->AllocateBuffers());
  INLINESEC_RETURN_IF_ERROR(dev->ResetLocked());
  return dev;
}

Status Device::Identify() {
  const std::string who = transport_->Describe();
  std::uint32_t id = transport_->Read32(Off(Reg::kId));
  if (id != abi::kEngineMagic) {
    return Status(Code::kUnavailable, "no inlinesec engine behind " + who + ": ID reads " +
                                          Hex32(id) + ", expected " + Hex32(abi::kEngineMagic));
  }
  std::uint32_t ver = transport_->Read32(Off(Reg::kAbiVersion));
  caps_.abi_major = static_cast<std::uint16_t>(abi::abi_version::Major::Get(ver));
  caps_.abi_minor = static_cast<std::uint16_t>(abi::abi_version::Minor::Get(ver));
  if (caps_.abi_major != abi::kAbiMajor) {
    return Status(Code::kFailedPrecondition,
                  "engine behind " + who + " speaks ABI " + std::to_string(caps_.abi_major) + "." +
                      std::to_string(caps_.abi_minor) + ", this driver needs major " +
                      std::to_string(abi::kAbiMajor) + " (incompatible)");
  }
  caps_.build = transport_->Read32(Off(Reg::kBuild));
  caps_.sa_capacity = transport_->Read32(Off(Reg::kCapSaCapacity));
  std::uint32_t rings = transport_->Read32(Off(Reg::kCapRings));
  caps_.cmd_ring_log2_max = abi::cap_rings::CmdLog2Max::Get(rings);
  caps_.cpl_ring_log2_max = abi::cap_rings::CplLog2Max::Get(rings);
  caps_.exq_ring_log2_max = abi::cap_rings::ExqLog2Max::Get(rings);
  caps_.algos = transport_->Read32(Off(Reg::kCapAlgos));
  std::uint32_t f = transport_->Read32(Off(Reg::kCapFeatures));
  namespace cf = abi::cap_features;
  caps_.esn = cf::Esn::Get(f) != 0;
  caps_.nat_t = cf::NatT::Get(f) != 0;
  caps_.ipv6 = cf::Ipv6::Get(f) != 0;
  caps_.tunnel = cf::Tunnel::Get(f) != 0;
  caps_.transport = cf::Transport::Get(f) != 0;
  caps_.lifetime_bytes = cf::LifetimeBytes::Get(f) != 0;
  caps_.lifetime_packets = cf::LifetimePkts::Get(f) != 0;
  caps_.ike_passthrough = cf::IkePassthrough::Get(f) != 0;
  caps_.dscp_copy = cf::DscpCopy::Get(f) != 0;
  caps_.df_control = cf::DfControl::Get(f) != 0;
  caps_.replay_window_max = transport_->Read32(Off(Reg::kCapReplayWindow));
  caps_.max_batch = transport_->Read32(Off(Reg::kCapMaxBatch));

  // Words read back from hardware are untrusted: check they make sense.
  std::uint32_t cap = caps_.sa_capacity;
  if (cap < 16 || cap > (1u << 24) || (cap & (cap - 1)) != 0) {
    return Status(Code::kDataLoss, who + ": implausible CAP_SA_CAPACITY " + std::to_string(cap));
  }
  for (std::uint32_t m :
       {caps_.cmd_ring_log2_max, caps_.cpl_ring_log2_max, caps_.exq_ring_log2_max}) {
    if (m < abi::kRingLog2Min || m > 24) {
      return Status(Code::kDataLoss, who + ": implausible CAP_RINGS " + Hex32(rings));
    }
  }
  if (caps_.max_batch == 0 || caps_.max_batch > kMaxBatchSupported) {
    return Status(Code::kDataLoss,
                  who + ": implausible CAP_MAX_BATCH " + std::to_string(caps_.max_batch));
  }
  return Status::Ok();
}

Status Device::AllocateBuffers() {
  auto clamp = [](std::uint32_t want, std::uint32_t max) {
    return std::clamp(want, abi::kRingLog2Min, max);
  };
  cmd_.log2 = clamp(options_.cmd_ring_log2, caps_.cmd_ring_log2_max);
  cpl_.log2 = clamp(options_.cpl_ring_log2, caps_.cpl_ring_log2_max);
  exq_.log2 = clamp(options_.exq_ring_log2, caps_.exq_ring_log2_max);
  struct Want {
    DmaBuffer* buf;
    std::size_t bytes;
  };
  const Want wants[] = {
      {&cmd_.buf, std::size_t{abi::kCmdEntryBytes} << cmd_.log2},
      {&cpl_.buf, std::size_t{abi::kCplEntryBytes} << cpl_.log2},
      {&exq_.buf, std::size_t{abi::kExqEntryBytes} << exq_.log2},
      {&staging_, std::max<std::size_t>(std::size_t{caps_.max_batch} * sizeof(abi::SaWriteRecord),
                                        sizeof(abi::GlobalStats))},
  };
  for (const Want& w : wants) {
    Result<DmaBuffer> b = transport_->AllocDma(w.bytes);
    if (!b.ok()) return b.status();
    if (b->size < w.bytes || (b->addr % abi::kRingAlign) != 0) {
      return Status(Code::kInternal, "transport returned a DMA buffer too small or misaligned");
    }
    *w.buf = *b;
  }
  return Status::Ok();
}

Status Device::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  return ResetLocked();
}

Status Device::WaitStatus(std::uint32_t mask, TimePoint deadline, std::string_view what) {
  for (;;) {
    transport_->Kick();
    std::uint32_t s = transport_->Read32(Off(Reg::kStatus));
    if (s != kAllOnes && (s & mask) == mask) return Status::Ok();
    if (s != kAllOnes && abi::status::CfgError::Get(s) != 0 && what == "enable") {
      return Status(Code::kDeviceError,
                    "engine refused enable: ring misconfigured (STATUS=" + Hex32(s) + ")", s);
    }
    TimePoint now = clock_.Now();
    if (now >= deadline) {
      return Status(
          Code::kDeadlineExceeded,
          "engine did not reach " + std::string(what) + " in time (STATUS=" + Hex32(s) + ")", s);
    }
    (void)transport_->WaitIrq(std::min(options_.poll_interval, deadline - now));
  }
}

Status Device::ResetLocked() {
  rings_up_ = false;
  transport_->Write32(Off(Reg::kCtrl), abi::ctrl::Reset::Set(0, 1));
  INLINESEC_RETURN_IF_ERROR(
      WaitStatus(abi::status::Ready::kMask, clock_.Now() + options_.reset_timeout, "ready"));
  epoch_ = transport_->Read32(Off(Reg::kEpoch));

  // Empty rings: zeroed slots carry phase 0, which the first lap never
  // expects, so nothing stale can look new.
  for (Ring* r : {&cmd_, &cpl_, &exq_}) {
    std::vector<std::uint8_t> zeros(r->buf.size, 0);
    INLINESEC_RETURN_IF_ERROR(transport_->DmaToDevice(r->buf.addr, zeros));
    r->count = 0;
  }
  cmd_dev_cons_ = 0;
  struct Setup {
    Reg base;
    Ring* ring;
  };
  for (const Setup& s :
       {Setup{Reg::kCmdRing, &cmd_}, Setup{Reg::kCplRing, &cpl_}, Setup{Reg::kExqRing, &exq_}}) {
    transport_->Write32(RingOff(s.base, RingReg::kBaseLo),
                        static_cast<std::uint32_t>(s.ring->buf.addr));
    transport_->Write32(RingOff(s.base, RingReg::kBaseHi),
                        static_cast<std::uint32_t>(s.ring->buf.addr >> 32));
    transport_->Write32(RingOff(s.base, RingReg::kSizeLog2), s.ring->log2);
  }
  transport_->Write32(RingOff(Reg::kCplRing, RingReg::kCons), 0);
  transport_->Write32(RingOff(Reg::kExqRing, RingReg::kCons), 0);
  transport_->Write32(Off(Reg::kIrqCause), abi::irq::kAll);
  transport_->Write32(Off(Reg::kIrqMask), abi::irq::kAll);
  transport_->Write32(Off(Reg::kCtrl), abi::ctrl::Enable::Set(0, 1));
  INLINESEC_RETURN_IF_ERROR(
      WaitStatus(abi::status::Enabled::kMask, clock_.Now() + options_.reset_timeout, "enable"));
  // The ResetDone cause belongs to this reset: acknowledge it.
  transport_->Write32(Off(Reg::kIrqCause), abi::irq::ResetDone::kMask);
  rings_up_ = true;
  ++stats_.resets;
  return Status::Ok();
}

Status Device::Execute(std::span<abi::CmdDesc> cmds, std::span<Completion> out) {
  std::lock_guard<std::mutex> lock(mu_);
  return ExecuteLocked(cmds, out);
}

Status Device::DrainCompletions(std::span<const abi::CmdDesc> cmds, std::span<Completion> out,
                                std::vector<bool>& got, std::size_t& remaining) {
  const std::uint32_t first_tag = cmds.empty() ? 0 : cmds[0].tag.get();
  std::uint32_t consumed = 0;
  for (;;) {
    abi::CplEntry e;
    std::uint32_t slot = abi::RingSlot(cpl_.count, cpl_.log2);
    INLINESEC_RETURN_IF_ERROR(transport_->DmaFromDevice(
        cpl_.buf.addr + std::uint64_t{slot} * abi::kCplEntryBytes, BytesOf(e)));
    std::uint32_t ctl = e.ctl.get();
    if (abi::cpl_ctl::Phase::Get(ctl) != abi::RingPhase(cpl_.count, cpl_.log2)) break;
    ++cpl_.count;
    ++consumed;
    std::uint32_t tag = e.tag.get();
    std::uint32_t i = tag - first_tag;
    if (i >= cmds.size() || got[i]) {
      ++stats_.stale_completions;
      continue;
    }
    auto op = static_cast<abi::Opcode>(abi::cpl_ctl::Opcode::Get(ctl));
    if (static_cast<std::uint8_t>(op) != cmds[i].opcode) {
      ++stats_.corrupt_completions;
      continue;
    }
    Completion& c = out[i];
    c.tag = tag;
    c.opcode = op;
    c.status = static_cast<abi::CmdStatus>(abi::cpl_ctl::Status::Get(ctl));
    c.info = e.info.get();
    c.done = e.done.get();
    if (c.status != abi::CmdStatus::kOk) ++stats_.command_errors;
    got[i] = true;
    --remaining;
  }
  if (consumed != 0) transport_->Write32(RingOff(Reg::kCplRing, RingReg::kCons), cpl_.count);
  return Status::Ok();
}

Status Device::ExecuteLocked(std::span<abi::CmdDesc> cmds, std::span<Completion> out) {
  INLINESEC_CHECK(out.size() >= cmds.size());
  if (!rings_up_) {
    return Status(Code::kUnavailable, "device is not up (reset needed after epoch change)");
  }
  if (cmds.empty()) return Status::Ok();
  // Consecutive tags per call (DrainCompletions indexes by tag - first).
  const std::uint32_t first_tag = next_tag_;
  next_tag_ += static_cast<std::uint32_t>(cmds.size());
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    cmds[i].tag.set(first_tag + static_cast<std::uint32_t>(i));
  }
  stats_.commands += cmds.size();
  // A polling driver keeps the completion interrupt masked while it polls:
  // completions found by looking raise no interrupt (no eventfd wake-up for
  // the exception consumer's epoll, no eventfd write per command on the
  // model). Cpl is unmasked only before a sleep in WaitIrq; every interrupt
  // is unmasked again when the call returns with the rings still up.
  struct PollMask {
    Device& d;
    ~PollMask() {
      if (d.rings_up_) d.transport_->Write32(Off(Reg::kIrqMask), abi::irq::kAll);
    }
  } poll_mask{*this};
  transport_->Write32(Off(Reg::kIrqMask), abi::irq::kAll & ~abi::irq::Cpl::kMask);
  std::vector<bool> got(cmds.size(), false);
  std::size_t remaining = cmds.size();
  std::size_t posted = 0;
  const std::uint32_t size = 1u << cmd_.log2;
  TimePoint deadline = clock_.Now() + options_.command_timeout;

  while (remaining > 0) {
    bool progress = false;
    if (posted < cmds.size()) {
      std::uint32_t free_slots = size - (cmd_.count - cmd_dev_cons_);
      if (free_slots == 0) {
        cmd_dev_cons_ = transport_->Read32(RingOff(Reg::kCmdRing, RingReg::kCons));
        free_slots = size - (cmd_.count - cmd_dev_cons_);
        if (free_slots > size) free_slots = 0;  // device value is nonsense
        if (free_slots == 0) ++stats_.cpl_ring_waits;
      }
      while (free_slots > 0 && posted < cmds.size()) {
        std::uint32_t slot = abi::RingSlot(cmd_.count, cmd_.log2);
        std::uint32_t chunk = std::min<std::uint32_t>(
            {free_slots, static_cast<std::uint32_t>(cmds.size() - posted), size - slot});
        std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(&cmds[posted]),
                                            std::size_t{chunk} * abi::kCmdEntryBytes);
        INLINESEC_RETURN_IF_ERROR(transport_->DmaToDevice(
            cmd_.buf.addr + std::uint64_t{slot} * abi::kCmdEntryBytes, bytes));
        cmd_.count += chunk;
        posted += chunk;
        free_slots -= chunk;
        progress = true;
      }
      if (progress) transport_->Write32(RingOff(Reg::kCmdRing, RingReg::kProd), cmd_.count);
    }
    transport_->Kick();
    std::size_t before = remaining;
    INLINESEC_RETURN_IF_ERROR(DrainCompletions(cmds, out, got, remaining));
    if (remaining == 0) break;
    TimePoint now = clock_.Now();
    if (progress || remaining != before) {
      deadline = now + options_.command_timeout;
      continue;
    }
    if (now >= deadline) {
      ++stats_.timeouts;
      return Status(Code::kDeadlineExceeded,
                    "command timed out: " + std::to_string(remaining) + " of " +
                        std::to_string(cmds.size()) + " without completion (CPL_PROD " +
                        std::to_string(transport_->Read32(RingOff(Reg::kCplRing, RingReg::kProd))) +
                        ", CMD_CONS " +
                        std::to_string(transport_->Read32(RingOff(Reg::kCmdRing, RingReg::kCons))) +
                        ")");
    }
    std::uint32_t status = transport_->Read32(Off(Reg::kStatus));
    if (status != kAllOnes && abi::status::Fatal::Get(status) != 0) {
      rings_up_ = false;
      return Status(
          Code::kUnavailable,
          "engine stopped with a fatal error (STATUS=" + Hex32(status) + "); a reset is needed",
          status);
    }
    std::uint32_t ep = transport_->Read32(Off(Reg::kEpoch));
    if (ep != epoch_) {
      rings_up_ = false;
      ++stats_.unexpected_resets;
      return Status(Code::kUnavailable, "engine reset while commands were outstanding (epoch " +
                                            std::to_string(epoch_) + " -> " + std::to_string(ep) +
                                            ")");
    }
    // Unmask and acknowledge completion interrupts, then look once more
    // before sleeping so that a completion written in between is not slept
    // through.
    transport_->Write32(Off(Reg::kIrqMask), abi::irq::kAll);
    transport_->Write32(Off(Reg::kIrqCause), abi::irq::Cpl::kMask);
    INLINESEC_RETURN_IF_ERROR(DrainCompletions(cmds, out, got, remaining));
    if (remaining == 0) break;
    if (remaining != before) continue;
    (void)transport_->WaitIrq(std::min(options_.poll_interval, deadline - now));
  }
  // Every command of this call has completed and no other call has commands
  // outstanding (mu_): acknowledge the completion cause, so the interrupt
  // line does not stay asserted after a synchronous command (a transport
  // would otherwise signal its irq on every later access).
  transport_->Write32(Off(Reg::kIrqCause), abi::irq::Cpl::kMask);
  return Status::Ok();
}

Result<Completion> Device::ExecuteOne(abi::CmdDesc desc) {
  Completion c;
  INLINESEC_RETURN_IF_ERROR(ExecuteLocked({&desc, 1}, {&c, 1}));
  return c;
}

Status Device::Nop() {
  std::lock_guard<std::mutex> lock(mu_);
  Result<Completion> c = ExecuteOne(MakeCmd(abi::Opcode::kNop));
  if (!c.ok()) return c.status();
  return CmdStatusToStatus(c->status, c->opcode, c->info);
}

Status Device::WriteSa(std::uint32_t index, const abi::SaEntry& entry, bool replace) {
  std::lock_guard<std::mutex> lock(mu_);
  INLINESEC_RETURN_IF_ERROR(transport_->DmaToDevice(staging_.addr, BytesOf(entry)));
  abi::CmdDesc d = MakeCmd(abi::Opcode::kWriteSa);
  d.flags = static_cast<std::uint8_t>(abi::cmd_flags::Replace::Set(0, replace ? 1 : 0));
  d.sa_index.set(index);
  d.dma_addr.set(staging_.addr);
  d.dma_len.set(sizeof(abi::SaEntry));
  Result<Completion> c = ExecuteOne(d);
  if (!c.ok()) return c.status();
  return CmdStatusToStatus(c->status, c->opcode, c->info);
}

Result<BatchOutcome> Device::WriteSaBatch(std::span<const abi::SaWriteRecord> records) {
  if (records.empty() || records.size() > caps_.max_batch) {
    return Status(Code::kInvalidArgument, "batch of " + std::to_string(records.size()) +
                                              " records (engine takes 1.." +
                                              std::to_string(caps_.max_batch) + ")");
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(records.data()),
                                      records.size_bytes());
  INLINESEC_RETURN_IF_ERROR(transport_->DmaToDevice(staging_.addr, bytes));
  abi::CmdDesc d = MakeCmd(abi::Opcode::kWriteSaBatch);
  d.count.set(static_cast<std::uint32_t>(records.size()));
  d.dma_addr.set(staging_.addr);
  d.dma_len.set(static_cast<std::uint32_t>(bytes.size()));
  Result<Completion> c = ExecuteOne(d);
  if (!c.ok()) return c.status();
  BatchOutcome out;
  out.applied = c->status == abi::CmdStatus::kOk ? c->done : 0;
  out.status = CmdStatusToStatus(c->status, c->opcode, c->info);
  out.failed_record = c->status == abi::CmdStatus::kOk ? 0 : c->info;
  return out;
}

Status Device::InvalidateSa(std::uint32_t index, std::uint32_t expected_spi) {
  std::lock_guard<std::mutex> lock(mu_);
  abi::CmdDesc d = MakeCmd(abi::Opcode::kInvalidateSa);
  d.sa_index.set(index);
  d.spi.set(expected_spi);
  Result<Completion> c = ExecuteOne(d);
  if (!c.ok()) return c.status();
  return CmdStatusToStatus(c->status, c->opcode, c->info);
}

Result<abi::SaState> Device::ReadSa(std::uint32_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  abi::CmdDesc d = MakeCmd(abi::Opcode::kReadSa);
  d.sa_index.set(index);
  d.dma_addr.set(staging_.addr);
  d.dma_len.set(sizeof(abi::SaState));
  Result<Completion> c = ExecuteOne(d);
  if (!c.ok()) return c.status();
  INLINESEC_RETURN_IF_ERROR(CmdStatusToStatus(c->status, c->opcode, c->info));
  abi::SaState st;
  INLINESEC_RETURN_IF_ERROR(transport_->DmaFromDevice(staging_.addr, BytesOf(st)));
  return st;
}

Status Device::FlushTable() {
  std::lock_guard<std::mutex> lock(mu_);
  Result<Completion> c = ExecuteOne(MakeCmd(abi::Opcode::kFlushTable));
  if (!c.ok()) return c.status();
  return CmdStatusToStatus(c->status, c->opcode, c->info);
}

Result<abi::GlobalStats> Device::ReadStats() {
  std::lock_guard<std::mutex> lock(mu_);
  abi::CmdDesc d = MakeCmd(abi::Opcode::kReadStats);
  d.dma_addr.set(staging_.addr);
  d.dma_len.set(sizeof(abi::GlobalStats));
  Result<Completion> c = ExecuteOne(d);
  if (!c.ok()) return c.status();
  INLINESEC_RETURN_IF_ERROR(CmdStatusToStatus(c->status, c->opcode, c->info));
  abi::GlobalStats st;
  INLINESEC_RETURN_IF_ERROR(transport_->DmaFromDevice(staging_.addr, BytesOf(st)));
  return st;
}

Result<std::size_t> Device::ReadExceptions(std::span<abi::ExqEntry> out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!rings_up_) return Status(Code::kUnavailable, "device is not up");
  transport_->Kick();
  std::size_t n = 0;
  while (n < out.size()) {
    std::uint32_t slot = abi::RingSlot(exq_.count, exq_.log2);
    abi::ExqEntry& e = out[n];
    INLINESEC_RETURN_IF_ERROR(transport_->DmaFromDevice(
        exq_.buf.addr + std::uint64_t{slot} * abi::kExqEntryBytes, BytesOf(e)));
    if (abi::exq_ctl::Phase::Get(e.ctl.get()) != abi::RingPhase(exq_.count, exq_.log2)) break;
    ++exq_.count;
    ++n;
  }
  if (n != 0) transport_->Write32(RingOff(Reg::kExqRing, RingReg::kCons), exq_.count);
  return n;
}

void Device::AckExceptionIrq() {
  std::lock_guard<std::mutex> lock(mu_);
  transport_->Write32(Off(Reg::kIrqCause), abi::irq::Exq::kMask | abi::irq::ExqOverflow::kMask);
}

std::uint64_t Device::ReadCounter(abi::Reg lo) {
  std::lock_guard<std::mutex> lock(mu_);
  std::uint64_t l = transport_->Read32(Off(lo));
  std::uint64_t h = transport_->Read32(Off(lo) + abi::kHiHalf);
  return (h << 32) | l;
}

bool Device::EpochChanged() {
  std::lock_guard<std::mutex> lock(mu_);
  std::uint32_t ep = transport_->Read32(Off(Reg::kEpoch));
  if (ep == epoch_) return false;
  if (rings_up_) ++stats_.unexpected_resets;
  rings_up_ = false;
  return true;
}

std::uint32_t Device::Peek(abi::RegOffset off) {
  std::lock_guard<std::mutex> lock(mu_);
  return transport_->Read32(off);
}

void Device::Poke(abi::RegOffset off, std::uint32_t value) {
  std::lock_guard<std::mutex> lock(mu_);
  transport_->Write32(off, value);
}

std::vector<RegisterValue> Device::DumpRegisters() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RegisterValue> out;
  for (const RegInfo& r : RegisterTable()) {
    out.push_back({r.name, r.offset, transport_->Read32(r.offset)});
  }
  return out;
}

DeviceStats Device::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace inlinesec::driver
