// IkeStack::Impl: dispatch of datagrams to IKE SAs by SPI (RFC 7296 §2.1),
// responder creation with stateless cookies under load (§2.6), the NAT-T
// non-ESP marker (RFC 3948 §2.2) and address floating (§2.23), lifetimes,
// rekey and DPD timers (§2.4, §2.8), INITIAL_CONTACT (§2.4), INVALID_SPI
// (§1.5), and deferred destruction of dead IKE SAs.
#include "inlinesec/ike/ike_stack.h"

#include <algorithm>
#include <map>

#include "inlinesec/common/byte_reader.h"
#include "inlinesec/ike/crypto/keys.h"
#include "inlinesec/ike/tasks/create_child_sa_task.h"
#include "inlinesec/ike/tasks/ike_auth_task.h"
#include "inlinesec/ike/tasks/ike_sa_init_task.h"
#include "inlinesec/ike/tasks/informational_task.h"
#include "inlinesec/ike/tasks/task_manager.h"

namespace inlinesec::ike {

class IkeStack::Impl final : public IkeContext {
 public:
  Impl(const Clock& clock, Timers& timers, Random& random, SaInstaller& installer,
       IkeObserver& observer, SendFn send, IkeStackOptions options)
      : clock_(clock),
        timers_(timers),
        random_(random),
        installer_(installer),
        observer_(observer),
        send_(std::move(send)),
        options_(options) {
    cookie_secret_ = random_.Bytes(32);
  }

  ~Impl() override {
    for (auto& [id, sa] : sas_) CancelTimers(*sa);
    for (const auto& [key, t] : loose_timers_) timers_.Cancel(t);
  }

  // --- IkeContext -------------------------------------------------------
  Random& random() override { return random_; }
  SaInstaller& installer() override { return installer_; }
  const Clock& clock() override { return clock_; }

  std::uint64_t NewIkeSpi() override {
    for (;;) {
      const std::uint64_t spi = random_.U64();
      if (spi != 0 && by_spi_.count(spi) == 0 && reserved_spis_.count(spi) == 0) {
        reserved_spis_.insert({spi, 0});
        return spi;
      }
    }
  }
  std::uint64_t NewChildId() override { return ++next_child_id_; }

  void IkeSaEstablished(IkeSa& sa) override {
    sa.state = IkeSaState::kEstablished;
    sa.established = clock_.Now();
    sa.last_inbound = clock_.Now();
    ArmIkeTimers(sa);
    observer_.OnIkeSaUp(Info(sa));
  }

  void ChildSaInstalled(IkeSa& sa, ChildSa& child, const ChildSa* replaced) override {
    ArmChildTimers(sa, child);
    const ChildSaInfo info = Info(sa, child);
    observer_.OnChildSaUp(info);
    if (replaced != nullptr) observer_.OnChildSaRekeyed(Info(sa, *replaced), info);
  }

  void ChildSaRemoved(IkeSa& sa, const ChildSa& child) override {
    timers_.Cancel(child.rekey_timer);
    timers_.Cancel(child.expire_timer);
    observer_.OnChildSaDown(Info(sa, child));
  }

  void InitialContact(IkeSa& sa) override {
    // RFC 7296 §2.4: the peer has no state but this SA; drop the others.
    for (auto& [id, other] : sas_) {
      if (other.get() == &sa || other->state == IkeSaState::kDead) continue;
      if (other->config().name == sa.config().name && other->peer_id == sa.peer_id)
        Kill(*other, DownReason::kReplaced);
    }
    observer_.OnInitialContact(Info(sa));
  }

  void InvalidSpiReceived(IkeSa& sa, std::uint32_t spi) override {
    observer_.OnInvalidSpi(sa.remote, spi, true);
    // DESIGN.md decision 5: the peer lost that SA; delete ours and make a
    // new one with the same configuration.
    ChildSa* child = sa.FindChildByOutbound(spi);
    if (child == nullptr || child->state != ChildSaState::kInstalled) return;
    const ChildConfig* cfg = child->config;
    QueueChildDelete(sa, {child->spi_in});
    if (cfg != nullptr) {
      sa.tasks->Queue(
          std::make_unique<CreateChildSaTask>(sa, *this, CreateChildKind::kNewChild, cfg, 0));
      sa.tasks->Initiate();
    }
  }

  IkeSa* AdoptRekeyedIkeSa(IkeSa& old, std::unique_ptr<IkeSa> fresh) override {
    auto sa =
        std::make_unique<IkeSa>(++next_ike_id_, old.config_ptr(), fresh->original_initiator());
    // Move state from the scratch object into one with a stack-assigned id.
    sa->spi_i = fresh->spi_i;
    sa->spi_r = fresh->spi_r;
    sa->state = fresh->state;
    sa->local = fresh->local;
    sa->remote = fresh->remote;
    sa->nat_here = fresh->nat_here;
    sa->nat_there = fresh->nat_there;
    sa->peer_fragmentation = fresh->peer_fragmentation;
    sa->alg = fresh->alg;
    sa->keys = std::move(fresh->keys);
    sa->crypter = std::move(fresh->crypter);
    sa->nonce_i = std::move(fresh->nonce_i);
    sa->nonce_r = std::move(fresh->nonce_r);
    sa->peer_id = fresh->peer_id;
    sa->established = clock_.Now();
    sa->last_inbound = clock_.Now();
    IkeSa* raw = Register(std::move(sa));
    ArmIkeTimers(*raw);
    return raw;
  }

  void MoveChildren(IkeSa& from, IkeSa& to) override {
    for (auto& c : from.children) to.children.push_back(std::move(c));
    from.children.clear();
    // Child timers are looked up by id through the owning SA; re-arm them.
    for (auto& c : to.children) {
      timers_.Cancel(c.rekey_timer);
      timers_.Cancel(c.expire_timer);
      ArmChildTimers(to, c, /*keep_deadlines=*/true);
    }
    observer_.OnIkeSaRekeyed(Info(from), Info(to));
  }

  IkeSa* FindIkeSa(std::uint64_t id) override {
    auto it = sas_.find(id);
    return it == sas_.end() ? nullptr : it->second.get();
  }

  void QueueChildRekey(IkeSa& sa, std::uint64_t child_id) override {
    sa.tasks->Queue(std::make_unique<CreateChildSaTask>(sa, *this, CreateChildKind::kRekeyChild,
                                                        nullptr, child_id));
    sa.tasks->Initiate();
  }
  void RetryRekeyLater(IkeSa& sa, std::uint64_t child_id) override {
    const std::uint64_t id = sa.id();
    // 10-20 s later, randomised so that two peers do not retry in lockstep.
    const Duration delay =
        std::chrono::seconds(10) + Jitter(std::chrono::seconds(10), std::chrono::seconds(10));
    const std::uint64_t key = ++next_loose_;
    loose_timers_[key] = timers_.Arm(clock_.Now() + delay, [this, key, id, child_id] {
      loose_timers_.erase(key);
      Guard g(*this);
      IkeSa* s = FindIkeSa(id);
      if (s == nullptr || s->state != IkeSaState::kEstablished) return;
      if (child_id == 0) {
        if (!s->tasks->HasQueued(ExchangeType::kCreateChildSa)) {
          s->tasks->Queue(std::make_unique<CreateChildSaTask>(*s, *this, CreateChildKind::kRekeyIke,
                                                              nullptr, 0));
          s->tasks->Initiate();
        }
        return;
      }
      ChildSa* c = s->FindChild(child_id);
      if (c != nullptr && c->state == ChildSaState::kInstalled) QueueChildRekey(*s, child_id);
    });
  }

  void QueueChildDelete(IkeSa& sa, std::vector<std::uint32_t> spis_in) override {
    sa.tasks->Queue(std::make_unique<InformationalTask>(sa, *this, InfoKind::kDeleteChildren,
                                                        std::move(spis_in)));
    sa.tasks->Initiate();
  }
  void QueueIkeDelete(IkeSa& sa) override {
    sa.tasks->Queue(std::make_unique<InformationalTask>(sa, *this, InfoKind::kDeleteIke,
                                                        std::vector<std::uint32_t>{}));
    sa.tasks->Initiate();
  }

  // --- public operations ------------------------------------------------
  Status AddConnection(ConnectionConfig cfg) {
    for (const auto& c : configs_)
      if (c->name == cfg.name) return Status(Code::kAlreadyExists, "connection " + cfg.name);
    if (cfg.ike_proposals.empty()) return Status(Code::kInvalidArgument, "no IKE proposals");
    configs_.push_back(std::make_shared<const ConnectionConfig>(std::move(cfg)));
    return Status::Ok();
  }

  Result<std::uint64_t> Initiate(std::string_view name) {
    Guard g(*this);
    std::shared_ptr<const ConnectionConfig> cfg;
    for (const auto& c : configs_)
      if (c->name == name) cfg = c;
    if (!cfg) return Status(Code::kNotFound, "no connection " + std::string(name));
    if (cfg->remote_any) return Status(Code::kFailedPrecondition, "responder-only connection");
    auto sa = std::make_unique<IkeSa>(++next_ike_id_, cfg, true);
    sa->spi_i = NewIkeSpi();
    sa->local = cfg->local;
    sa->remote = cfg->remote;
    // RFC 7296 §2.4: INITIAL_CONTACT when we hold no other IKE SA with this peer.
    bool have_other = false;
    for (const auto& [id, other] : sas_)
      have_other |= other->config().name == cfg->name && other->state == IkeSaState::kEstablished;
    sa->send_initial_contact = cfg->send_initial_contact && !have_other;
    IkeSa* raw = Register(std::move(sa));
    raw->tasks->Queue(std::make_unique<IkeSaInitTask>(Role::kInitiator, *raw, *this));
    raw->tasks->Queue(std::make_unique<IkeAuthTask>(Role::kInitiator, *raw, *this));
    raw->tasks->Initiate();
    return raw->id();
  }

  void Receive(const Datagram& d) {
    Guard g(*this);
    std::span<const std::uint8_t> bytes(d.payload);
    if (d.dst.port == kNatTPort) {
      // RFC 3948 §2.2: IKE on 4500 starts with four zero octets; anything
      // else there is ESP and not ours.
      if (bytes.size() < 4 || LoadBe32(bytes.data()) != 0) return;
      bytes = bytes.subspan(4);
    }
    PeekedHeader peek;
    DecodeError err;
    if (!PeekHeader(bytes, peek, err)) {
      if (err.notify == static_cast<std::uint16_t>(NotifyType::kInvalidMajorVersion) &&
          !peek.header.response)
        AnswerUnprotected(d, peek.header, NotifyType::kInvalidMajorVersion, err.notify_data);
      return;
    }
    const Header& h = peek.header;
    if (h.exchange == ExchangeType::kIkeSaInit && !h.response && h.initiator && h.spi_r == 0) {
      ReceiveInitRequest(d, bytes, peek);
      return;
    }
    const std::uint64_t local_spi = h.initiator ? h.spi_r : h.spi_i;
    auto it = by_spi_.find(local_spi);
    IkeSa* sa = it == by_spi_.end() ? nullptr : FindIkeSa(it->second);
    if (sa == nullptr || sa->state == IkeSaState::kDead) {
      UnknownSpi(d, bytes, peek);
      return;
    }
    sa->rx_src = d.src;
    sa->rx_dst = d.dst;
    sa->tasks->Receive(bytes, peek);
  }

  Status WithSa(std::uint64_t id, const std::function<Status(IkeSa&)>& fn) {
    Guard g(*this);
    IkeSa* sa = FindIkeSa(id);
    if (sa == nullptr || sa->state == IkeSaState::kDead)
      return Status(Code::kNotFound, "no IKE SA");
    if (sa->state != IkeSaState::kEstablished)
      return Status(Code::kFailedPrecondition, "IKE SA not established");
    return fn(*sa);
  }

  Status WithChild(std::uint64_t child_id, const std::function<Status(IkeSa&, ChildSa&)>& fn) {
    Guard g(*this);
    for (auto& [id, sa] : sas_) {
      if (sa->state != IkeSaState::kEstablished) continue;
      if (ChildSa* c = sa->FindChild(child_id)) return fn(*sa, *c);
    }
    return Status(Code::kNotFound, "no Child SA");
  }

  Status CreateChild(std::uint64_t ike_id, std::string_view name) {
    return WithSa(ike_id, [&](IkeSa& sa) {
      for (const auto& c : sa.config().children)
        if (c.name == name) {
          sa.tasks->Queue(
              std::make_unique<CreateChildSaTask>(sa, *this, CreateChildKind::kNewChild, &c, 0));
          sa.tasks->Initiate();
          return Status::Ok();
        }
      return Status(Code::kNotFound, "no child config " + std::string(name));
    });
  }

  Status SendInvalidSpi(const Endpoint& peer, std::uint32_t spi, InfoKind kind) {
    Guard g(*this);
    for (auto& [id, sa] : sas_) {
      if (sa->state != IkeSaState::kEstablished || sa->remote.addr != peer.addr) continue;
      sa->tasks->Queue(
          std::make_unique<InformationalTask>(*sa, *this, kind, std::vector<std::uint32_t>{spi}));
      sa->tasks->Initiate();
      return Status::Ok();
    }
    return Status(Code::kNotFound, "no IKE SA with " + peer.addr.ToString());
  }

  void SendUnprotectedInvalidSpi(const Endpoint& local, const Endpoint& remote, std::uint32_t spi) {
    Message m;
    // RFC 7296 §1.5: no IKE SPI means anything to the recipient; a random
    // initiator SPI (zero is allowed here too) and a zero responder SPI.
    do {
      m.header.spi_i = random_.U64();
    } while (m.header.spi_i == 0);
    m.header.spi_r = 0;
    m.header.exchange = ExchangeType::kInformational;
    m.header.initiator = true;
    m.header.response = false;
    m.header.message_id = 0;
    AddInvalidSpiNotify(m, spi);
    m.payloads.back().encrypted = false;  // no SK payload: outside any IKE SA
    Result<Bytes> b = ike::Encode(m, nullptr);
    if (!b.ok()) return;
    Datagram out{local, remote, {}};
    if (local.port == kNatTPort || remote.port == kNatTPort) out.payload.assign(4, 0);
    out.payload.insert(out.payload.end(), b->begin(), b->end());
    send_(out);
  }

  std::vector<IkeSaInfo> IkeSas() const {
    std::vector<IkeSaInfo> out;
    for (const auto& [id, sa] : sas_)
      if (sa->state != IkeSaState::kDead) out.push_back(Info(*sa));
    return out;
  }
  std::vector<ChildSaInfo> ChildSas() const {
    std::vector<ChildSaInfo> out;
    for (const auto& [id, sa] : sas_)
      if (sa->state != IkeSaState::kDead)
        for (const auto& c : sa->children) out.push_back(Info(*sa, c));
    return out;
  }
  const IkeSa* Find(std::uint64_t id) const {
    auto it = sas_.find(id);
    return it == sas_.end() ? nullptr : it->second.get();
  }

  // Runs `fn` with reaping deferred to the outermost entry point.
  struct Guard {
    explicit Guard(Impl& impl) : impl_(impl) { ++impl_.depth_; }
    ~Guard() {
      if (--impl_.depth_ == 0) impl_.Reap();
    }
    Impl& impl_;
  };

 private:
  static IkeSaInfo Info(const IkeSa& sa) {
    IkeSaInfo i;
    i.id = sa.id();
    i.connection = sa.config().name;
    i.spi_i = sa.spi_i;
    i.spi_r = sa.spi_r;
    i.original_initiator = sa.original_initiator();
    i.local = sa.local;
    i.remote = sa.remote;
    i.peer_id = sa.peer_id;
    i.state = sa.state;
    i.nat = sa.nat_here || sa.nat_there;
    return i;
  }
  static ChildSaInfo Info(const IkeSa& sa, const ChildSa& c) {
    ChildSaInfo i;
    i.id = c.id;
    i.ike_sa_id = sa.id();
    i.connection = sa.config().name;
    i.child = c.config != nullptr ? c.config->name : "";
    i.spi_in = c.spi_in;
    i.spi_out = c.spi_out;
    i.alg = c.alg;
    i.mode = c.mode;
    i.local_ts = c.local_ts;
    i.remote_ts = c.remote_ts;
    return i;
  }

  // Timers handed to TaskManagers: every callback runs under a Guard, so
  // SAs killed by a retransmission timeout are reaped (and static peers
  // restarted) right away.
  class GuardedTimers final : public Timers {
   public:
    GuardedTimers(Impl& impl, Timers& inner) : impl_(impl), inner_(inner) {}
    TimerId Arm(TimePoint deadline, std::function<void()> fire) override {
      return inner_.Arm(deadline, [impl = &impl_, fire = std::move(fire)] {
        Guard g(*impl);
        fire();
      });
    }
    void Cancel(TimerId id) override { inner_.Cancel(id); }

   private:
    Impl& impl_;
    Timers& inner_;
  };

  IkeSa* Register(std::unique_ptr<IkeSa> sa) {
    IkeSa* raw = sa.get();
    raw->tasks = std::make_unique<TaskManager>(
        *raw, *this, clock_, guarded_timers_,
        [this](IkeSa& s, const std::vector<Bytes>& dgrams) { Send(s, dgrams); },
        [this](IkeSa& s, DownReason r) { Kill(s, r); });
    by_spi_[raw->local_spi()] = raw->id();
    reserved_spis_.erase(raw->local_spi());
    sas_[raw->id()] = std::move(sa);
    return raw;
  }

  void Send(IkeSa& sa, const std::vector<Bytes>& dgrams) {
    for (const auto& b : dgrams) {
      Datagram d{sa.local, sa.remote, {}};
      if (sa.local.port == kNatTPort || sa.remote.port == kNatTPort) d.payload.assign(4, 0);
      d.payload.insert(d.payload.end(), b.begin(), b.end());
      send_(d);
    }
  }

  void AnswerUnprotected(const Datagram& d, const Header& req, NotifyType type, Bytes data) {
    Message m;
    m.header = req;
    m.header.major = kIkeMajorVersion;
    m.header.minor = kIkeMinorVersion;
    m.header.response = true;
    m.header.initiator = false;
    m.header.exchange = req.exchange;
    m.payloads.push_back(Payload{
        PayloadType::kNotify, false, false,
        NotifyPayload{ProtocolId::kNone, {}, static_cast<std::uint16_t>(type), std::move(data)}});
    Result<Bytes> b = ike::Encode(m, nullptr);
    if (!b.ok()) return;
    Datagram out{d.dst, d.src, {}};
    if (d.dst.port == kNatTPort) out.payload.assign(4, 0);
    out.payload.insert(out.payload.end(), b->begin(), b->end());
    send_(out);
  }

  std::shared_ptr<const ConnectionConfig> MatchResponder(const Datagram& d) const {
    for (const auto& c : configs_)
      if (c->local.addr == d.dst.addr && (c->remote_any || c->remote.addr == d.src.addr)) return c;
    return nullptr;
  }

  void ReceiveInitRequest(const Datagram& d, std::span<const std::uint8_t> bytes,
                          const PeekedHeader& peek) {
    const auto key = std::make_pair(peek.header.spi_i, d.src);
    if (auto it = half_open_.find(key); it != half_open_.end()) {
      if (IkeSa* sa = FindIkeSa(it->second)) sa->tasks->Receive(bytes, peek);  // retransmission
      return;
    }
    auto cfg = MatchResponder(d);
    if (!cfg) return;
    if (HalfOpen() >= options_.cookie_threshold && !CookieValid(d, bytes, peek)) return;
    auto sa = std::make_unique<IkeSa>(++next_ike_id_, cfg, false);
    sa->spi_i = peek.header.spi_i;
    sa->spi_r = NewIkeSpi();
    sa->local = d.dst;
    sa->remote = d.src;
    IkeSa* raw = Register(std::move(sa));
    half_open_[key] = raw->id();
    raw->rx_src = d.src;
    raw->rx_dst = d.dst;
    // A responder that never sees IKE_AUTH gives up (RFC 7296 §2.6 DoS
    // note): the slot and its keys do not stay around.
    const std::uint64_t id = raw->id();
    raw->expire_timer = timers_.Arm(clock_.Now() + options_.half_open_timeout, [this, id] {
      Guard g(*this);
      IkeSa* half = FindIkeSa(id);
      if (half == nullptr) return;
      half->expire_timer = kNoTimer;
      if (half->state == IkeSaState::kConnecting) Kill(*half, DownReason::kNegotiation);
    });
    raw->tasks->Receive(bytes, peek);
  }

  // Responder IKE SAs still waiting for IKE_AUTH.
  std::size_t HalfOpen() const {
    std::size_t n = 0;
    for (const auto& [key, id] : half_open_) {
      auto it = sas_.find(id);
      n += it != sas_.end() && it->second->state == IkeSaState::kConnecting;
    }
    return n;
  }

  // RFC 7296 §2.6: true if the request carries our cookie; otherwise
  // answers with a fresh COOKIE (no state kept) and returns false.
  bool CookieValid(const Datagram& d, std::span<const std::uint8_t> bytes,
                   const PeekedHeader& peek) {
    Message m;
    DecodeError err;
    if (Decode(bytes, nullptr, nullptr, m, err) != DecodeStatus::kOk) return false;
    const auto* nonce = m.Find<NoncePayload>(PayloadType::kNonce);
    if (nonce == nullptr) return false;
    const Bytes expect =
        MakeCookie(cookie_version_, cookie_secret_, nonce->nonce, d.src.addr, peek.header.spi_i);
    const auto* got = m.FindNotify(NotifyType::kCookie);
    if (got != nullptr && got->data == expect && !m.payloads.empty() &&
        m.payloads.front().type == PayloadType::kNotify)
      return true;
    ++cookies_sent_;
    AnswerUnprotected(d, peek.header, NotifyType::kCookie, expect);
    return false;
  }

  void UnknownSpi(const Datagram& d, std::span<const std::uint8_t> bytes,
                  const PeekedHeader& peek) {
    // Only an unprotected INVALID_SPI is of interest here: a hint (§1.5).
    if (peek.header.exchange != ExchangeType::kInformational) return;
    Message m;
    DecodeError err;
    if (DecodeUnprotected(bytes, m, err) != DecodeStatus::kOk) return;
    for (const auto* n : m.Notifies())
      if (n->type == static_cast<std::uint16_t>(NotifyType::kInvalidSpi)) {
        std::uint32_t spi = 0;
        if (n->data.size() == 4)
          spi = LoadBe32(n->data.data());
        else if (n->spi.size() == 4)
          spi = LoadBe32(n->spi.data());
        observer_.OnInvalidSpi(d.src, spi, false);
      }
  }

  void ArmIkeTimers(IkeSa& sa) {
    CancelIkeTimers(sa);
    const ConnectionConfig& c = sa.config();
    const std::uint64_t id = sa.id();
    const TimePoint base = sa.established;
    if (c.ike_lifetime.count() > 0) {
      if (c.ike_rekey_margin < c.ike_lifetime)
        sa.rekey_timer =
            timers_.Arm(base + c.ike_lifetime - c.ike_rekey_margin -
                            Jitter(c.ike_rekey_jitter, c.ike_lifetime - c.ike_rekey_margin),
                        [this, id] { OnIkeRekeyTimer(id); });
      sa.expire_timer = timers_.Arm(base + c.ike_lifetime, [this, id] { OnIkeExpireTimer(id); });
    }
    if (c.dpd_interval.count() > 0)
      sa.dpd_timer = timers_.Arm(clock_.Now() + c.dpd_interval, [this, id] { OnDpdTimer(id); });
    if (c.nat_keepalive.count() > 0 && sa.nat_here)
      sa.keepalive_timer =
          timers_.Arm(clock_.Now() + c.nat_keepalive, [this, id] { OnKeepaliveTimer(id); });
  }

  void ArmChildTimers(IkeSa& sa, ChildSa& child, bool keep_deadlines = false) {
    if (child.config == nullptr) return;
    const std::uint64_t ike = sa.id(), cid = child.id;
    (void)keep_deadlines;  // deadlines are relative to `established` either way
    const ChildConfig& c = *child.config;
    if (c.lifetime.count() <= 0) return;
    if (c.rekey_margin < c.lifetime)
      child.rekey_timer = timers_.Arm(child.established + c.lifetime - c.rekey_margin -
                                          Jitter(c.rekey_jitter, c.lifetime - c.rekey_margin),
                                      [this, ike, cid] { OnChildTimer(ike, cid, false); });
    child.expire_timer = timers_.Arm(child.established + c.lifetime,
                                     [this, ike, cid] { OnChildTimer(ike, cid, true); });
  }

  // A random part of `max` (never more than `limit`), from the injected Random.
  Duration Jitter(Duration max, Duration limit) {
    max = std::min(max, limit);
    if (max.count() <= 0) return Duration{0};
    return Duration(
        static_cast<Duration::rep>(random_.U64() % static_cast<std::uint64_t>(max.count() + 1)));
  }

  void CancelIkeTimers(IkeSa& sa) {
    for (TimerId* t : {&sa.rekey_timer, &sa.expire_timer, &sa.dpd_timer, &sa.keepalive_timer}) {
      if (*t != kNoTimer) timers_.Cancel(*t);
      *t = kNoTimer;
    }
  }
  void CancelTimers(IkeSa& sa) {
    CancelIkeTimers(sa);
    for (auto& c : sa.children) {
      timers_.Cancel(c.rekey_timer);
      timers_.Cancel(c.expire_timer);
    }
    if (sa.tasks) sa.tasks->Abort();
  }

  void OnIkeRekeyTimer(std::uint64_t id) {
    Guard g(*this);
    IkeSa* sa = FindIkeSa(id);
    if (sa == nullptr) return;
    sa->rekey_timer = kNoTimer;
    if (sa->state != IkeSaState::kEstablished || sa->tasks->HasQueued(ExchangeType::kCreateChildSa))
      return;
    sa->tasks->Queue(
        std::make_unique<CreateChildSaTask>(*sa, *this, CreateChildKind::kRekeyIke, nullptr, 0));
    sa->tasks->Initiate();
  }

  void OnIkeExpireTimer(std::uint64_t id) {
    Guard g(*this);
    IkeSa* sa = FindIkeSa(id);
    if (sa == nullptr) return;
    sa->expire_timer = kNoTimer;
    if (sa->state == IkeSaState::kDead) return;
    Kill(*sa, DownReason::kExpired);
  }

  void OnDpdTimer(std::uint64_t id) {
    Guard g(*this);
    IkeSa* sa = FindIkeSa(id);
    if (sa == nullptr) return;
    sa->dpd_timer = kNoTimer;
    if (sa->state == IkeSaState::kDead) return;
    const Duration interval = sa->config().dpd_interval;
    // RFC 7296 §2.4: only probe when the peer has been quiet.
    if (clock_.Now() - sa->last_inbound >= interval && !sa->tasks->busy() &&
        sa->state == IkeSaState::kEstablished) {
      sa->tasks->Queue(std::make_unique<InformationalTask>(*sa, *this, InfoKind::kDpd,
                                                           std::vector<std::uint32_t>{}));
      sa->tasks->Initiate();
    }
    sa->dpd_timer = timers_.Arm(clock_.Now() + interval, [this, id] { OnDpdTimer(id); });
  }

  void OnKeepaliveTimer(std::uint64_t id) {
    Guard g(*this);
    IkeSa* sa = FindIkeSa(id);
    if (sa == nullptr) return;
    sa->keepalive_timer = kNoTimer;
    if (sa->state == IkeSaState::kDead || !sa->nat_here) return;
    // RFC 3948 §2.3: keeps the NAT mapping alive; sent without the marker.
    send_(Datagram{sa->local, sa->remote, Bytes{0xff}});
    sa->keepalive_timer = timers_.Arm(clock_.Now() + sa->config().nat_keepalive,
                                      [this, id] { OnKeepaliveTimer(id); });
  }

  void OnChildTimer(std::uint64_t ike, std::uint64_t cid, bool hard) {
    Guard g(*this);
    IkeSa* sa = FindIkeSa(ike);
    if (sa == nullptr || sa->state == IkeSaState::kDead) return;
    ChildSa* c = sa->FindChild(cid);
    if (c == nullptr) return;
    (hard ? c->expire_timer : c->rekey_timer) = kNoTimer;
    if (hard) {
      QueueChildDelete(*sa, {c->spi_in});
    } else if (c->state == ChildSaState::kInstalled) {
      QueueChildRekey(*sa, cid);
    }
  }

 public:
  Status ChildExpired(std::uint32_t spi_in, bool hard) {
    Guard g(*this);
    for (auto& [id, sa] : sas_) {
      if (sa->state != IkeSaState::kEstablished) continue;
      if (ChildSa* c = sa->FindChildByInbound(spi_in)) {
        if (hard)
          QueueChildDelete(*sa, {spi_in});
        else if (c->state == ChildSaState::kInstalled)
          QueueChildRekey(*sa, c->id);
        return Status::Ok();
      }
    }
    return Status(Code::kNotFound, "no Child SA with that SPI");
  }

  void TrafficSeen(std::uint32_t spi_in) {
    for (auto& [id, sa] : sas_)
      if (sa->state == IkeSaState::kEstablished && sa->FindChildByInbound(spi_in) != nullptr) {
        sa->last_inbound = clock_.Now();
        return;
      }
  }

  void Kill(IkeSa& sa, DownReason reason) {
    if (sa.state == IkeSaState::kDead) return;
    const IkeSaState prev = sa.state;
    sa.state = IkeSaState::kDead;
    while (!sa.children.empty()) {
      const ChildSa c = sa.children.back();
      sa.children.pop_back();
      (void)installer_.Remove(c.spi_in, Direction::kInbound, sa.remote);
      (void)installer_.Remove(c.spi_out, Direction::kOutbound, sa.remote);
      ChildSaRemoved(sa, c);
    }
    CancelIkeTimers(sa);
    IkeSaInfo info = Info(sa);
    info.state = prev;
    if (prev != IkeSaState::kRekeyed) observer_.OnIkeSaDown(info, reason);
    reap_.push_back(sa.id());
    // A static peer is kept up: reconnect (with INITIAL_CONTACT) when lost.
    if (sa.config().static_peer && sa.original_initiator() && prev != IkeSaState::kRekeyed &&
        (reason == DownReason::kPeerDead || reason == DownReason::kExpired))
      restart_.push_back(sa.config().name);
  }

  void Reap() {
    while (!reap_.empty()) {
      const std::uint64_t id = reap_.back();
      reap_.pop_back();
      auto it = sas_.find(id);
      if (it == sas_.end()) continue;
      CancelTimers(*it->second);
      for (auto h = half_open_.begin(); h != half_open_.end();)
        h = h->second == id ? half_open_.erase(h) : std::next(h);
      auto s = by_spi_.find(it->second->local_spi());
      if (s != by_spi_.end() && s->second == id) by_spi_.erase(s);
      sas_.erase(it);
    }
    auto restart = std::exchange(restart_, {});
    for (const auto& name : restart) (void)Initiate(name);
  }

  const Clock& clock_;
  Timers& timers_;
  Random& random_;
  SaInstaller& installer_;
  IkeObserver& observer_;
  SendFn send_;
  IkeStackOptions options_;
  std::vector<std::shared_ptr<const ConnectionConfig>> configs_;
  std::map<std::uint64_t, std::unique_ptr<IkeSa>> sas_;
  std::map<std::uint64_t, std::uint64_t> by_spi_;         // local IKE SPI -> SA id
  std::map<std::uint64_t, std::uint64_t> reserved_spis_;  // handed out, not yet registered
  // (SPIi, peer) -> responder SA, for IKE_SA_INIT retransmissions; kept
  // until the SA is reaped so late duplicates never create a second SA.
  std::map<std::pair<std::uint64_t, Endpoint>, std::uint64_t> half_open_;
  std::vector<std::uint64_t> reap_;
  std::vector<std::string> restart_;
  std::uint64_t next_ike_id_ = 0;
  std::uint64_t next_child_id_ = 0;
  Bytes cookie_secret_;
  std::uint32_t cookie_version_ = 1;
  std::uint64_t cookies_sent_ = 0;
  int depth_ = 0;
  std::map<std::uint64_t, TimerId> loose_timers_;  // pending rekey retries
  std::uint64_t next_loose_ = 0;
  GuardedTimers guarded_timers_{*this, timers_};
};

IkeStack::IkeStack(const Clock& clock, Timers& timers, Random& random, SaInstaller& installer,
                   IkeObserver& observer, SendFn send, IkeStackOptions options)
    : impl_(std::make_unique<Impl>(clock, timers, random, installer, observer, std::move(send),
                                   options)) {}
IkeStack::~IkeStack() = default;

Status IkeStack::AddConnection(ConnectionConfig config) {
  return impl_->AddConnection(std::move(config));
}
Result<std::uint64_t> IkeStack::Initiate(std::string_view connection) {
  return impl_->Initiate(connection);
}
void IkeStack::Receive(const Datagram& datagram) { impl_->Receive(datagram); }
Status IkeStack::CreateChild(std::uint64_t ike_sa_id, std::string_view child_name) {
  return impl_->CreateChild(ike_sa_id, child_name);
}
Status IkeStack::RekeyChild(std::uint64_t child_id) {
  return impl_->WithChild(child_id, [this](IkeSa& sa, ChildSa& c) {
    if (c.state != ChildSaState::kInstalled) return Status(Code::kFailedPrecondition, "busy");
    impl_->QueueChildRekey(sa, c.id);
    return Status::Ok();
  });
}
Status IkeStack::RekeyIke(std::uint64_t ike_sa_id) {
  return impl_->WithSa(ike_sa_id, [this](IkeSa& sa) {
    sa.tasks->Queue(
        std::make_unique<CreateChildSaTask>(sa, *impl_, CreateChildKind::kRekeyIke, nullptr, 0));
    sa.tasks->Initiate();
    return Status::Ok();
  });
}
Status IkeStack::DeleteChild(std::uint64_t child_id) {
  return impl_->WithChild(child_id, [this](IkeSa& sa, ChildSa& c) {
    impl_->QueueChildDelete(sa, {c.spi_in});
    return Status::Ok();
  });
}
Status IkeStack::DeleteIke(std::uint64_t ike_sa_id) {
  return impl_->WithSa(ike_sa_id, [this](IkeSa& sa) {
    impl_->QueueIkeDelete(sa);
    return Status::Ok();
  });
}
Status IkeStack::SendDpd(std::uint64_t ike_sa_id) {
  return impl_->WithSa(ike_sa_id, [this](IkeSa& sa) {
    sa.tasks->Queue(std::make_unique<InformationalTask>(sa, *impl_, InfoKind::kDpd,
                                                        std::vector<std::uint32_t>{}));
    sa.tasks->Initiate();
    return Status::Ok();
  });
}
Status IkeStack::SendInvalidSpi(const Endpoint& peer, std::uint32_t spi) {
  return impl_->SendInvalidSpi(peer, spi, InfoKind::kInvalidSpi);
}
Status IkeStack::SendInvalidSpiWithDelete(const Endpoint& peer, std::uint32_t spi) {
  return impl_->SendInvalidSpi(peer, spi, InfoKind::kInvalidSpiDelete);
}
void IkeStack::SendUnprotectedInvalidSpi(const Endpoint& local, const Endpoint& remote,
                                         std::uint32_t spi) {
  impl_->SendUnprotectedInvalidSpi(local, remote, spi);
}
Status IkeStack::ChildSaExpired(std::uint32_t spi_in, bool hard) {
  return impl_->ChildExpired(spi_in, hard);
}
void IkeStack::ChildSaTrafficSeen(std::uint32_t spi_in) { impl_->TrafficSeen(spi_in); }
std::vector<IkeSaInfo> IkeStack::IkeSas() const { return impl_->IkeSas(); }
std::vector<ChildSaInfo> IkeStack::ChildSas() const { return impl_->ChildSas(); }
const IkeSa* IkeStack::FindIkeSa(std::uint64_t id) const { return impl_->Find(id); }

}  // namespace inlinesec::ike
