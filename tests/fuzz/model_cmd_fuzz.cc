// Fuzz target for the engine model's control plane: arbitrary bytes become a
// script of host actions (command descriptors through the command ring, DMA
// buffer contents, register reads and writes, structured SA writes, exception
// posts, fault-plan settings) run against a small EngineCore. The model must
// never crash, read or write outside device memory, or break its ring and
// table invariants, whatever the host does.
//
// Script format (little-endian), repeated until the input runs out:
//   0x00 cmd[64] mode        one CmdDesc; mode bit 0 points dma_addr at the
//                            DMA area + (mode >> 1) * 16; doorbell; process
//   0x01 off[2] n data[4n]   bytes into the DMA area at off
//   0x02 off[2] value[4]     Write32
//   0x03 off[2]              Read32
//   0x04 idx[2] ctl crypto mut   structured kWriteSa/kWriteSaBatch: a valid
//                            entry built from a few bytes, then one byte
//                            flipped by `mut`
//   0x05 reason flags snap   PostException
//   0x06 f[4]                FaultPlan: drop, fail, corrupt, reset_after
//   0x07                     host consumes every completion and exception
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "engine_impl.h"
#include "inlinesec/common/byte_reader.h"
#include "inlinesec/common/fake_clock.h"

// Inside inlinesec::abi so the ABI names read unqualified.
namespace inlinesec::abi {
namespace {

using model::EngineConfig;
using model::EngineCore;

constexpr std::uint64_t kBase = 0x1000'0000;
constexpr std::uint64_t kMemBytes = 64 * 1024;
constexpr std::uint64_t kCmdAt = kBase;           // 16 x 64
constexpr std::uint64_t kCplAt = kBase + 0x400;   // 16 x 16
constexpr std::uint64_t kExqAt = kBase + 0x800;   // 16 x 128
constexpr std::uint64_t kDmaAt = kBase + 0x1000;  // 60 KiB
constexpr std::uint32_t kDmaBytes = static_cast<std::uint32_t>(kMemBytes - 0x1000);

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

class Host {
 public:
  explicit Host(EngineCore& e) : e_(e) {}

  void Start() {
    Ring(Reg::kCmdRing, kCmdAt);
    Ring(Reg::kCplRing, kCplAt);
    Ring(Reg::kExqRing, kExqAt);
    e_.Write32(Off(Reg::kCtrl), ctrl::Enable::kMask);
  }
  void Ring(Reg r, std::uint64_t at) {
    e_.Write32(RingOff(r, RingReg::kBaseLo), static_cast<std::uint32_t>(at));
    e_.Write32(RingOff(r, RingReg::kBaseHi), static_cast<std::uint32_t>(at >> 32));
    e_.Write32(RingOff(r, RingReg::kSizeLog2), 4);
  }
  void Submit(const CmdDesc& c) {
    // The host's idea of the producer is the register's value (a reset or a
    // fuzzed register write may have moved it).
    const std::uint32_t prod = e_.Read32(RingOff(Reg::kCmdRing, RingReg::kProd));
    const std::uint32_t log2 = e_.Read32(RingOff(Reg::kCmdRing, RingReg::kSizeLog2)) & 31;
    const std::uint64_t base =
        (std::uint64_t{e_.Read32(RingOff(Reg::kCmdRing, RingReg::kBaseHi))} << 32) |
        e_.Read32(RingOff(Reg::kCmdRing, RingReg::kBaseLo));
    const std::uint64_t at = base + 64ull * (log2 < 32 ? RingSlot(prod, log2) : 0);
    (void)e_.DevWrite(at, std::span(reinterpret_cast<const std::uint8_t*>(&c), sizeof(c)));
    e_.Write32(RingOff(Reg::kCmdRing, RingReg::kProd), prod + 1);
    Run();
  }
  void Run() {
    e_.ProcessCommands(64);
    Invariants();
  }
  void Drain() {
    e_.Write32(RingOff(Reg::kCplRing, RingReg::kCons),
               e_.Read32(RingOff(Reg::kCplRing, RingReg::kProd)));
    e_.Write32(RingOff(Reg::kExqRing, RingReg::kCons),
               e_.Read32(RingOff(Reg::kExqRing, RingReg::kProd)));
    Run();
  }
  // Every valid slot is consistent with the compact index.
  void Invariants() {
    const std::uint32_t cap = e_.config.sa_capacity;
    Check(e_.valid_count() <= cap);
    for (std::uint32_t i = 0; i < cap; ++i) {
      const auto* s = e_.SlotAt(i);
      if (s == nullptr) continue;
      Check(s->index == i);
      Check(s->aead.has_value());
      if (s->inbound()) Check(e_.LookupInbound(s->entry.spi.get()) == i);
    }
  }

 private:
  EngineCore& e_;
};

SaEntry BuildEntry(std::uint32_t index, std::uint8_t ctl_bits, std::uint8_t crypto_sel) {
  SaEntry e{};
  const bool outbound = (ctl_bits & 1) != 0;
  e.spi.set(outbound ? 0x100u + index : (0xAB000000u | index));
  std::uint32_t ctl = sa_ctl::Valid::Set(0, 1);
  ctl = sa_ctl::Dir::Set(ctl, outbound ? 1 : 0);
  ctl = sa_ctl::Mode::Set(ctl, (ctl_bits >> 1) & 1);
  ctl = sa_ctl::Esn::Set(ctl, (ctl_bits >> 2) & 1);
  ctl = sa_ctl::UdpEncap::Set(ctl, (ctl_bits >> 3) & 1);
  ctl = sa_ctl::DfMode::Set(ctl, (ctl_bits >> 4) % 3);
  e.ctl.set(ctl);
  const std::uint32_t algo = 1 + crypto_sel % 3;
  const std::uint32_t key_len = algo == 1 ? 16 : 32;
  std::uint32_t crypto = sa_crypto::Algo::Set(0, algo);
  crypto = sa_crypto::IcvLen::Set(crypto, 16);
  e.crypto.set(sa_crypto::KeyLen::Set(crypto, key_len));
  e.replay.set(32u * ((crypto_sel >> 2) % 5));
  for (std::uint32_t i = 0; i < key_len; ++i) e.key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  e.seq.set(crypto_sel & 0x80 ? 0xFFFFFFFFull : crypto_sel);
  e.hard_packets.set(crypto_sel & 0x40 ? 1000 : 0);
  return e;
}

void RunScript(const std::uint8_t* data, std::size_t size) {
  FakeClockTimers clock;
  EngineConfig config;
  config.sa_capacity = 1u << 8;
  config.max_batch = 8;
  config.ring_log2_max = 6;
  config.replay_window_max = 128;
  config.dev_mem_base = kBase;
  config.dev_mem_bytes = kMemBytes;
  EngineCore engine(config, clock);
  Host host(engine);
  host.Start();

  ByteReader r(std::span<const std::uint8_t>(data, size));
  std::uint8_t op;
  while (r.U8(op)) {
    clock.Advance(std::chrono::nanoseconds(1000));
    switch (op & 7) {
      case 0: {
        CmdDesc c;
        std::uint8_t mode = 0;
        if (!r.Copy(std::span(reinterpret_cast<std::uint8_t*>(&c), sizeof(c)))) return;
        if (!r.U8(mode)) return;
        if (mode & 1) c.dma_addr.set(kDmaAt + (mode >> 1) * 16u);
        host.Submit(c);
        break;
      }
      case 1: {
        std::uint16_t off = 0;
        std::uint8_t n = 0;
        std::span<const std::uint8_t> bytes;
        if (!r.U16Le(off) || !r.U8(n)) return;
        if (!r.Bytes(std::min<std::size_t>(4u * n, r.size()), bytes)) return;
        const std::size_t at = off % kDmaBytes;
        const std::size_t len = std::min<std::size_t>(bytes.size(), kDmaBytes - at);
        Check(engine.DevWrite(kDmaAt + at, bytes.first(len)).ok());
        break;
      }
      case 2: {
        std::uint16_t off = 0;
        std::uint32_t v = 0;
        if (!r.U16Le(off) || !r.U32Le(v)) return;
        engine.Write32(off & 0x1FFF, v);
        host.Run();
        break;
      }
      case 3: {
        std::uint16_t off = 0;
        if (!r.U16Le(off)) return;
        (void)engine.Read32(off & 0x1FFF);
        break;
      }
      case 4: {
        std::uint16_t idx = 0;
        std::uint8_t ctl_bits = 0, crypto_sel = 0, mut = 0;
        if (!r.U16Le(idx) || !r.U8(ctl_bits) || !r.U8(crypto_sel) || !r.U8(mut)) return;
        const std::uint32_t index = idx & 0x1FF;  // sometimes past capacity
        SaWriteRecord rec{};
        rec.index.set(index);
        rec.flags.set(ctl_bits >> 7);
        rec.entry = BuildEntry(index, ctl_bits, crypto_sel);
        auto* raw = reinterpret_cast<std::uint8_t*>(&rec);
        if (mut & 0x80) raw[16 + (mut & 0x7F) % sizeof(SaEntry)] ^= static_cast<std::uint8_t>(mut);
        CmdDesc c{};
        c.tag.set(index);
        c.dma_addr.set(kDmaAt);
        if (ctl_bits & 0x40) {  // as a one-record batch
          Check(engine.DevWrite(kDmaAt, std::span(raw, sizeof(rec))).ok());
          c.opcode = static_cast<std::uint8_t>(Opcode::kWriteSaBatch);
          c.count.set(1);
          c.dma_len.set(sizeof(rec));
        } else {
          Check(engine.DevWrite(kDmaAt, std::span(raw + 16, sizeof(SaEntry))).ok());
          c.opcode = static_cast<std::uint8_t>(Opcode::kWriteSa);
          c.flags = static_cast<std::uint8_t>(ctl_bits >> 7);
          c.sa_index.set(index);
          c.dma_len.set(sizeof(SaEntry));
        }
        host.Submit(c);
        break;
      }
      case 5: {
        std::uint8_t reason = 0, flags = 0, snap = 0;
        if (!r.U8(reason) || !r.U8(flags) || !r.U8(snap)) return;
        model::ExceptionInfo x;
        x.reason = static_cast<ExqReason>(reason % 9);
        x.spi = 0x1000u * reason;
        x.v6 = flags & 1;
        x.udp_encap = flags & 2;
        x.outbound = flags & 4;
        if (!r.Bytes(std::min<std::size_t>(snap, r.size()), x.snap)) return;
        (void)engine.PostException(x);
        break;
      }
      case 6: {
        std::uint8_t f[4];
        if (!r.Copy(f)) return;
        engine.faults.drop_doorbells = f[0] & 3;
        engine.faults.fail_commands = f[1] & 3;
        engine.faults.corrupt_exq = f[2] & 3;
        engine.faults.reset_after_records = f[3] & 7;
        break;
      }
      case 7:
        host.Drain();
        if (op & 0x80) host.Start();  // bring the engine up again after a reset
        break;
    }
  }
  host.Drain();
}

}  // namespace
}  // namespace inlinesec::abi

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  inlinesec::abi::RunScript(data, size);
  return 0;
}
