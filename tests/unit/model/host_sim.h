// HostSim: plays the host side of the engine ABI in model tests. It lays the
// three rings and a DMA scratch area out in device memory, writes command
// descriptors, rings the doorbell, runs the command processor and reads
// completions back with the phase-bit rule, as a driver would (but without
// any driver code, so the model is tested against the ABI alone).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "engine_impl.h"
#include "inlinesec/abi/abi.h"
#include "inlinesec/model/engine.h"

namespace inlinesec::model::testing {

struct RingLayout {
  std::uint32_t cmd_log2 = 6;
  std::uint32_t cpl_log2 = 6;
  std::uint32_t exq_log2 = 6;
};

inline const EngineConfig& ConfigOf(const Engine& e) { return e.config(); }
inline const EngineConfig& ConfigOf(const EngineCore& e) { return e.config; }

// E is Engine (the public API) or EngineCore (the internal seam, for tests
// that also post exceptions directly).
template <typename E>
class BasicHostSim {
 public:
  // Offsets from dev_mem_base of the three rings and the DMA area.
  static constexpr std::uint64_t kCmdOff = 0x000000;
  static constexpr std::uint64_t kCplOff = 0x400000;
  static constexpr std::uint64_t kExqOff = 0x600000;
  static constexpr std::uint64_t kDmaOff = 0x1000000;

  explicit BasicHostSim(E& engine) : e_(engine) {}

  std::uint64_t base() const { return ConfigOf(e_).dev_mem_base; }
  std::uint64_t dma() const { return base() + kDmaOff; }

  // Programs the ring registers and enables the engine; false if refused.
  bool Start(const RingLayout& l = {}) {
    layout_ = l;
    ProgramRing(abi::Reg::kCmdRing, base() + kCmdOff, l.cmd_log2);
    ProgramRing(abi::Reg::kCplRing, base() + kCplOff, l.cpl_log2);
    ProgramRing(abi::Reg::kExqRing, base() + kExqOff, l.exq_log2);
    cmd_prod_ = 0;
    cpl_cons_ = 0;
    exq_cons_ = 0;
    e_.Write32(abi::Off(abi::Reg::kCtrl), abi::ctrl::Enable::Set(0, 1));
    return abi::status::Enabled::Get(e_.Read32(abi::Off(abi::Reg::kStatus))) != 0;
  }
  void ProgramRing(abi::Reg ring, std::uint64_t addr, std::uint32_t log2) {
    e_.Write32(abi::RingOff(ring, abi::RingReg::kBaseLo), static_cast<std::uint32_t>(addr));
    e_.Write32(abi::RingOff(ring, abi::RingReg::kBaseHi), static_cast<std::uint32_t>(addr >> 32));
    e_.Write32(abi::RingOff(ring, abi::RingReg::kSizeLog2), log2);
  }

  // Writes `cmd` into the next command slot without ringing the doorbell.
  void Queue(const abi::CmdDesc& cmd) {
    const std::uint64_t at = base() + kCmdOff + 64ull * abi::RingSlot(cmd_prod_, layout_.cmd_log2);
    Put(at, std::span(reinterpret_cast<const std::uint8_t*>(&cmd), sizeof(cmd)));
    ++cmd_prod_;
  }
  void Doorbell() { e_.Write32(abi::RingOff(abi::Reg::kCmdRing, abi::RingReg::kProd), cmd_prod_); }

  // Takes the next completion if the engine wrote it (phase matches).
  std::optional<abi::CplEntry> PollCpl() {
    abi::CplEntry c;
    const std::uint64_t at = base() + kCplOff + 16ull * abi::RingSlot(cpl_cons_, layout_.cpl_log2);
    Get(at, std::span(reinterpret_cast<std::uint8_t*>(&c), sizeof(c)));
    if (abi::cpl_ctl::Phase::Get(c.ctl.get()) != abi::RingPhase(cpl_cons_, layout_.cpl_log2))
      return std::nullopt;
    ++cpl_cons_;
    e_.Write32(abi::RingOff(abi::Reg::kCplRing, abi::RingReg::kCons), cpl_cons_);
    return c;
  }
  // Takes the next exception entry if one was written.
  std::optional<abi::ExqEntry> PollExq() {
    abi::ExqEntry x;
    const std::uint64_t at = base() + kExqOff + 128ull * abi::RingSlot(exq_cons_, layout_.exq_log2);
    Get(at, std::span(reinterpret_cast<std::uint8_t*>(&x), sizeof(x)));
    if (abi::exq_ctl::Phase::Get(x.ctl.get()) != abi::RingPhase(exq_cons_, layout_.exq_log2))
      return std::nullopt;
    ++exq_cons_;
    e_.Write32(abi::RingOff(abi::Reg::kExqRing, abi::RingReg::kCons), exq_cons_);
    return x;
  }

  // One command end to end: queue, doorbell, process, completion.
  abi::CplEntry Run(const abi::CmdDesc& cmd) {
    Queue(cmd);
    Doorbell();
    e_.ProcessCommands(SIZE_MAX);
    auto c = PollCpl();
    if (!c) {
      abi::CplEntry none{};
      none.ctl.set(0xFFFFFFFF);  // status 0xFF: "no completion"
      return none;
    }
    return *c;
  }

  static abi::CmdDesc Cmd(abi::Opcode op, std::uint32_t index = 0) {
    abi::CmdDesc c{};
    c.opcode = static_cast<std::uint8_t>(op);
    c.tag.set(0x7A000000u | index);
    c.sa_index.set(index);
    return c;
  }

  // kWriteSa of `e` at `index`, entry staged at dma().
  abi::CplEntry WriteSa(std::uint32_t index, const abi::SaEntry& e, bool replace = false) {
    Put(dma(), std::span(reinterpret_cast<const std::uint8_t*>(&e), sizeof(e)));
    abi::CmdDesc c = Cmd(abi::Opcode::kWriteSa, index);
    c.flags = replace ? 1 : 0;
    c.dma_addr.set(dma());
    c.dma_len.set(sizeof(e));
    return Run(c);
  }
  abi::CplEntry WriteBatch(const std::vector<abi::SaWriteRecord>& recs) {
    Put(dma(), std::span(reinterpret_cast<const std::uint8_t*>(recs.data()),
                         recs.size() * sizeof(abi::SaWriteRecord)));
    abi::CmdDesc c = Cmd(abi::Opcode::kWriteSaBatch);
    c.count.set(static_cast<std::uint32_t>(recs.size()));
    c.dma_addr.set(dma());
    c.dma_len.set(static_cast<std::uint32_t>(recs.size() * sizeof(abi::SaWriteRecord)));
    return Run(c);
  }
  abi::CplEntry Invalidate(std::uint32_t index, std::uint32_t spi = 0) {
    abi::CmdDesc c = Cmd(abi::Opcode::kInvalidateSa, index);
    c.spi.set(spi);
    return Run(c);
  }
  // kReadSa into dma() + 0x100000; `out` receives the SaState on success.
  abi::CplEntry ReadSa(std::uint32_t index, abi::SaState* out = nullptr) {
    abi::CmdDesc c = Cmd(abi::Opcode::kReadSa, index);
    c.dma_addr.set(dma() + 0x100000);
    c.dma_len.set(sizeof(abi::SaState));
    abi::CplEntry r = Run(c);
    if (out != nullptr)
      Get(dma() + 0x100000, std::span(reinterpret_cast<std::uint8_t*>(out), sizeof(*out)));
    return r;
  }
  abi::CplEntry ReadStats(abi::GlobalStats* out) {
    abi::CmdDesc c = Cmd(abi::Opcode::kReadStats);
    c.dma_addr.set(dma() + 0x100000);
    c.dma_len.set(sizeof(abi::GlobalStats));
    abi::CplEntry r = Run(c);
    Get(dma() + 0x100000, std::span(reinterpret_cast<std::uint8_t*>(out), sizeof(*out)));
    return r;
  }

  void Put(std::uint64_t addr, std::span<const std::uint8_t> b) {
    if (!e_.DevWrite(addr, b).ok()) std::abort();
  }
  void Get(std::uint64_t addr, std::span<std::uint8_t> b) const {
    if (!e_.DevRead(addr, b).ok()) std::abort();
  }

  std::uint32_t cmd_prod() const { return cmd_prod_; }
  std::uint32_t cpl_cons() const { return cpl_cons_; }
  void set_cmd_prod(std::uint32_t v) { cmd_prod_ = v; }

 private:
  E& e_;
  RingLayout layout_;
  std::uint32_t cmd_prod_ = 0;
  std::uint32_t cpl_cons_ = 0;
  std::uint32_t exq_cons_ = 0;
};
using HostSim = BasicHostSim<Engine>;
using CoreHostSim = BasicHostSim<EngineCore>;

inline abi::CmdStatus StatusOf(const abi::CplEntry& c) {
  return static_cast<abi::CmdStatus>(abi::cpl_ctl::Status::Get(c.ctl.get()));
}

// A valid inbound AES-GCM-128 tunnel SA for table slot spi mod capacity.
inline abi::SaEntry InboundSa(std::uint32_t spi, std::uint64_t seq = 0) {
  abi::SaEntry e{};
  e.spi.set(spi);
  std::uint32_t ctl = abi::sa_ctl::Valid::Set(0, 1);
  ctl = abi::sa_ctl::Dir::Set(ctl, static_cast<std::uint32_t>(abi::Dir::kInbound));
  ctl = abi::sa_ctl::Mode::Set(ctl, static_cast<std::uint32_t>(abi::Mode::kTunnel));
  e.ctl.set(ctl);
  std::uint32_t crypto =
      abi::sa_crypto::Algo::Set(0, static_cast<std::uint32_t>(abi::Algo::kAesGcm128));
  crypto = abi::sa_crypto::IcvLen::Set(crypto, 16);
  crypto = abi::sa_crypto::KeyLen::Set(crypto, 16);
  e.crypto.set(crypto);
  e.replay.set(abi::sa_replay::Window::Set(0, 64));
  e.salt = {0xDE, 0xAD, 0xBE, 0xEF};
  for (std::size_t i = 0; i < 16; ++i) e.key[i] = static_cast<std::uint8_t>(0x40 + i);
  e.seq.set(seq);
  e.src = {10, 0, 0, 1};
  e.dst = {10, 0, 0, 2};
  e.cookie.set(0xC00C1E0000000000ull | spi);
  return e;
}

// A valid outbound AES-GCM-256 tunnel SA.
inline abi::SaEntry OutboundSa(std::uint32_t spi, std::uint64_t seq = 0) {
  abi::SaEntry e = InboundSa(spi, seq);
  e.ctl.set(abi::sa_ctl::Dir::Set(e.ctl.get(), static_cast<std::uint32_t>(abi::Dir::kOutbound)));
  std::uint32_t crypto =
      abi::sa_crypto::Algo::Set(e.crypto.get(), static_cast<std::uint32_t>(abi::Algo::kAesGcm256));
  e.crypto.set(abi::sa_crypto::KeyLen::Set(crypto, 32));
  for (std::size_t i = 0; i < 32; ++i) e.key[i] = static_cast<std::uint8_t>(0x60 + i);
  e.replay.set(0);
  return e;
}

inline abi::SaWriteRecord Record(std::uint32_t index, const abi::SaEntry& e, bool replace = false) {
  abi::SaWriteRecord r{};
  r.index.set(index);
  r.flags.set(replace ? 1 : 0);
  r.entry = e;
  return r;
}

}  // namespace inlinesec::model::testing
