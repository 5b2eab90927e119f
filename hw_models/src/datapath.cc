// The engine model's ESP datapath: Engine::Transmit and Engine::Receive on
// top of EngineCore (engine_impl.h) and the packet functions of hw_models/esp.
// This file decides what each outcome does to SA state, counters and the
// exception ring; esp.cc decides what happens to the bytes. The rules (see
// docs/esp_datapath.md):
//  - nothing runs while ctrl::Enable is 0: offload TX packets are dropped
//    (tx_dropped, no exception), RX packets pass as kBypass;
//  - a packet the engine cannot finish posts one exception entry and counts
//    in exactly one reason counter plus rx_dropped / tx_dropped;
//  - an inbound SA changes state (window, counters, lifetimes) only for
//    packets whose ICV verified; replay and ICV failures change only the
//    SA's drop counters;
//  - lifetimes: a packet is refused once a hard limit has been reached; the
//    packet that reaches a soft or hard limit passes and raises the event
//    (kSoftLifetime once, kHardLifetime once, then one kHardLifetime
//    exception per refused packet).
#include <algorithm>
#include <array>
#include <cstring>

#include "engine_impl.h"
#include "esp_fast.h"
#include "inlinesec/common/byte_reader.h"
#include "inlinesec/model/esp/esp.h"

namespace inlinesec::model {

namespace {

using abi::ExqReason;

std::uint16_t ClampLen(std::size_t n) {
  return static_cast<std::uint16_t>(std::min<std::size_t>(n, 0xFFFF));
}

// Best-effort addresses of an IP packet handed to Transmit (for exceptions
// only; the packet may be malformed, so every read is bounded).
void PacketAddresses(std::span<const std::uint8_t> pkt, ExceptionInfo& info) {
  ByteReader r(pkt);
  std::uint8_t vihl = 0;
  if (!r.U8(vihl)) return;
  if ((vihl >> 4) == 4) {
    std::span<std::uint8_t> src(info.src.data(), 4), dst(info.dst.data(), 4);
    if (r.Skip(11) && r.Copy(src)) (void)r.Copy(dst);
  } else if ((vihl >> 4) == 6) {
    info.v6 = true;
    if (r.Skip(7) && r.Copy(info.src)) (void)r.Copy(info.dst);
  }
}

// limit != 0 && value >= limit, without a branch: for limit 0, limit - 1
// wraps to the largest value, which no value exceeds.
bool Reached(std::uint64_t limit, std::uint64_t value) { return limit - 1 < value; }

bool HardReached(const SaLimits& l, const SaCounters& c) {
  return Reached(l.hard_packets, c.packets) || Reached(l.hard_bytes, c.bytes);
}

// Whether `s` may carry no more packets because of its hard lifetime: it was
// marked hard-expired, or it reaches a hard limit now (then it is marked).
// Without limits (s.limited false) no hard limit can be reached.
bool HardStopped(SaSlot& s) {
  if ((s.state & abi::sa_state::HardExpired::kMask) == 0 &&
      !(s.limited && HardReached(s.limits, s.counters)))
    return false;
  s.state = abi::sa_state::HardExpired::Set(s.state, 1);
  return true;
}

// True if the 8 bytes are zero (one load, whatever the byte order).
bool AllZero(const std::array<std::uint8_t, 8>& a) {
  std::uint64_t v;
  std::memcpy(&v, a.data(), sizeof(v));
  return v == 0;
}

// What an outbound exception names besides the packet.
struct TxFailure {
  ExqReason reason;
  std::uint32_t spi;       // 0 if no SA
  std::uint32_t sa_index;  // kExqNoSa if no SA
  std::uint64_t seq;       // sequence number used (or the last sent)
};

// Transmit's failure path, kept out of the fast path: counts the drop in
// `counter` and tx_dropped and posts the exception entry with the packet's
// own addresses and first bytes.
[[gnu::cold]] ExqReason FailTx(EngineCore& e, const Frame& f, const TxFailure& x,
                               std::uint64_t& counter) {
  ++counter;
  ++e.counters.tx_dropped;
  ExceptionInfo info;
  info.outbound = true;
  info.reason = x.reason;
  info.spi = x.spi;
  info.sa_index = x.sa_index;
  info.seq = x.seq;
  info.orig_len = ClampLen(f.len);
  if (f.off <= f.buf.size() && f.len <= f.buf.size() - f.off) {
    info.snap = f.bytes();
    PacketAddresses(f.bytes(), info);
  }
  (void)e.PostException(info);
  return x.reason;
}

// Lifetime events after a packet was processed (SA events: Outbound 0,
// addresses from the SA).
void LifetimeEvents(EngineCore& e, SaSlot& s) {
  const SaLimits& l = s.limits;
  const auto post = [&](ExqReason reason) {
    ExceptionInfo info;
    info.reason = reason;
    info.spi = s.spi;
    info.sa_index = s.index;
    info.seq = s.CurrentSeq();
    info.v6 = abi::sa_ctl::OuterV6::Get(s.ctl) != 0;
    info.src = s.entry.src;
    info.dst = s.entry.dst;
    (void)e.PostException(info);
  };
  if ((s.state & abi::sa_state::SoftExpired::kMask) == 0 &&
      (Reached(l.soft_packets, s.counters.packets) || Reached(l.soft_bytes, s.counters.bytes))) {
    s.state = abi::sa_state::SoftExpired::Set(s.state, 1);
    post(ExqReason::kSoftLifetime);
  }
  if ((s.state & abi::sa_state::HardExpired::kMask) == 0 && HardReached(l, s.counters)) {
    s.state = abi::sa_state::HardExpired::Set(s.state, 1);
    post(ExqReason::kHardLifetime);
  }
}

// The same, entered only by SAs that have a limit.
void CheckLifetimes(EngineCore& e, SaSlot& s) {
  if (s.limited) LifetimeEvents(e, s);
}

// RX metadata written once per packet from locals (the Le fields are byte
// arrays; writing each once keeps the fast path short).
[[gnu::always_inline]] inline abi::RxMeta MakeRxMeta(std::uint32_t ctl, std::uint32_t sa_index,
                                                     std::uint32_t spi, std::uint64_t seq,
                                                     std::uint64_t cookie) {
  abi::RxMeta m{};
  m.sa_index.set(sa_index);
  m.spi.set(spi);
  m.ctl.set(ctl);
  m.seq.set(seq);
  m.cookie.set(cookie);
  return m;
}

// An inbound packet as an exception reports it: the outer headers, the length
// as received, and its first bytes as received. Length and snapshot are cut
// from `pkt` only on the failure path.
struct RxPacket {
  const esp::RxParse& p;
  std::span<const std::uint8_t> pkt;  // the frame's bytes as received
  // A copy of the first bytes taken before decryption rewrote them, or
  // nullptr while pkt's own bytes are still as received.
  const std::uint8_t* snap_copy = nullptr;
};

// What an inbound exception and the RX metadata of a failed packet name.
struct RxFailure {
  ExqReason reason;
  std::uint32_t ctl;       // rx_ctl so far (status kFailed, UdpEncap, Tunnel)
  std::uint32_t sa_index;  // kExqNoSa if no SA
  std::uint64_t seq;       // ESN-inferred once the SA is known, else the wire's
  std::uint64_t cookie;    // 0 if no SA
};

// Receive's failure path, kept out of the fast path: counts the drop in
// `counter` and rx_dropped, posts the exception entry and returns the RX
// metadata of the failed packet.
[[gnu::cold]] abi::RxMeta FailRx(EngineCore& e, const RxPacket& rx, const RxFailure& x,
                                 std::uint64_t& counter) {
  ++counter;
  ++e.counters.rx_dropped;
  const esp::RxParse& p = rx.p;
  ExceptionInfo info;
  info.reason = x.reason;
  info.spi = p.spi;
  info.sa_index = x.sa_index;
  info.seq = x.seq;
  info.orig_len = ClampLen(rx.pkt.size());
  info.v6 = p.v6;
  info.udp_encap = p.udp;
  info.src = p.src;
  info.dst = p.dst;
  info.sport = p.sport;
  info.dport = p.dport;
  info.snap = {rx.snap_copy != nullptr ? rx.snap_copy : rx.pkt.data(),
               std::min(rx.pkt.size(), abi::kExqSnapBytes)};
  (void)e.PostException(info);
  return MakeRxMeta(abi::rx_ctl::Reason::Set(x.ctl, static_cast<std::uint32_t>(x.reason)),
                    x.sa_index, p.spi, x.seq, x.cookie);
}

abi::RxMeta RxMetaFor(abi::RxStatus status, ExqReason reason = ExqReason::kNone) {
  abi::RxMeta m{};
  m.sa_index.set(abi::kExqNoSa);
  std::uint32_t ctl = abi::rx_ctl::Status::Set(0, static_cast<std::uint32_t>(status));
  ctl = abi::rx_ctl::Reason::Set(ctl, static_cast<std::uint32_t>(reason));
  m.ctl.set(ctl);
  return m;
}

// Receive's failure path for a packet whose parse is not kept in memory
// (ReceiveParsed<true>): the exception's outer header fields are parsed again
// from the packet. Before any failure is reported only the bytes after the
// ESP IV have been rewritten (by decryption), so the outer header, SPI and
// sequence number are still as received.
[[gnu::cold]] [[gnu::noinline]] abi::RxMeta FailRxReparsed(EngineCore& e,
                                                           std::span<const std::uint8_t> pkt,
                                                           const std::uint8_t* snap_copy,
                                                           const RxFailure& x,
                                                           std::uint64_t& counter) {
  const esp::RxParse p = esp::ParseInbound(pkt);
  return FailRx(e, {p, pkt, snap_copy}, x, counter);
}

template <bool kCommon>
[[gnu::always_inline]] inline abi::RxMeta Fail(EngineCore& e, const esp::RxParse& p,
                                               std::span<const std::uint8_t> pkt,
                                               const std::uint8_t* snap_copy, const RxFailure& x,
                                               std::uint64_t& counter) {
  if constexpr (kCommon) {
    return FailRxReparsed(e, pkt, snap_copy, x, counter);
  } else {
    return FailRx(e, {p, pkt, snap_copy}, x, counter);
  }
}

// Receive from the SA lookup on. kCommon: `p` is ParseInboundCommon's result,
// whose header offsets are constants where this is inlined; the failure paths
// parse the packet again instead of keeping `p` in memory.
template <bool kCommon>
[[gnu::always_inline]] inline abi::RxMeta ReceiveParsed(EngineCore& e, Frame& f,
                                                        std::span<const std::uint8_t> pkt,
                                                        const esp::RxParse& p) {
  ++e.counters.rx_packets;
  e.counters.rx_bytes += f.len;
  // rx_ctl's fields are disjoint: Status, UdpEncap and (once the SA is known)
  // Tunnel are or-ed together where the outcome is known, so the failure
  // paths' values are built only there. RxPacket likewise.
  constexpr std::uint32_t kFailedCtl =
      abi::rx_ctl::Status::Set(0, static_cast<std::uint32_t>(abi::RxStatus::kFailed));
  const std::uint32_t udp_bit = p.udp ? abi::rx_ctl::UdpEncap::kMask : 0;

  std::uint32_t index = kNoSlot;
  SaSlot* s = p.cls == esp::RxClass::kEsp || p.spi != 0 ? e.FindInbound(p.spi, index) : nullptr;
  if (p.cls == esp::RxClass::kMalformed || s == nullptr || !s->aead || !s->replay) [[unlikely]] {
    const std::uint32_t sa_index = s != nullptr ? index : abi::kExqNoSa;
    const std::uint64_t cookie = s != nullptr ? s->cookie : 0;
    if (p.cls == esp::RxClass::kMalformed)
      return Fail<kCommon>(
          e, p, pkt, nullptr,
          {ExqReason::kMalformed, kFailedCtl | udp_bit, sa_index, p.seq_low, cookie},
          e.counters.malformed);
    return Fail<kCommon>(e, p, pkt, nullptr,
                         {ExqReason::kSpiMiss, kFailedCtl | udp_bit, sa_index, p.seq_low, cookie},
                         e.counters.spi_miss);
  }
  // sa_ctl::Mode is one bit, 1 for tunnel: it is rx_ctl::Tunnel's value.
  static_assert(abi::sa_ctl::Mode::kMax == 1 &&
                static_cast<std::uint32_t>(abi::Mode::kTunnel) == 1);
  const std::uint32_t flags = udp_bit | abi::rx_ctl::Tunnel::Set(0, abi::sa_ctl::Mode::Get(s->ctl));
  const std::uint64_t cookie = s->cookie;

  if (HardStopped(*s)) [[unlikely]] {
    return Fail<kCommon>(e, p, pkt, nullptr,
                         {ExqReason::kHardLifetime, kFailedCtl | flags, index, p.seq_low, cookie},
                         e.counters.lifetime_drops);
  }
  std::uint64_t seq = 0;
  const esp::ReplayWindow::Verdict v = s->replay->Check(p.seq_low, seq);
  if (v != esp::ReplayWindow::Verdict::kOk) [[unlikely]] {
    ++s->counters.replay_drops;
    return Fail<kCommon>(e, p, pkt, nullptr,
                         {ExqReason::kReplay, kFailedCtl | flags, index, seq, cookie},
                         e.counters.replay_drops);
  }
  // Decryption rewrites the payload in place: from here on the snapshot is a
  // copy taken before it.
  std::array<std::uint8_t, abi::kExqSnapBytes> snap;
  if (pkt.size() >= snap.size()) {
    std::memcpy(snap.data(), pkt.data(), snap.size());  // constant size: a few wide moves
  } else {
    std::memcpy(snap.data(), pkt.data(), pkt.size());
  }
  // The frame check above and ParseInbound give DecapsulateFast's
  // preconditions (an ESP packet inside f.bytes()).
  const esp::RxResult r = esp::detail::DecapsulateFast(s->ctl, *s->aead, p, seq, f);
  // A failed DecapsulateFast leaves f.off and f.len alone: the failure paths
  // take the packet's span from f again rather than keeping `pkt` live
  // across the AEAD calls.
  if (r.reason == ExqReason::kIcvFail) [[unlikely]] {
    ++s->counters.auth_fails;
    return Fail<kCommon>(e, p, {f.buf.data() + f.off, f.len}, snap.data(),
                         {ExqReason::kIcvFail, kFailedCtl | flags, index, seq, cookie},
                         e.counters.auth_fails);
  }
  // The ICV verified: the sender really used this number (RFC 4303 §3.4.3).
  s->replay->Accept(seq);
  if (r.reason != ExqReason::kNone) [[unlikely]]
    return Fail<kCommon>(e, p, {f.buf.data() + f.off, f.len}, snap.data(),
                         {r.reason, kFailedCtl | flags, index, seq, cookie}, e.counters.malformed);

  ++s->counters.packets;
  s->counters.bytes += r.inner_len;
  CheckLifetimes(e, *s);
  constexpr std::uint32_t kDecryptedCtl =
      abi::rx_ctl::Status::Set(0, static_cast<std::uint32_t>(abi::RxStatus::kDecrypted));
  return MakeRxMeta(kDecryptedCtl | flags | abi::rx_ctl::NextHeader::Set(0, r.next_header), index,
                    p.spi, seq, cookie);
}

}  // namespace

abi::ExqReason Engine::Transmit(const abi::TxMeta& meta, Frame& f) {
  EngineCore& e = *impl_;
  const std::uint32_t flags = meta.flags.get();
  const bool offload = abi::tx_flags::Offload::Get(flags) != 0;
  if (!e.enabled()) {
    if (!offload) return ExqReason::kNone;  // bypass needs no engine
    ++e.counters.tx_dropped;
    return ExqReason::kTxNoSa;
  }
  const std::uint32_t index = meta.sa_index.get();
  // Reserved metadata must be zero (the ABI rule for every reserved field).
  if ((flags & ~abi::tx_flags::kDefinedMask) != 0 || !AllZero(meta.rsvd_0x08)) [[unlikely]]
    return FailTx(e, f, {ExqReason::kMalformed, 0, index, 0}, e.counters.malformed);
  if (!offload) return ExqReason::kNone;

  SaSlot* s = e.SlotAt(index);
  if (s == nullptr || s->inbound() || !s->aead) [[unlikely]] {
    const TxFailure x{ExqReason::kTxNoSa, s == nullptr ? 0 : s->spi,
                      s == nullptr ? abi::kExqNoSa : index, 0};
    return FailTx(e, f, x, e.counters.tx_no_sa);
  }
  if (HardStopped(*s)) [[unlikely]] {
    return FailTx(e, f, {ExqReason::kHardLifetime, s->spi, index, s->tx_seq},
                  e.counters.lifetime_drops);
  }
  // RFC 4303 §3.3.3: the counter never cycles. Without ESN 2^32 - 1 is the
  // last number sent; with ESN 2^64 - 1.
  const std::uint64_t last = s->esn() ? ~std::uint64_t{0} : 0xFFFFFFFFull;
  if ((s->state & abi::sa_state::SeqOverflow::kMask) != 0 || s->tx_seq >= last) [[unlikely]] {
    s->state = abi::sa_state::SeqOverflow::Set(s->state, 1);
    return FailTx(e, f, {ExqReason::kSeqOverflow, s->spi, index, s->tx_seq},
                  e.counters.seq_overflows);
  }
  const std::uint64_t seq = s->tx_seq + 1;
  const esp::TxResult r = esp::detail::EncapsulateFast(s->tx, *s->aead, seq, f, nullptr);
  if (r.reason != ExqReason::kNone) [[unlikely]]
    return FailTx(e, f, {r.reason, s->spi, index, seq}, e.counters.malformed);
  s->tx_seq = seq;
  ++s->counters.packets;
  s->counters.bytes += r.inner_len;
  ++e.counters.tx_packets;
  e.counters.tx_bytes += f.len;
  CheckLifetimes(e, *s);
  return ExqReason::kNone;
}

abi::RxMeta Engine::Receive(Frame& f) {
  EngineCore& e = *impl_;
  if (!e.enabled() || f.off > f.buf.size() || f.len > f.buf.size() - f.off) [[unlikely]]
    return RxMetaFor(abi::RxStatus::kBypass);
  // f.bytes() without its second bound check (the test above is that check).
  const std::span<const std::uint8_t> pkt(f.buf.data() + f.off, f.len);
  esp::RxParse common;
  if (esp::detail::ParseInboundCommon(pkt, common)) [[likely]]
    return ReceiveParsed<true>(e, f, pkt, common);
  const esp::RxParse p = esp::detail::ParseInboundGeneral(pkt);
  if (p.cls == esp::RxClass::kBypass) return RxMetaFor(abi::RxStatus::kBypass);
  if (p.cls == esp::RxClass::kIke) [[unlikely]] {
    ++e.counters.ike_passthrough;
    abi::RxMeta m = RxMetaFor(abi::RxStatus::kIkeToHost);
    m.ctl.set(abi::rx_ctl::UdpEncap::Set(m.ctl.get(), 1));
    return m;
  }
  return ReceiveParsed<false>(e, f, pkt, p);
}

}  // namespace inlinesec::model
