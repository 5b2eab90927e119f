// SaManager implementation: index/SPI allocation with generations and a
// quarantine, SA encoding into the ABI entry, single and batched commands
// with all-or-nothing batches, the shadow, lifetimes and resync. See
// sa_manager.h and docs/sdk_sa_manager.md.
#include "inlinesec/sdk/sa_manager.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>

#include "inlinesec/common/check.h"

namespace inlinesec::sdk {
namespace {

constexpr std::uint32_t kMinSpi = 256;  // RFC 4303 §2.1: 1..255 reserved
constexpr std::uint32_t kIcvBytes = 16;

abi::Algo ToAbi(AeadAlgo a) {
  switch (a) {
    case AeadAlgo::kAesGcm128:
      return abi::Algo::kAesGcm128;
    case AeadAlgo::kAesGcm256:
      return abi::Algo::kAesGcm256;
    case AeadAlgo::kChaCha20Poly1305:
      return abi::Algo::kChaCha20Poly1305;
  }
  return abi::Algo::kNone;
}

std::size_t KeyBytes(AeadAlgo a) { return a == AeadAlgo::kAesGcm128 ? 16 : 32; }

bool IsDeviceFailure(const Status& st) {
  switch (st.code()) {
    case Code::kDeadlineExceeded:
    case Code::kUnavailable:
    case Code::kDataLoss:
    case Code::kInternal:
      return true;
    default:
      return false;
  }
}

Status Unsupported(std::string what) {
  return Status(Code::kUnimplemented, "engine lacks " + std::move(what));
}

Status NotApplied(std::size_t bad) {
  return Status(Code::kFailedPrecondition,
                "not applied: batch item " + std::to_string(bad) + " failed");
}

std::uint64_t Remaining(std::uint64_t limit, std::uint64_t used) {
  if (limit == 0) return 0;
  return limit > used ? limit - used : 1;
}

}  // namespace

std::string_view SaEventKindName(SaEventKind k) {
  switch (k) {
    case SaEventKind::kSoftTime:
      return "soft_time";
    case SaEventKind::kHardTime:
      return "hard_time";
    case SaEventKind::kSoftBytes:
      return "soft_bytes";
    case SaEventKind::kHardBytes:
      return "hard_bytes";
    case SaEventKind::kSoftPackets:
      return "soft_packets";
    case SaEventKind::kHardPackets:
      return "hard_packets";
    case SaEventKind::kSeqOverflow:
      return "seq_overflow";
  }
  return "?";
}

SaDescription SaDescription::Clone() const {
  SaDescription d;
  d.direction = direction;
  d.spi = spi;
  d.salt = salt;
  d.algo = algo;
  d.key = key.Clone();
  d.esn = esn;
  d.udp_encap = udp_encap;
  d.copy_dscp = copy_dscp;
  d.dscp = dscp;
  d.df = df;
  d.ttl = ttl;
  d.mode = mode;
  d.tunnel_src = tunnel_src;
  d.tunnel_dst = tunnel_dst;
  d.udp_sport = udp_sport;
  d.udp_dport = udp_dport;
  d.replay_window = replay_window;
  d.life = life;
  d.initial_seq = initial_seq;
  d.cookie = cookie;
  return d;
}

void SaManager::FreeDeleter::operator()(void* p) const { std::free(p); }

SaManager::SaManager(driver::Device& device, const Clock& clock, Timers& timers,
                     const SaManagerOptions& options)
    : device_(device),
      clock_(clock),
      timers_(timers),
      options_(options),
      capacity_(device.caps().sa_capacity),
      index_(static_cast<IndexState*>(std::calloc(capacity_, sizeof(IndexState)))),
      in_use_(capacity_, 0) {
  INLINESEC_CHECK(index_ != nullptr || capacity_ == 0);
  const driver::Capabilities& c = device.caps();
  lacks_options_ = !(c.esn && c.nat_t && c.tunnel && c.transport && c.ipv6 && c.df_control &&
                     c.dscp_copy && c.lifetime_bytes && c.lifetime_packets);
  // SPI = generation * capacity + index, never below 256 and within 32 bits.
  min_generation_ = std::max<std::uint32_t>(1, (kMinSpi + capacity_ - 1) / capacity_);
  max_generation_ = static_cast<std::uint32_t>((std::uint64_t{1} << 32) / capacity_ - 1);
}

SaManager::~SaManager() {
  ForEachShadow([this](Shadow& s) { CancelTimers(s); });
}

// ------------------------------------------------------------ index and SPI

TimePoint SaManager::QuarantineNow() const {
  return freed_.size() == released_ ? TimePoint{} : clock_.Now();
}

void SaManager::Quarantine(std::uint32_t index, TimePoint now) {
  freed_.Push({now + options_.spi_quarantine, index});
}

Result<std::uint32_t> SaManager::PickIndex(TimePoint now) {
  // Quarantine ends in the order it began: release from the front.
  for (const FreedIndex* q; (q = freed_.Peek(released_)) != nullptr && q->until <= now;
       ++released_) {
    in_use_[q->index] = 0;
  }
  // An index may sit in a free list while taken by an explicit inbound SPI.
  auto take = [this](std::uint32_t i) {
    if (in_use_[i]) return false;
    in_use_[i] = 1;
    return true;
  };
  while (next_fresh_ < capacity_) {
    std::uint32_t i = next_fresh_++;
    if (take(i)) return i;
  }
  // Indices given back by Unreserve first (last given back first), then
  // the free FIFO: as if they had been put back at its front.
  while (!returned_.empty()) {
    std::uint32_t i = returned_.back();
    returned_.pop_back();
    if (take(i)) return i;
  }
  while (released_ > 0) {
    --released_;
    std::uint32_t i = freed_.Pop().index;
    if (take(i)) return i;
  }
  return TableFull();
}

Status SaManager::TableFull() const {
  return Status(Code::kResourceExhausted,
                "SA table full: " + std::to_string(capacity_) + " entries, " +
                    std::to_string(freed_.size() - released_) + " in quarantine");
}

std::uint32_t SaManager::SpiFor(std::uint32_t index) {
  std::uint32_t& next = index_[index].next_generation;
  const std::uint32_t g = next == 0 ? min_generation_ : next;
  next = g >= max_generation_ ? min_generation_ : g + 1;
  return g * capacity_ + index;
}

Result<std::uint32_t> SaManager::AllocateInboundSpi() {
  Result<std::uint32_t> idx = PickIndex(QuarantineNow());
  if (!idx.ok()) return idx.status();
  std::uint32_t spi = SpiFor(*idx);
  reserved_[*idx] = spi;
  return spi;
}

Status SaManager::ReleaseSpi(std::uint32_t spi) {
  std::uint32_t idx = spi & (capacity_ - 1);
  auto it = reserved_.find(idx);
  if (it == reserved_.end() || it->second != spi) {
    return Status(Code::kNotFound, "SPI " + std::to_string(spi) + " is not reserved");
  }
  reserved_.erase(it);
  // The peer may have seen this SPI: quarantine it like a deleted SA's.
  Quarantine(idx, clock_.Now());
  return Status::Ok();
}

Result<SaHandle> SaManager::Reserve(const SaDescription& d, TimePoint now) {
  SaHandle h;
  if (d.direction == SaDirection::kOutbound) {
    Result<std::uint32_t> idx = PickIndex(now);
    if (!idx.ok()) return idx.status();
    h.index = *idx;
    h.spi = d.spi;
    return h;
  }
  if (d.spi == 0) {
    Result<std::uint32_t> idx = PickIndex(now);
    if (!idx.ok()) return idx.status();
    h.index = *idx;
    h.spi = SpiFor(*idx);
    return h;
  }
  h.index = d.spi & (capacity_ - 1);
  h.spi = d.spi;
  auto it = reserved_.find(h.index);
  if (it != reserved_.end() && it->second == d.spi) {
    reserved_.erase(it);  // the reservation becomes the SA (index stays in use)
    return h;
  }
  if (in_use_[h.index]) {
    return Status(Code::kAlreadyExists, "inbound SPI " + std::to_string(d.spi) + ": table index " +
                                            std::to_string(h.index) +
                                            " is in use, reserved or in quarantine");
  }
  in_use_[h.index] = 1;
  std::uint32_t g = d.spi / capacity_;
  index_[h.index].next_generation = g >= max_generation_ ? min_generation_ : g + 1;
  return h;
}

void SaManager::Unreserve(const SaHandle& h, SaDirection dir) {
  (void)dir;
  in_use_[h.index] = 0;
  // Never programmed: give it back where it came from.
  if (h.index + 1 == next_fresh_) {
    --next_fresh_;
  } else {
    returned_.push_back(h.index);
  }
}

// ------------------------------------------------------------ encoding

Status SaManager::Validate(const SaDescription& d) const {
  const driver::Capabilities& c = device_.caps();
  auto bad = [](std::string m) { return Status(Code::kInvalidArgument, std::move(m)); };
  if (!c.SupportsAlgo(ToAbi(d.algo))) return Unsupported("the AEAD algorithm");
  if (d.key.size() != KeyBytes(d.algo)) {
    return bad("key is " + std::to_string(d.key.size()) + " bytes, algorithm needs " +
               std::to_string(KeyBytes(d.algo)));
  }
  if (d.direction == SaDirection::kOutbound && d.spi < kMinSpi) {
    return bad("outbound SPI " + std::to_string(d.spi) + " is reserved (0-255)");
  }
  if (d.direction == SaDirection::kInbound && d.spi != 0 && d.spi < kMinSpi) {
    return bad("inbound SPI " + std::to_string(d.spi) + " is reserved (0-255)");
  }
  if (d.replay_window % 32 != 0 || d.replay_window > c.replay_window_max) {
    return bad("replay window " + std::to_string(d.replay_window) +
               " must be a multiple of 32 up to " + std::to_string(c.replay_window_max));
  }
  if (lacks_options_) INLINESEC_RETURN_IF_ERROR(CheckOptions(d));
  if (d.tunnel_src.v6 != d.tunnel_dst.v6) return bad("tunnel addresses of two families");
  if (d.mode == SaMode::kTunnel && (d.tunnel_src.IsZero() || d.tunnel_dst.IsZero())) {
    return bad("tunnel mode needs both outer addresses");
  }
  if (d.dscp >= 64) return bad("DSCP must be 0..63");
  if (!d.esn && (d.initial_seq >> 32) != 0) return bad("initial sequence needs ESN");
  auto order = [](std::uint64_t soft, std::uint64_t hard) {
    return soft == 0 || hard == 0 || soft <= hard;
  };
  if (!order(d.life.bytes_soft, d.life.bytes_hard) ||
      !order(d.life.packets_soft, d.life.packets_hard) ||
      !order(static_cast<std::uint64_t>(d.life.time_soft.count()),
             static_cast<std::uint64_t>(d.life.time_hard.count())) ||
      d.life.time_soft.count() < 0 || d.life.time_hard.count() < 0) {
    return bad("a soft lifetime exceeds its hard one");
  }
  return Status::Ok();
}

Status SaManager::CheckOptions(const SaDescription& d) const {
  const driver::Capabilities& c = device_.caps();
  if (d.esn && !c.esn) return Unsupported("ESN");
  if (d.udp_encap && !c.nat_t) return Unsupported("NAT-T");
  if (d.mode == SaMode::kTunnel && !c.tunnel) return Unsupported("tunnel mode");
  if (d.mode == SaMode::kTransport && !c.transport) return Unsupported("transport mode");
  if ((d.tunnel_src.v6 || d.tunnel_dst.v6) && !c.ipv6) return Unsupported("IPv6");
  if (d.df != DfPolicy::kCopy && !c.df_control) return Unsupported("DF control");
  if (!d.copy_dscp && !c.dscp_copy) return Unsupported("DSCP control");
  if ((d.life.bytes_soft || d.life.bytes_hard) && !c.lifetime_bytes)
    return Unsupported("byte lifetimes");
  if ((d.life.packets_soft || d.life.packets_hard) && !c.lifetime_packets)
    return Unsupported("packet lifetimes");
  return Status::Ok();
}

void SaManager::Encode(const SaDescription& d, std::uint64_t seq, abi::SaEntry& e) const {
  namespace ctl = abi::sa_ctl;
  // Every field is stored below, reserved ones and the key as zeros (no
  // zero pass first: GCC makes that a `rep stos`, slow for 192 bytes). A
  // field added to SaEntry must be added here.
  static_assert(sizeof(abi::SaEntry) == 192);
  e.spi.set(0);
  e.rsvd_0x1c = {};
  e.key = {};
  e.rsvd_0xb0 = {};
  std::uint32_t c = ctl::Valid::Set(0, 1);
  c = ctl::Dir::Set(
      c, static_cast<std::uint32_t>(d.direction == SaDirection::kInbound ? abi::Dir::kInbound
                                                                         : abi::Dir::kOutbound));
  c = ctl::Mode::Set(c,
                     static_cast<std::uint32_t>(d.mode == SaMode::kTunnel ? abi::Mode::kTunnel
                                                                          : abi::Mode::kTransport));
  c = ctl::OuterV6::Set(c, d.tunnel_src.v6 ? 1 : 0);
  c = ctl::Esn::Set(c, d.esn ? 1 : 0);
  c = ctl::UdpEncap::Set(c, d.udp_encap ? 1 : 0);
  abi::DfMode df = d.df == DfPolicy::kSet     ? abi::DfMode::kSet
                   : d.df == DfPolicy::kClear ? abi::DfMode::kClear
                                              : abi::DfMode::kCopy;
  c = ctl::DfMode::Set(c, static_cast<std::uint32_t>(df));
  c = ctl::DscpMode::Set(
      c, static_cast<std::uint32_t>(d.copy_dscp ? abi::DscpMode::kCopy : abi::DscpMode::kSet));
  e.ctl.set(c);
  std::uint32_t crypto = abi::sa_crypto::Algo::Set(0, static_cast<std::uint32_t>(ToAbi(d.algo)));
  crypto = abi::sa_crypto::IcvLen::Set(crypto, kIcvBytes);
  crypto = abi::sa_crypto::KeyLen::Set(crypto, static_cast<std::uint32_t>(KeyBytes(d.algo)));
  e.crypto.set(crypto);
  e.replay.set(
      d.direction == SaDirection::kInbound ? abi::sa_replay::Window::Set(0, d.replay_window) : 0);
  e.salt = d.salt;
  std::uint32_t outer = abi::sa_outer::Ttl::Set(0, d.ttl);
  outer = abi::sa_outer::Dscp::Set(outer, d.dscp);
  e.outer.set(outer);
  e.udp_sport.set(d.udp_sport);
  e.udp_dport.set(d.udp_dport);
  e.seq.set(seq);
  e.soft_bytes.set(d.life.bytes_soft);
  e.hard_bytes.set(d.life.bytes_hard);
  e.soft_packets.set(d.life.packets_soft);
  e.hard_packets.set(d.life.packets_hard);
  e.src = d.tunnel_src.bytes;
  e.dst = d.tunnel_dst.bytes;
  e.cookie.set(d.cookie);
}

void SaManager::FillKey(abi::SaEntry& e, std::span<const std::uint8_t> key) {
  std::copy(key.begin(), key.end(), e.key.begin());
}

// ------------------------------------------------------------ shadow

SaManager::Shadow* SaManager::ShadowAt(std::uint32_t index) {
  if (index >= capacity_ || index_[index].shadow == 0) return nullptr;
  const std::uint32_t pos = index_[index].shadow - 1;
  return &chunks_[pos / kShadowChunk][pos % kShadowChunk];
}

const SaManager::Shadow* SaManager::ShadowAt(std::uint32_t index) const {
  return const_cast<SaManager*>(this)->ShadowAt(index);
}

SaManager::Shadow& SaManager::NewShadow(std::uint32_t index) {
  INLINESEC_CHECK(index < capacity_ && index_[index].shadow == 0);
  std::uint32_t pos;
  if (!free_positions_.empty()) {
    pos = free_positions_.Pop();
  } else {
    pos = positions_++;
    if (pos / kShadowChunk == chunks_.size()) {
      chunks_.push_back(std::make_unique<Shadow[]>(kShadowChunk));
    }
  }
  index_[index].shadow = pos + 1;
  ++live_;
  return chunks_[pos / kShadowChunk][pos % kShadowChunk];
}

void SaManager::PrefetchNewShadow(std::size_t k) const {
  const std::uint32_t* reused = free_positions_.Peek(k);
  const std::size_t pos = reused != nullptr ? *reused : positions_ + (k - free_positions_.size());
  if (pos / kShadowChunk >= chunks_.size()) return;
  const auto* p = reinterpret_cast<const char*>(&chunks_[pos / kShadowChunk][pos % kShadowChunk]);
#pragma GCC unroll 16
  for (std::size_t off = 0; off < sizeof(Shadow); off += 64) __builtin_prefetch(p + off, 1);
}

void SaManager::DropShadow(std::uint32_t index) {
  Shadow* s = ShadowAt(index);
  if (s == nullptr) return;
  free_positions_.Push(index_[index].shadow - 1);
  index_[index].shadow = 0;
  --live_;
  // Back to an unused Shadow in the same place: the key is wiped by
  // ~InlineSecureBytes, the handler released, every field reset.
  std::destroy_at(s);
  std::construct_at(s);
}

template <typename Fn>
void SaManager::ForEachShadow(Fn&& fn) {
  for (std::uint32_t pos = 0; pos < positions_; ++pos) {
    Shadow& s = chunks_[pos / kShadowChunk][pos % kShadowChunk];
    if (s.handle.index != SaHandle{}.index) fn(s);
  }
}

SaManager::Shadow* SaManager::Find(SaHandle sa) {
  Shadow* s = ShadowAt(sa.index);
  return s != nullptr && s->handle.spi == sa.spi ? s : nullptr;
}

const SaManager::Shadow* SaManager::Find(SaHandle sa) const {
  return const_cast<SaManager*>(this)->Find(sa);
}

bool SaManager::Contains(SaHandle sa) const { return Find(sa) != nullptr; }

std::vector<SaHandle> SaManager::Handles() const {
  std::vector<SaHandle> out;
  out.reserve(live_);
  const_cast<SaManager*>(this)->ForEachShadow([&](Shadow& s) { out.push_back(s.handle); });
  return out;
}

Result<abi::SaEntry> SaManager::ShadowEntry(SaHandle sa) const {
  const Shadow* s = Find(sa);
  if (s == nullptr) return Status(Code::kNotFound, "no such SA");
  return s->entry;
}

void SaManager::Commit(SaHandle h, const SaDescription& d, const abi::SaEntry& entry) {
  Shadow& s = NewShadow(h.index);  // checks that the index has none
  s.handle = h;
  s.direction = d.direction;
  s.esn = d.esn;
  s.cookie = d.cookie;
  s.life = d.life;
  const bool key_stored = s.key.Assign(d.key.span());
  INLINESEC_CHECK(key_stored);  // Validate checked the length
  s.entry = entry;
  s.entry.key.fill(0);
  s.last_seq = entry.seq.get();
  if (d.life.time_soft.count() > 0 || d.life.time_hard.count() > 0) ArmTimers(s);
}

void SaManager::Recommit(SaHandle h, const SaDescription& d, const abi::SaEntry& entry) {
  Shadow* old = ShadowAt(h.index);
  INLINESEC_CHECK(old != nullptr);
  SaEventHandler handler = std::move(old->handler);
  CancelTimers(*old);  // an update re-arms from now
  DropShadow(h.index);
  Commit(h, d, entry);
  ShadowAt(h.index)->handler = std::move(handler);
}

void SaManager::ArmTimers(Shadow& s) {
  // `s` is fresh from NewShadow: no timer is armed yet, nothing to cancel
  // (and no load from its cold timer fields).
  const SaHandle h = s.handle;
  const TimePoint now = clock_.Now();
  if (s.life.time_soft.count() > 0) {
    s.soft_timer = timers_.Arm(now + s.life.time_soft, [this, h] {
      if (Shadow* p = Find(h)) {
        p->soft_timer = kNoTimer;
        Emit(*p, SaEventKind::kSoftTime);
      }
    });
  }
  if (s.life.time_hard.count() > 0) {
    s.hard_timer = timers_.Arm(now + s.life.time_hard, [this, h] {
      Shadow* p = Find(h);
      if (p == nullptr) return;
      p->hard_timer = kNoTimer;
      p->stopped = true;
      // Fail closed: the SA stops in the engine before anyone hears of it.
      Status st = device_.InvalidateSa(h.index, h.spi);
      if (!st.ok()) NoteDeviceFailure(st);
      Emit(*p, SaEventKind::kHardTime);
    });
  }
}

void SaManager::CancelTimers(Shadow& s) {
  if (s.soft_timer != kNoTimer) timers_.Cancel(s.soft_timer);
  if (s.hard_timer != kNoTimer) timers_.Cancel(s.hard_timer);
  s.soft_timer = s.hard_timer = kNoTimer;
}

void SaManager::Emit(Shadow& s, SaEventKind kind) {
  std::uint32_t bit = 1u << static_cast<unsigned>(kind);
  if (s.emitted & bit) return;
  s.emitted |= bit;
  SaEvent ev{s.handle, kind, s.cookie};
  // Copy: the handler may delete the SA (and with it s.handler).
  SaEventHandler h = s.handler ? s.handler : handler_;
  if (h) h(ev);
}

Status SaManager::SetEventHandler(SaHandle sa, SaEventHandler handler) {
  Shadow* s = Find(sa);
  if (s == nullptr) return Status(Code::kNotFound, "no such SA");
  s->handler = std::move(handler);
  return Status::Ok();
}

void SaManager::Forget(std::uint32_t index) {
  Shadow* s = ShadowAt(index);
  if (s == nullptr) return;
  CancelTimers(*s);
  DropShadow(index);  // wipes the key now
  // Late packets (or TX metadata) naming this slot must meet an empty entry.
  Quarantine(index, clock_.Now());
}

void SaManager::NoteDeviceFailure(const Status& st) {
  if (IsDeviceFailure(st)) resync_needed_ = true;
}

// ------------------------------------------------------------ single SAs

Result<SaHandle> SaManager::Add(const SaDescription& desc) {
  INLINESEC_RETURN_IF_ERROR(Validate(desc));
  Result<SaHandle> h = Reserve(desc, QuarantineNow());
  if (!h.ok()) return h.status();
  abi::SaEntry e;
  Encode(desc, desc.initial_seq, e);
  e.spi.set(h->spi);
  abi::SaEntry wire = e;
  FillKey(wire, desc.key.span());
  Status st = device_.WriteSa(h->index, wire, /*replace=*/false);
  SecureWipe({wire.key.data(), wire.key.size()});
  if (!st.ok()) {
    if (IsDeviceFailure(st)) {
      // The write may still land later: keep the slot out of use until a
      // resync flushes the table.
      NoteDeviceFailure(st);
      Quarantine(h->index, clock_.Now());
    } else {
      Unreserve(*h, desc.direction);
    }
    return st;
  }
  Commit(*h, desc, e);
  return *h;
}

Status SaManager::Update(SaHandle sa, const SaDescription& desc) {
  Shadow* s = Find(sa);
  if (s == nullptr) return Status(Code::kNotFound, "no such SA");
  if (desc.direction != s->direction || (desc.spi != 0 && desc.spi != sa.spi)) {
    return Status(Code::kInvalidArgument, "update cannot change direction or SPI");
  }
  INLINESEC_RETURN_IF_ERROR(Validate(desc));
  std::uint64_t seq = std::max(s->last_seq, desc.initial_seq);
  Result<abi::SaState> st = device_.ReadSa(sa.index);
  if (st.ok() && st->spi.get() == sa.spi) seq = std::max(seq, st->seq.get());
  if (!desc.esn && seq > 0xFFFFFFFFull) {
    return Status(Code::kInvalidArgument, "SA is past 2^32 packets: cannot drop ESN");
  }
  abi::SaEntry e;
  Encode(desc, seq, e);
  e.spi.set(sa.spi);
  abi::SaEntry wire = e;
  FillKey(wire, desc.key.span());
  Status ws = device_.WriteSa(sa.index, wire, /*replace=*/true);
  SecureWipe({wire.key.data(), wire.key.size()});
  if (!ws.ok()) {
    NoteDeviceFailure(ws);
    return ws;
  }
  Recommit(sa, desc, e);
  return Status::Ok();
}

Status SaManager::Delete(SaHandle sa) {
  Shadow* s = Find(sa);
  if (s == nullptr) return Status(Code::kNotFound, "no such SA");
  Status st = device_.InvalidateSa(sa.index, sa.spi);
  Forget(sa.index);
  if (st.ok() || st.code() == Code::kNotFound) return Status::Ok();  // already gone
  NoteDeviceFailure(st);
  return Status(st.code(),
                "SA removed from the shadow, device not updated (resync needed): " + st.message(),
                st.device_status());
}

// ------------------------------------------------------------ batches

Status SaManager::WriteRecords(std::vector<abi::SaWriteRecord>& records,
                               std::vector<Status>& item_status, std::size_t base) {
  // All or nothing: the engine applies each chunk whole or not at all; when
  // a later chunk fails, the earlier ones are invalidated again.
  const std::size_t chunk = device_.caps().max_batch;
  std::size_t done = 0;
  Status result;
  while (done < records.size()) {
    std::size_t n = std::min(chunk, records.size() - done);
    Result<driver::BatchOutcome> out = device_.WriteSaBatch(std::span(records).subspan(done, n));
    Status st = out.ok() ? out->status : out.status();
    if (!st.ok()) {
      std::size_t bad = done + (out.ok() ? std::min<std::size_t>(out->failed_record, n - 1) : 0);
      for (std::size_t i = 0; i < records.size(); ++i)
        item_status[base + i] = NotApplied(base + bad);
      item_status[base + bad] = st;
      result = Status(st.code(), "batch item " + std::to_string(base + bad) + ": " + st.message(),
                      st.device_status());
      break;
    }
    done += n;
  }
  for (abi::SaWriteRecord& r : records) SecureWipe({r.entry.key.data(), r.entry.key.size()});
  if (result.ok() || done == 0) return result;
  // Roll back the chunks already applied.
  std::vector<abi::CmdDesc> undo(done);
  for (std::size_t i = 0; i < done; ++i) {
    undo[i] = abi::CmdDesc{};
    undo[i].opcode = static_cast<std::uint8_t>(abi::Opcode::kInvalidateSa);
    undo[i].sa_index = records[i].index;
    undo[i].spi = records[i].entry.spi;
  }
  std::vector<driver::Completion> cpl(done);
  Status undo_st = device_.Execute(undo, cpl);
  if (!undo_st.ok()) NoteDeviceFailure(undo_st);
  return result;
}

BatchResult SaManager::AddBatch(std::span<const SaDescription> descs) {
  BatchResult r;
  r.item_status.resize(descs.size());  // Status() is Ok
  std::vector<SaHandle> handles;
  handles.reserve(descs.size());
  std::size_t bad = descs.size();
  const TimePoint now = QuarantineNow();  // one clock read for the batch
  for (std::size_t i = 0; i < descs.size() && bad == descs.size(); ++i) {
    Status st = Validate(descs[i]);
    Result<SaHandle> h = st.ok() ? Reserve(descs[i], now) : Result<SaHandle>(st);
    if (!h.ok()) {
      bad = i;
      r.item_status[i] = h.status();
      r.status = Status(h.status().code(),
                        "batch item " + std::to_string(i) + ": " + h.status().message());
      break;
    }
    handles.push_back(*h);
  }
  auto release_all = [&](bool quarantine) {
    const TimePoint failed_at = quarantine ? clock_.Now() : TimePoint{};
    for (std::size_t i = handles.size(); i-- > 0;) {  // reverse: unwinds PickIndex
      if (quarantine) {
        Quarantine(handles[i].index, failed_at);
      } else {
        Unreserve(handles[i], descs[i].direction);
      }
    }
  };
  if (bad != descs.size()) {
    for (std::size_t i = 0; i < descs.size(); ++i) {
      if (i != bad) r.item_status[i] = NotApplied(bad);
    }
    release_all(false);
    return r;
  }
  // Scratch kept between batches (no allocation once warm); the keys in it
  // are wiped by WriteRecords.
  // Each record is encoded where it lies (every byte written once).
  std::vector<abi::SaWriteRecord>& records = add_records_;
  records.resize(descs.size());
  for (std::size_t i = 0; i < descs.size(); ++i) {
    abi::SaWriteRecord& rec = records[i];
    rec.index.set(handles[i].index);
    rec.flags.set(0);
    rec.rsvd_0x08 = {};
    Encode(descs[i], descs[i].initial_seq, rec.entry);
    rec.entry.spi.set(handles[i].spi);
    FillKey(rec.entry, descs[i].key.span());
  }
  // WriteRecords wipes the keys: the records then hold the shadow entries.
  r.status = WriteRecords(records, r.item_status, 0);
  if (!r.status.ok()) {
    NoteDeviceFailure(r.status);
    release_all(IsDeviceFailure(r.status));
    return r;
  }
  // The Shadows written next are cold after a bulk delete: ask for each
  // two SAs ahead, so Commit's loads from it do not wait for memory.
  constexpr std::size_t kAhead = 2;
  for (std::size_t k = 0; k < kAhead; ++k) PrefetchNewShadow(k);
  for (std::size_t i = 0; i < descs.size(); ++i) {
    PrefetchNewShadow(kAhead);
    Commit(handles[i], descs[i], records[i].entry);
  }
  r.handles = std::move(handles);
  return r;
}

BatchResult SaManager::UpdateBatch(std::span<const SaHandle> sas,
                                   std::span<const SaDescription> descs) {
  BatchResult r;
  r.item_status.resize(descs.size());  // Status() is Ok
  if (sas.size() != descs.size()) {
    r.status = Status(Code::kInvalidArgument, "UpdateBatch: handles and descriptions differ");
    return r;
  }
  std::vector<abi::SaWriteRecord> records(descs.size());
  std::vector<abi::SaEntry> entries(descs.size());
  for (std::size_t i = 0; i < descs.size(); ++i) {
    Shadow* s = Find(sas[i]);
    Status st;
    if (s == nullptr) {
      st = Status(Code::kNotFound, "no such SA");
    } else if (descs[i].direction != s->direction ||
               (descs[i].spi != 0 && descs[i].spi != sas[i].spi)) {
      st = Status(Code::kInvalidArgument, "update cannot change direction or SPI");
    } else {
      st = Validate(descs[i]);
    }
    for (std::size_t j = 0; j < i && st.ok(); ++j) {
      if (sas[j].index == sas[i].index) st = Status(Code::kInvalidArgument, "SA named twice");
    }
    if (!st.ok()) {
      for (std::size_t j = 0; j < descs.size(); ++j) r.item_status[j] = NotApplied(i);
      r.item_status[i] = st;
      r.status = Status(st.code(), "batch item " + std::to_string(i) + ": " + st.message());
      return r;
    }
    std::uint64_t seq = std::max(s->last_seq, descs[i].initial_seq);
    Result<abi::SaState> cur = device_.ReadSa(sas[i].index);
    if (cur.ok() && cur->spi.get() == sas[i].spi) seq = std::max(seq, cur->seq.get());
    Encode(descs[i], seq, entries[i]);
    entries[i].spi.set(sas[i].spi);
    records[i] = abi::SaWriteRecord{};
    records[i].index.set(sas[i].index);
    records[i].flags.set(abi::cmd_flags::Replace::Set(0, 1));
    records[i].entry = entries[i];
    FillKey(records[i].entry, descs[i].key.span());
  }
  // A failed update batch cannot be rolled back to the old keys by
  // invalidation; the engine's all-or-nothing rule covers one chunk, so
  // updates larger than one engine batch are refused.
  if (records.size() > device_.caps().max_batch) {
    for (abi::SaWriteRecord& rec : records)
      SecureWipe({rec.entry.key.data(), rec.entry.key.size()});
    r.status = Status(Code::kInvalidArgument, "UpdateBatch larger than the engine's max batch (" +
                                                  std::to_string(device_.caps().max_batch) + ")");
    return r;
  }
  r.status = WriteRecords(records, r.item_status, 0);
  if (!r.status.ok()) {
    NoteDeviceFailure(r.status);
    return r;
  }
  for (std::size_t i = 0; i < descs.size(); ++i) {
    Recommit(sas[i], descs[i], entries[i]);
  }
  r.handles.assign(sas.begin(), sas.end());
  return r;
}

BatchResult SaManager::DeleteBatch(std::span<const SaHandle> sas) {
  BatchResult r;
  r.item_status.resize(sas.size());  // Status() is Ok
  std::vector<abi::CmdDesc> cmds;
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < sas.size(); ++i) {
    if (Find(sas[i]) == nullptr) {
      r.item_status[i] = Status(Code::kNotFound, "no such SA");
      continue;
    }
    abi::CmdDesc d{};
    d.opcode = static_cast<std::uint8_t>(abi::Opcode::kInvalidateSa);
    d.sa_index.set(sas[i].index);
    d.spi.set(sas[i].spi);
    cmds.push_back(d);
    which.push_back(i);
  }
  std::vector<driver::Completion> cpl(cmds.size());
  Status st = device_.Execute(cmds, cpl);
  if (!st.ok()) NoteDeviceFailure(st);
  for (std::size_t k = 0; k < which.size(); ++k) {
    std::size_t i = which[k];
    Status item =
        st.ok() ? driver::CmdStatusToStatus(cpl[k].status, cpl[k].opcode, cpl[k].info) : st;
    if (item.code() == Code::kNotFound) item = Status::Ok();  // already gone from the engine
    r.item_status[i] = item;
    Forget(sas[i].index);  // removed from the shadow either way (see Delete)
  }
  for (std::size_t i = 0; i < sas.size(); ++i) {
    if (!r.item_status[i].ok() && r.status.ok()) {
      r.status = Status(r.item_status[i].code(),
                        "batch item " + std::to_string(i) + ": " + r.item_status[i].message());
    }
  }
  r.handles.assign(sas.begin(), sas.end());
  return r;
}

// ------------------------------------------------------------ counters

Result<SaCounters> SaManager::ReadCounters(SaHandle sa) {
  Shadow* s = Find(sa);
  if (s == nullptr) return Status(Code::kNotFound, "no such SA");
  Result<abi::SaState> st = device_.ReadSa(sa.index);
  if (!st.ok()) {
    NoteDeviceFailure(st.status());
    return st.status();
  }
  if (st->spi.get() != sa.spi) {
    return Status(Code::kDataLoss, "engine slot " + std::to_string(sa.index) +
                                       " holds another SPI (table out of sync)");
  }
  SaCounters c;
  c.seq = st->seq.get();
  c.packets = st->packets.get();
  c.bytes = st->bytes.get();
  c.replay_drops = st->replay_drops.get();
  c.auth_fails = st->auth_fails.get();
  std::uint32_t state = st->state.get();
  c.soft_expired = abi::sa_state::SoftExpired::Get(state) != 0;
  c.hard_expired = abi::sa_state::HardExpired::Get(state) != 0;
  c.seq_overflow = abi::sa_state::SeqOverflow::Get(state) != 0;
  s->last_seq = std::max(s->last_seq, c.seq);
  s->read_bytes = std::max(s->read_bytes, c.bytes);
  s->read_packets = std::max(s->read_packets, c.packets);
  return c;
}

Status SaManager::RefreshSequenceNumbers() {
  for (SaHandle h : Handles()) {
    Shadow* s = Find(h);
    if (s == nullptr || s->stopped) continue;
    Result<SaCounters> c = ReadCounters(h);
    if (!c.ok() && c.status().code() != Code::kNotFound) return c.status();
  }
  return Status::Ok();
}

// ------------------------------------------------------------ events

void SaManager::OnDeviceEvent(const Event& event) {
  if (event.kind != EventKind::kSoftLifetime && event.kind != EventKind::kHardLifetime &&
      event.kind != EventKind::kSeqOverflow) {
    return;
  }
  if (!event.packet.sa_index) return;
  SaHandle h{*event.packet.sa_index, event.packet.spi};
  Shadow* s = Find(h);
  if (s == nullptr) return;  // stale: an SA already deleted
  if (event.kind == EventKind::kSeqOverflow) {
    s->stopped = true;
    Emit(*s, SaEventKind::kSeqOverflow);
    return;
  }
  const bool soft = event.kind == EventKind::kSoftLifetime;
  if (!soft) s->stopped = true;
  // The engine posts kHardLifetime for every packet it refuses afterwards:
  // once the event went out, later ones cost nothing (no kReadSa).
  auto bit = [](SaEventKind k) { return 1u << static_cast<unsigned>(k); };
  const std::uint32_t done = soft ? bit(SaEventKind::kSoftBytes) | bit(SaEventKind::kSoftPackets)
                                  : bit(SaEventKind::kHardBytes) | bit(SaEventKind::kHardPackets);
  if ((s->emitted & done) != 0) return;
  // Which limit? The entry does not say: compare the SA's counters with the
  // limits (falling back to whichever limit is set).
  const SaLifetime& l = s->life;
  std::uint64_t pkt_limit = Remaining(soft ? l.packets_soft : l.packets_hard, s->consumed_packets);
  std::uint64_t byte_limit = Remaining(soft ? l.bytes_soft : l.bytes_hard, s->consumed_bytes);
  bool pkts = false, bytes = false;
  Result<SaCounters> c = ReadCounters(h);
  if (c.ok()) {
    pkts = pkt_limit != 0 && c->packets >= pkt_limit;
    bytes = byte_limit != 0 && c->bytes >= byte_limit;
  }
  if (!pkts && !bytes) {
    pkts = pkt_limit != 0;
    bytes = !pkts;
  }
  // Emit may run a handler that deletes the SA: look it up again each time.
  if (pkts) {
    if (Shadow* p = Find(h)) Emit(*p, soft ? SaEventKind::kSoftPackets : SaEventKind::kHardPackets);
  }
  if (bytes) {
    if (Shadow* p = Find(h)) Emit(*p, soft ? SaEventKind::kSoftBytes : SaEventKind::kHardBytes);
  }
}

// ------------------------------------------------------------ resync

abi::SaEntry SaManager::RecoveryEntry(Shadow& s) {
  const SaLifetime& life = s.life;
  std::uint64_t seq = s.last_seq;
  if (s.direction == SaDirection::kOutbound) {
    // Forward by the margin, never back; saturate at the last number.
    std::uint64_t last = s.esn ? std::numeric_limits<std::uint64_t>::max() : 0xFFFFFFFFull;
    seq = seq > last - options_.resync_seq_margin ? last : seq + options_.resync_seq_margin;
  }
  s.consumed_bytes += s.read_bytes;
  s.consumed_packets += s.read_packets;
  s.read_bytes = s.read_packets = 0;
  abi::SaEntry e = s.entry;
  e.seq.set(seq);
  e.soft_bytes.set(Remaining(life.bytes_soft, s.consumed_bytes));
  e.hard_bytes.set(Remaining(life.bytes_hard, s.consumed_bytes));
  e.soft_packets.set(Remaining(life.packets_soft, s.consumed_packets));
  e.hard_packets.set(Remaining(life.packets_hard, s.consumed_packets));
  s.entry = e;
  s.last_seq = seq;
  return e;
}

std::optional<SaHandle> SaManager::LookupInbound(std::uint32_t spi) const {
  const Shadow* s = ShadowAt(spi & (capacity_ - 1));
  if (s == nullptr || s->handle.spi != spi || s->direction != SaDirection::kInbound) {
    return std::nullopt;
  }
  return s->handle;
}

std::optional<SaHandle> SaManager::LookupIndex(std::uint32_t index) const {
  const Shadow* s = ShadowAt(index);
  if (s == nullptr) return std::nullopt;
  return s->handle;
}

Status SaManager::Reprogram(SaHandle sa) {
  Shadow* s = Find(sa);
  if (s == nullptr) return Status(Code::kNotFound, "no such SA");
  if (s->stopped)
    return Status(Code::kFailedPrecondition, "SA stopped (expired): not re-programmed");
  abi::SaEntry wire = RecoveryEntry(*s);
  FillKey(wire, s->key.span());
  Status st = device_.WriteSa(sa.index, wire, /*replace=*/true);
  SecureWipe({wire.key.data(), wire.key.size()});
  if (!st.ok()) NoteDeviceFailure(st);
  return st;
}

Result<bool> SaManager::CheckDevice() {
  if (!device_.EpochChanged() && !resync_needed_) return false;
  Status st = Resync();
  if (!st.ok()) return st;
  return true;
}

Status SaManager::Resync() {
  resync_needed_ = true;
  INLINESEC_RETURN_IF_ERROR(device_.Reset());
  // Every entry is invalid now: traffic for these SAs fails closed until
  // its record lands.
  std::vector<abi::SaWriteRecord> records;
  records.reserve(live_);
  ForEachShadow([&](Shadow& s) {
    if (s.stopped) return;
    abi::SaWriteRecord rec{};
    rec.index.set(s.handle.index);
    rec.flags.set(abi::cmd_flags::Replace::Set(0, 1));
    rec.entry = RecoveryEntry(s);
    FillKey(rec.entry, s.key.span());
    records.push_back(rec);
  });
  if (!records.empty()) {
    std::vector<Status> item_status(records.size());
    Status st = WriteRecords(records, item_status, 0);
    if (!st.ok()) return st;
  }
  resync_needed_ = false;
  return Status::Ok();
}

}  // namespace inlinesec::sdk
