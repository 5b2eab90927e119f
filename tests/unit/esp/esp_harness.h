// Test support for the ESP datapath: hex helpers, a reader for the KAT files
// in tests/vectors/ (blank-line separated `field = hex` records), SA entry
// builders, IP packet builders, and ModelHarness, which drives a model Engine
// through its public host interface only (rings in device memory, kWriteSa
// commands, exception entries read back by phase bit). Shared by the unit,
// interop, fuzz and benchmark programs of hw_models/esp.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "inlinesec/abi/abi.h"
#include "inlinesec/common/byte_reader.h"
#include "inlinesec/common/fake_clock.h"
#include "inlinesec/model/engine.h"

namespace inlinesec::esp_test {

using Bytes = std::vector<std::uint8_t>;

inline Bytes FromHex(const std::string& s) {
  Bytes out;
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      continue;  // spaces and separators
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

inline std::string ToHex(std::span<const std::uint8_t> b) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (std::uint8_t x : b) {
    s.push_back(kDigits[x >> 4]);
    s.push_back(kDigits[x & 15]);
  }
  return s;
}

// One record of a vector file: field name -> raw text after '='.
using Record = std::map<std::string, std::string>;

inline std::vector<Record> ReadVectorFile(const std::string& path) {
  std::vector<Record> out;
  std::ifstream in(path);
  std::string line;
  Record cur;
  const auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      flush();
      continue;
    }
    auto trim = [](std::string s) {
      const auto b = s.find_first_not_of(" \t\r");
      const auto e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    cur[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  flush();
  return out;
}

// ------------------------------------------------------------- SA entries

struct SaSpec {
  std::uint32_t spi = 0x1000;
  abi::Dir dir = abi::Dir::kOutbound;
  abi::Mode mode = abi::Mode::kTunnel;
  abi::Algo algo = abi::Algo::kAesGcm256;
  bool outer_v6 = false;
  bool esn = false;
  bool udp = false;
  std::uint16_t sport = 4500;
  std::uint16_t dport = 4500;
  std::uint32_t window = 64;
  std::uint64_t seq = 0;
  std::uint8_t ttl = 0;
  abi::DfMode df = abi::DfMode::kCopy;
  abi::DscpMode dscp_mode = abi::DscpMode::kCopy;
  std::uint8_t dscp = 0;
  std::uint64_t soft_bytes = 0, hard_bytes = 0, soft_packets = 0, hard_packets = 0;
  Bytes key;  // empty: a fixed test key of the right length
  std::array<std::uint8_t, 4> salt = {0x0A, 0x0B, 0x0C, 0x0D};
  abi::IpAddr src{};  // empty: 192.0.2.1 / 2001:db8::1
  abi::IpAddr dst{};  // empty: 192.0.2.2 / 2001:db8::2
  bool addresses_set = false;
  std::uint64_t cookie = 0xC0FFEE;
};

inline std::size_t KeyLen(abi::Algo a) { return a == abi::Algo::kAesGcm128 ? 16 : 32; }

inline Bytes TestKey(abi::Algo a) {
  Bytes k(KeyLen(a));
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0x11 * (i % 15) + i);
  return k;
}

inline abi::IpAddr V4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  abi::IpAddr r{};
  r[0] = a;
  r[1] = b;
  r[2] = c;
  r[3] = d;
  return r;
}
inline abi::IpAddr V6(std::uint16_t last) {
  abi::IpAddr r{};
  r[0] = 0x20;
  r[1] = 0x01;
  r[2] = 0x0d;
  r[3] = 0xb8;
  r[14] = static_cast<std::uint8_t>(last >> 8);
  r[15] = static_cast<std::uint8_t>(last);
  return r;
}

inline abi::SaEntry MakeSa(const SaSpec& s) {
  abi::SaEntry e{};
  e.spi.set(s.spi);
  std::uint32_t ctl = abi::sa_ctl::Valid::Set(0, 1);
  ctl = abi::sa_ctl::Dir::Set(ctl, static_cast<std::uint32_t>(s.dir));
  ctl = abi::sa_ctl::Mode::Set(ctl, static_cast<std::uint32_t>(s.mode));
  ctl = abi::sa_ctl::OuterV6::Set(ctl, s.outer_v6);
  ctl = abi::sa_ctl::Esn::Set(ctl, s.esn);
  ctl = abi::sa_ctl::UdpEncap::Set(ctl, s.udp);
  ctl = abi::sa_ctl::DfMode::Set(ctl, static_cast<std::uint32_t>(s.df));
  ctl = abi::sa_ctl::DscpMode::Set(ctl, static_cast<std::uint32_t>(s.dscp_mode));
  e.ctl.set(ctl);
  const Bytes key = s.key.empty() ? TestKey(s.algo) : s.key;
  std::uint32_t crypto = abi::sa_crypto::Algo::Set(0, static_cast<std::uint32_t>(s.algo));
  crypto = abi::sa_crypto::IcvLen::Set(crypto, 16);
  crypto = abi::sa_crypto::KeyLen::Set(crypto, static_cast<std::uint32_t>(key.size()));
  e.crypto.set(crypto);
  e.replay.set(abi::sa_replay::Window::Set(0, s.window));
  e.salt = s.salt;
  std::uint32_t outer = abi::sa_outer::Ttl::Set(0, s.ttl);
  e.outer.set(abi::sa_outer::Dscp::Set(outer, s.dscp));
  e.udp_sport.set(s.sport);
  e.udp_dport.set(s.dport);
  std::memcpy(e.key.data(), key.data(), key.size());
  e.seq.set(s.seq);
  e.soft_bytes.set(s.soft_bytes);
  e.hard_bytes.set(s.hard_bytes);
  e.soft_packets.set(s.soft_packets);
  e.hard_packets.set(s.hard_packets);
  if (s.addresses_set) {
    e.src = s.src;
    e.dst = s.dst;
  } else if (s.outer_v6) {
    e.src = V6(1);
    e.dst = V6(2);
  } else {
    e.src = V4(192, 0, 2, 1);
    e.dst = V4(192, 0, 2, 2);
  }
  e.cookie.set(s.cookie);
  return e;
}

// The inbound twin of an outbound SA (same keys, SPI, mode, ESN, encap).
inline SaSpec Inbound(SaSpec s) {
  s.dir = abi::Dir::kInbound;
  return s;
}

// ------------------------------------------------------------ IP packets

inline std::uint16_t Checksum(std::span<const std::uint8_t> b) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < b.size(); i += 2) sum += (b[i] << 8) | b[i + 1];
  if (b.size() % 2) sum += b.back() << 8;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// IPv4 UDP packet 10.1.0.1:1234 -> 10.2.0.1:5678 with `payload` bytes.
inline Bytes Ipv4Udp(std::size_t payload, std::uint8_t tos = 0, bool df = false,
                     std::uint8_t ttl = 61) {
  Bytes p(20 + 8 + payload);
  p[0] = 0x45;
  p[1] = tos;
  StoreBe16(&p[2], static_cast<std::uint16_t>(p.size()));
  StoreBe16(&p[4], 0x1234);
  StoreBe16(&p[6], df ? 0x4000 : 0);
  p[8] = ttl;
  p[9] = 17;
  p[12] = 10, p[13] = 1, p[14] = 0, p[15] = 1;
  p[16] = 10, p[17] = 2, p[18] = 0, p[19] = 1;
  StoreBe16(&p[10], Checksum({p.data(), 20}));
  StoreBe16(&p[20], 1234);
  StoreBe16(&p[22], 5678);
  StoreBe16(&p[24], static_cast<std::uint16_t>(8 + payload));
  for (std::size_t i = 0; i < payload; ++i) p[28 + i] = static_cast<std::uint8_t>(i * 7 + 3);
  return p;
}

// IPv6 UDP packet 2001:db8:1::1 -> 2001:db8:2::1 with `payload` bytes.
inline Bytes Ipv6Udp(std::size_t payload, std::uint8_t tclass = 0, std::uint8_t hop = 61) {
  Bytes p(40 + 8 + payload);
  p[0] = static_cast<std::uint8_t>(0x60 | (tclass >> 4));
  p[1] = static_cast<std::uint8_t>((tclass & 0x0F) << 4);
  StoreBe16(&p[4], static_cast<std::uint16_t>(8 + payload));
  p[6] = 17;
  p[7] = hop;
  p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[13] = 1, p[23] = 1;
  p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[29] = 2, p[39] = 1;
  StoreBe16(&p[40], 1234);
  StoreBe16(&p[42], 5678);
  StoreBe16(&p[44], static_cast<std::uint16_t>(8 + payload));
  for (std::size_t i = 0; i < payload; ++i) p[48 + i] = static_cast<std::uint8_t>(i * 5 + 1);
  return p;
}

// A packet buffer with head- and tailroom, as the engine wants it.
struct PacketBuf {
  Bytes storage;
  model::Frame frame;

  explicit PacketBuf(std::span<const std::uint8_t> pkt, std::size_t head = model::kTxHeadroom,
                     std::size_t tail = model::kTxTailroom)
      : storage(head + pkt.size() + tail) {
    if (!pkt.empty()) std::memcpy(storage.data() + head, pkt.data(), pkt.size());
    frame = model::Frame{storage, head, pkt.size()};
  }
  PacketBuf(const PacketBuf&) = delete;
  PacketBuf& operator=(const PacketBuf&) = delete;
  Bytes bytes() const { return Bytes(frame.bytes().begin(), frame.bytes().end()); }
};

// ------------------------------------------------------------ the engine

inline model::EngineConfig SmallConfig() {
  model::EngineConfig c;
  c.sa_capacity = 1u << 12;
  c.dev_mem_bytes = 32ull << 20;
  return c;
}

class ModelHarness {
 public:
  static constexpr std::uint64_t kCmdOff = 0x000000;
  static constexpr std::uint64_t kCplOff = 0x100000;
  static constexpr std::uint64_t kExqOff = 0x200000;
  static constexpr std::uint64_t kDmaOff = 0x400000;
  static constexpr std::uint32_t kLog2 = 8;

  explicit ModelHarness(const model::EngineConfig& cfg = SmallConfig()) : engine_(cfg, clock_) {
    Ring(abi::Reg::kCmdRing, kCmdOff);
    Ring(abi::Reg::kCplRing, kCplOff);
    Ring(abi::Reg::kExqRing, kExqOff);
    engine_.Write32(abi::Off(abi::Reg::kCtrl), abi::ctrl::Enable::Set(0, 1));
  }

  model::Engine& engine() { return engine_; }
  FakeClockTimers& clock() { return clock_; }
  bool enabled() {
    return abi::status::Enabled::Get(engine_.Read32(abi::Off(abi::Reg::kStatus))) != 0;
  }

  // kWriteSa of `e` at `index`; returns the completion status.
  abi::CmdStatus WriteSa(std::uint32_t index, const abi::SaEntry& e, bool replace = false) {
    Put(base() + kDmaOff, {reinterpret_cast<const std::uint8_t*>(&e), sizeof(e)});
    abi::CmdDesc c{};
    c.opcode = static_cast<std::uint8_t>(abi::Opcode::kWriteSa);
    c.flags = replace ? 1 : 0;
    c.sa_index.set(index);
    c.dma_addr.set(base() + kDmaOff);
    c.dma_len.set(sizeof(e));
    return Run(c);
  }
  // Installs an SA at the index its direction implies: inbound at spi mod
  // capacity, outbound at `out_index`. Aborts if the engine refuses it.
  std::uint32_t Install(const SaSpec& s, std::uint32_t out_index = 1) {
    const std::uint32_t index =
        s.dir == abi::Dir::kInbound ? (s.spi & (engine_.config().sa_capacity - 1)) : out_index;
    const abi::CmdStatus st = WriteSa(index, MakeSa(s), true);
    if (st != abi::CmdStatus::kOk) {
      std::fprintf(stderr, "WriteSa refused: status %u\n", static_cast<unsigned>(st));
      std::abort();
    }
    return index;
  }
  bool ReadSa(std::uint32_t index, abi::SaState& out) {
    abi::CmdDesc c{};
    c.opcode = static_cast<std::uint8_t>(abi::Opcode::kReadSa);
    c.sa_index.set(index);
    c.dma_addr.set(base() + kDmaOff + 0x1000);
    c.dma_len.set(sizeof(out));
    if (Run(c) != abi::CmdStatus::kOk) return false;
    Get(base() + kDmaOff + 0x1000, {reinterpret_cast<std::uint8_t*>(&out), sizeof(out)});
    return true;
  }
  bool ReadStats(abi::GlobalStats& out) {
    abi::CmdDesc c{};
    c.opcode = static_cast<std::uint8_t>(abi::Opcode::kReadStats);
    c.dma_addr.set(base() + kDmaOff + 0x1000);
    c.dma_len.set(sizeof(out));
    if (Run(c) != abi::CmdStatus::kOk) return false;
    Get(base() + kDmaOff + 0x1000, {reinterpret_cast<std::uint8_t*>(&out), sizeof(out)});
    return true;
  }
  std::optional<abi::ExqEntry> PollExq() {
    abi::ExqEntry x;
    Get(base() + kExqOff + 128ull * abi::RingSlot(exq_cons_, kLog2),
        {reinterpret_cast<std::uint8_t*>(&x), sizeof(x)});
    if (abi::exq_ctl::Phase::Get(x.ctl.get()) != abi::RingPhase(exq_cons_, kLog2))
      return std::nullopt;
    ++exq_cons_;
    engine_.Write32(abi::RingOff(abi::Reg::kExqRing, abi::RingReg::kCons), exq_cons_);
    return x;
  }
  std::vector<abi::ExqEntry> DrainExq() {
    std::vector<abi::ExqEntry> v;
    while (auto x = PollExq()) v.push_back(*x);
    return v;
  }

 private:
  std::uint64_t base() const { return engine_.config().dev_mem_base; }
  void Ring(abi::Reg r, std::uint64_t off) {
    const std::uint64_t a = base() + off;
    engine_.Write32(abi::RingOff(r, abi::RingReg::kBaseLo), static_cast<std::uint32_t>(a));
    engine_.Write32(abi::RingOff(r, abi::RingReg::kBaseHi), static_cast<std::uint32_t>(a >> 32));
    engine_.Write32(abi::RingOff(r, abi::RingReg::kSizeLog2), kLog2);
  }
  abi::CmdStatus Run(const abi::CmdDesc& cmd) {
    Put(base() + kCmdOff + 64ull * abi::RingSlot(cmd_prod_, kLog2),
        {reinterpret_cast<const std::uint8_t*>(&cmd), sizeof(cmd)});
    ++cmd_prod_;
    engine_.Write32(abi::RingOff(abi::Reg::kCmdRing, abi::RingReg::kProd), cmd_prod_);
    engine_.ProcessCommands();
    abi::CplEntry c;
    Get(base() + kCplOff + 16ull * abi::RingSlot(cpl_cons_, kLog2),
        {reinterpret_cast<std::uint8_t*>(&c), sizeof(c)});
    if (abi::cpl_ctl::Phase::Get(c.ctl.get()) != abi::RingPhase(cpl_cons_, kLog2))
      return abi::CmdStatus::kInternal;
    ++cpl_cons_;
    engine_.Write32(abi::RingOff(abi::Reg::kCplRing, abi::RingReg::kCons), cpl_cons_);
    return static_cast<abi::CmdStatus>(abi::cpl_ctl::Status::Get(c.ctl.get()));
  }
  void Put(std::uint64_t a, std::span<const std::uint8_t> b) {
    if (!engine_.DevWrite(a, b).ok()) std::abort();
  }
  void Get(std::uint64_t a, std::span<std::uint8_t> b) {
    if (!engine_.DevRead(a, b).ok()) std::abort();
  }

  FakeClockTimers clock_;
  model::Engine engine_;
  std::uint32_t cmd_prod_ = 0;
  std::uint32_t cpl_cons_ = 0;
  std::uint32_t exq_cons_ = 0;
};

inline abi::TxMeta TxFor(std::uint32_t index, bool offload = true) {
  abi::TxMeta m{};
  m.sa_index.set(index);
  m.flags.set(abi::tx_flags::Offload::Set(0, offload ? 1 : 0));
  return m;
}

inline abi::RxStatus StatusOf(const abi::RxMeta& m) {
  return static_cast<abi::RxStatus>(abi::rx_ctl::Status::Get(m.ctl.get()));
}
inline abi::ExqReason ReasonOf(const abi::RxMeta& m) {
  return static_cast<abi::ExqReason>(abi::rx_ctl::Reason::Get(m.ctl.get()));
}
inline abi::ExqReason ReasonOf(const abi::ExqEntry& x) {
  return static_cast<abi::ExqReason>(abi::exq_ctl::Reason::Get(x.ctl.get()));
}

}  // namespace inlinesec::esp_test
