// Exception-entry decoder (bounded, untrusting) and the ring consumer. See
// events.h.
#include "inlinesec/sdk/events.h"

#include <unistd.h>

#include "inlinesec/common/byte_reader.h"

namespace inlinesec::sdk {
namespace {

Status Corrupt(std::string_view why) {
  return Status(Code::kDataLoss, "corrupt exception entry: " + std::string(why));
}

bool ClaimsSa(abi::ExqReason r) {
  switch (r) {
    case abi::ExqReason::kReplay:
    case abi::ExqReason::kIcvFail:
    case abi::ExqReason::kSoftLifetime:
    case abi::ExqReason::kHardLifetime:
    case abi::ExqReason::kSeqOverflow:
      return true;
    default:
      return false;
  }
}

bool V4Clean(const abi::IpAddr& a) {
  for (std::size_t i = 4; i < a.size(); ++i) {
    if (a[i] != 0) return false;
  }
  return true;
}

}  // namespace

std::string_view EventKindName(EventKind k) {
  switch (k) {
    case EventKind::kSpiMiss:
      return "spi_miss";
    case EventKind::kReplay:
      return "replay";
    case EventKind::kIcvFail:
      return "icv_fail";
    case EventKind::kSoftLifetime:
      return "soft_lifetime";
    case EventKind::kHardLifetime:
      return "hard_lifetime";
    case EventKind::kSeqOverflow:
      return "seq_overflow";
    case EventKind::kMalformed:
      return "malformed";
    case EventKind::kTxNoSa:
      return "tx_no_sa";
    case EventKind::kRingOverflow:
      return "ring_overflow";
  }
  return "?";
}

EventKind KindFor(abi::ExqReason reason) {
  switch (reason) {
    case abi::ExqReason::kSpiMiss:
      return EventKind::kSpiMiss;
    case abi::ExqReason::kReplay:
      return EventKind::kReplay;
    case abi::ExqReason::kIcvFail:
      return EventKind::kIcvFail;
    case abi::ExqReason::kSoftLifetime:
      return EventKind::kSoftLifetime;
    case abi::ExqReason::kHardLifetime:
      return EventKind::kHardLifetime;
    case abi::ExqReason::kSeqOverflow:
      return EventKind::kSeqOverflow;
    case abi::ExqReason::kMalformed:
      return EventKind::kMalformed;
    case abi::ExqReason::kTxNoSa:
    case abi::ExqReason::kNone:
      break;
  }
  return EventKind::kTxNoSa;
}

Result<PacketException> DecodeExqEntry(std::span<const std::uint8_t> raw,
                                       std::uint32_t sa_capacity) {
  if (raw.size() != abi::kExqEntryBytes) return Corrupt("wrong size");
  ByteReader r(raw);
  std::uint32_t ctl = 0, spi = 0, sa_index = 0;
  std::uint16_t orig_len = 0, rsvd = 0, sport = 0, dport = 0;
  std::uint64_t seq = 0, ts = 0;
  PacketException p;
  std::span<std::uint8_t> snap(p.snap);
  if (!r.U32Le(ctl) || !r.U32Le(spi) || !r.U32Le(sa_index) || !r.U16Le(orig_len) ||
      !r.U16Le(rsvd) || !r.U64Le(seq) || !r.U64Le(ts) || !r.Copy(p.src.bytes) ||
      !r.Copy(p.dst.bytes) || !r.U16Le(sport) || !r.U16Le(dport) || !r.Copy(snap) || !r.empty()) {
    return Corrupt("layout");
  }
  if ((ctl & ~abi::exq_ctl::kDefinedMask) != 0 || rsvd != 0) return Corrupt("reserved bits set");
  std::uint32_t reason = abi::exq_ctl::Reason::Get(ctl);
  if (reason == 0 || reason > static_cast<std::uint32_t>(abi::ExqReason::kLast)) {
    return Corrupt("reason out of range");
  }
  std::uint32_t snap_len = abi::exq_ctl::SnapLen::Get(ctl);
  if (snap_len > abi::kExqSnapBytes) return Corrupt("snapshot longer than 60 bytes");
  p.reason = static_cast<abi::ExqReason>(reason);
  if (sa_index != abi::kExqNoSa) {
    if (sa_index >= sa_capacity) return Corrupt("sa_index outside the table");
    p.sa_index = sa_index;
  } else if (ClaimsSa(p.reason)) {
    return Corrupt("SA event without an SA index");
  }
  p.src.v6 = p.dst.v6 = abi::exq_ctl::V6::Get(ctl) != 0;
  if (!p.src.v6 && (!V4Clean(p.src.bytes) || !V4Clean(p.dst.bytes))) {
    return Corrupt("IPv4 address with stray bytes");
  }
  p.udp_encap = abi::exq_ctl::UdpEncap::Get(ctl) != 0;
  if (!p.udp_encap && (sport != 0 || dport != 0)) return Corrupt("ports without UDP encap");
  p.outbound = abi::exq_ctl::Outbound::Get(ctl) != 0;
  p.spi = spi;
  p.orig_len = orig_len;
  p.seq = seq;
  p.timestamp_ns = ts;
  p.sport = sport;
  p.dport = dport;
  p.snap_len = static_cast<std::uint8_t>(snap_len);
  // Bytes past snap_len are not the packet's: never hand them on.
  for (std::size_t i = snap_len; i < p.snap.size(); ++i) p.snap[i] = 0;
  return p;
}

ExceptionConsumer::ExceptionConsumer(driver::Device& device)
    : device_(device), raw_(64), epoch_(device.epoch()) {}

int ExceptionConsumer::fd() const { return device_.transport().IrqFd(); }

Result<std::size_t> ExceptionConsumer::Poll(std::vector<Event>& out, std::size_t max) {
  int efd = fd();
  if (efd >= 0) {
    std::uint64_t v;
    (void)!read(efd, &v, sizeof(v));  // non-blocking; empty is fine
  }
  device_.AckExceptionIrq();
  if (device_.epoch() != epoch_) {  // the engine restarted: counters did too
    epoch_ = device_.epoch();
    dropped_seen_ = 0;
  }
  std::size_t added = 0;
  while (added < max) {
    std::size_t want = std::min(raw_.size(), max - added);
    Result<std::size_t> n = device_.ReadExceptions(std::span(raw_).first(want));
    if (!n.ok()) return n.status();
    for (std::size_t i = 0; i < *n; ++i) {
      ++stats_.entries;
      std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(&raw_[i]),
                                          sizeof(abi::ExqEntry));
      Result<PacketException> p = DecodeExqEntry(bytes, device_.caps().sa_capacity);
      if (!p.ok()) {
        ++stats_.corrupt;
        continue;
      }
      Event e;
      e.kind = KindFor(p->reason);
      e.packet = *p;
      ++stats_.by_kind[static_cast<std::size_t>(e.kind)];
      out.push_back(e);
      ++added;
    }
    if (*n < want) break;
  }
  std::uint64_t dropped = device_.ReadCounter(abi::Reg::kCntExqDropped);
  if (dropped < dropped_seen_) dropped_seen_ = 0;  // counter restarted
  if (dropped > dropped_seen_) {
    Event e;
    e.kind = EventKind::kRingOverflow;
    e.dropped = dropped - dropped_seen_;
    stats_.overflow_dropped += e.dropped;
    ++stats_.by_kind[static_cast<std::size_t>(EventKind::kRingOverflow)];
    dropped_seen_ = dropped;
    out.push_back(e);
    ++added;
  }
  return added;
}

Result<std::size_t> ExceptionConsumer::PollAndDispatch(std::size_t max) {
  scratch_.clear();
  Result<std::size_t> n = Poll(scratch_, max);
  if (!n.ok()) return n;
  for (const Event& e : scratch_) {
    for (const Sink& s : sinks_) s(e);
  }
  return n;
}

}  // namespace inlinesec::sdk
