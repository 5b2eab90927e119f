// InlineSecurity (see inline_security.h): the rte_security ops table over
// sdk::SaManager, the capability list derived from driver::Capabilities, the
// session private data, the IPsec event callback and the timers the control
// loop runs. The burst functions are in burst.cc.
#define ALLOW_EXPERIMENTAL_API 1
#define ALLOW_INTERNAL_API 1

#include "inlinesec/dpdk/inline_security.h"

#include <rte_errno.h>
#include <rte_security_driver.h>

#include <cerrno>
#include <map>
#include <utility>

#include "inlinesec/driver/model_transport.h"
#include "session_conf.h"

namespace inlinesec::dpdk {

// Timers for the SA manager's time lifetimes when the application injects
// none: armed here, fired by PollEvents() on the control thread.
class InlineSecurity::PollTimers final : public Timers {
 public:
  explicit PollTimers(const Clock& clock) : clock_(clock) {}
  TimerId Arm(TimePoint deadline, std::function<void()> fire) override {
    const TimerId id = ++next_;
    pending_.emplace(std::make_pair(deadline, id), std::move(fire));
    return id;
  }
  void Cancel(TimerId id) override {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->first.second == id) {
        pending_.erase(it);
        return;
      }
    }
  }
  void RunDue() {
    const TimePoint now = clock_.Now();
    while (!pending_.empty() && pending_.begin()->first.first <= now) {
      auto node = pending_.extract(pending_.begin());
      node.mapped()();
    }
  }

 private:
  const Clock& clock_;
  TimerId next_ = 0;
  std::map<std::pair<TimePoint, TimerId>, std::function<void()>> pending_;
};

namespace {

InlineSecurity& Self(void* device) { return *static_cast<InlineSecurity*>(device); }

// Session private data lives in rte_security_session::driver_priv_data.
SessionInfo* Priv(void* sess) {
  return reinterpret_cast<SessionInfo*>(static_cast<rte_security_session*>(sess)->driver_priv_data);
}

// The TX metadata a session stands for: table index and SPI, so a stale
// session never reaches the SA that later reuses its slot.
std::uint64_t FastMdata(const sdk::SaHandle& h) {
  return (static_cast<std::uint64_t>(h.spi) << 32) | h.index;
}

int CbSessionCreate(void* device, rte_security_session_conf* conf, rte_security_session* sess) {
  return Self(device).OpSessionCreate(conf, sess);
}
int CbSessionUpdate(void* device, rte_security_session* sess, rte_security_session_conf* conf) {
  return Self(device).OpSessionUpdate(sess, conf);
}
unsigned CbSessionSize(void*) { return sizeof(SessionInfo); }
int CbStats(void* device, rte_security_session* sess, rte_security_stats* stats) {
  return Self(device).OpStatsGet(sess, stats);
}
int CbSessionDestroy(void* device, rte_security_session* sess) {
  return Self(device).OpSessionDestroy(sess);
}
int CbSetPktMetadata(void* device, rte_security_session* sess, rte_mbuf* m, void*) {
  return Self(device).OpSetPktMetadata(sess, m);
}
const rte_security_capability* CbCapabilities(void* device) {
  return Self(device).OpCapabilities();
}

constexpr rte_security_ops kOps = {
    .session_create = CbSessionCreate,
    .session_update = CbSessionUpdate,
    .session_get_size = CbSessionSize,
    .session_stats_get = CbStats,
    .session_destroy = CbSessionDestroy,
    .set_pkt_metadata = CbSetPktMetadata,
    .capabilities_get = CbCapabilities,
    .macsec_sc_create = nullptr,
    .macsec_sc_destroy = nullptr,
    .macsec_sa_create = nullptr,
    .macsec_sa_destroy = nullptr,
    .macsec_sc_stats_get = nullptr,
    .macsec_sa_stats_get = nullptr,
};

int ErrnoFor(Code c) {
  switch (c) {
    case Code::kUnimplemented:
      return ENOTSUP;
    case Code::kNotFound:
      return ENOENT;
    case Code::kAlreadyExists:
      return EEXIST;
    case Code::kResourceExhausted:
      return ENOSPC;
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
      return EAGAIN;
    case Code::kDeviceError:
    case Code::kInternal:
    case Code::kDataLoss:
      return EIO;
    default:
      return EINVAL;
  }
}

rte_cryptodev_capabilities AeadCap(rte_crypto_aead_algorithm algo, std::uint16_t block,
                                   std::uint16_t key_min, std::uint16_t key_max,
                                   std::uint16_t key_inc) {
  rte_cryptodev_capabilities c{};
  c.op = RTE_CRYPTO_OP_TYPE_SYMMETRIC;
  c.sym.xform_type = RTE_CRYPTO_SYM_XFORM_AEAD;
  c.sym.aead.algo = algo;
  c.sym.aead.block_size = block;
  c.sym.aead.key_size = {key_min, key_max, key_inc};
  c.sym.aead.digest_size = {16, 16, 0};
  c.sym.aead.aad_size = {8, 12, 4};  // ESP AAD: SPI + seq (+ high seq with ESN)
  c.sym.aead.iv_size = {12, 12, 0};
  return c;
}

}  // namespace

Result<std::unique_ptr<InlineSecurity>> InlineSecurity::Create(
    const InlineSecurityOptions& options) {
  std::unique_ptr<InlineSecurity> s(new InlineSecurity());
  INLINESEC_RETURN_IF_ERROR(s->Init(options));
  return s;
}

InlineSecurity::~InlineSecurity() = default;

Status InlineSecurity::Init(const InlineSecurityOptions& options) {
  if ((options.clock == nullptr) != (options.timers == nullptr))
    return Status(Code::kInvalidArgument, "inject both clock and timers, or neither");
  if (options.clock != nullptr) {
    clock_ = options.clock;
    timers_ = options.timers;
  } else {
    own_clock_ = std::make_unique<SystemClock>();
    own_timers_ = std::make_unique<PollTimers>(*own_clock_);
    clock_ = own_clock_.get();
    timers_ = own_timers_.get();
  }
  if (rte_security_dynfield_register() < 0)
    return Status(Code::kInternal, "cannot register the rte_security mbuf dynamic field (EAL up?)");

  Result<std::unique_ptr<driver::Device>> dev = driver::Device::Open(options.device_uri, *clock_);
  if (!dev.ok()) return dev.status();
  device_ = std::move(*dev);
  model_ = dynamic_cast<driver::ModelTransport*>(&device_->transport());
  if (model_ == nullptr)
    return Status(Code::kUnimplemented,
                  "DPDK burst functions need the model transport (a card runs the engine inline "
                  "on its own port)");
  sas_ = std::make_unique<sdk::SaManager>(*device_, *clock_, *timers_, options.sa_options);
  events_ = std::make_unique<sdk::ExceptionConsumer>(*device_);
  events_->AddSink([this](const sdk::Event& e) { sas_->OnDeviceEvent(e); });
  sas_->SetEventHandler([this](const sdk::SaEvent& e) { OnSaEvent(e); });
  event_port_ = options.event_port_id;
  tx_spi_size_ = device_->caps().sa_capacity;
  tx_spi_ = std::make_unique<std::atomic<std::uint32_t>[]>(tx_spi_size_);

  BuildCapabilities();
  ctx_.device = this;
  ctx_.ops = &kOps;
  ctx_.sess_cnt = 0;
  // Fast metadata: rte_security_set_pkt_metadata() stores the session's
  // fast_mdata in the mbuf without calling into the driver.
  ctx_.flags = RTE_SEC_CTX_F_FAST_SET_MDATA;
  return Status::Ok();
}

void InlineSecurity::BuildCapabilities() {
  const driver::Capabilities& c = device_->caps();
  crypto_caps_.clear();
  if (c.SupportsAlgo(abi::Algo::kAesGcm128) || c.SupportsAlgo(abi::Algo::kAesGcm256)) {
    const std::uint16_t lo = c.SupportsAlgo(abi::Algo::kAesGcm128) ? 16 : 32;
    const std::uint16_t hi = c.SupportsAlgo(abi::Algo::kAesGcm256) ? 32 : 16;
    crypto_caps_.push_back(AeadCap(RTE_CRYPTO_AEAD_AES_GCM, 16, lo, hi, lo == hi ? 0 : 16));
  }
  if (c.SupportsAlgo(abi::Algo::kChaCha20Poly1305))
    crypto_caps_.push_back(AeadCap(RTE_CRYPTO_AEAD_CHACHA20_POLY1305, 64, 32, 32, 0));
  rte_cryptodev_capabilities end{};
  end.op = RTE_CRYPTO_OP_TYPE_UNDEFINED;
  crypto_caps_.push_back(end);

  caps_.clear();
  for (const auto dir : {RTE_SECURITY_IPSEC_SA_DIR_INGRESS, RTE_SECURITY_IPSEC_SA_DIR_EGRESS}) {
    for (const auto mode :
         {RTE_SECURITY_IPSEC_SA_MODE_TUNNEL, RTE_SECURITY_IPSEC_SA_MODE_TRANSPORT}) {
      if (mode == RTE_SECURITY_IPSEC_SA_MODE_TUNNEL && !c.tunnel) continue;
      if (mode == RTE_SECURITY_IPSEC_SA_MODE_TRANSPORT && !c.transport) continue;
      rte_security_capability cap{};
      cap.action = RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL;
      cap.protocol = RTE_SECURITY_PROTOCOL_IPSEC;
      cap.ipsec.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
      cap.ipsec.mode = mode;
      cap.ipsec.direction = dir;
      cap.ipsec.options.esn = c.esn ? 1 : 0;
      cap.ipsec.options.udp_encap = c.nat_t ? 1 : 0;
      cap.ipsec.options.copy_dscp = c.dscp_copy ? 1 : 0;
      cap.ipsec.options.copy_df = c.df_control ? 1 : 0;
      cap.ipsec.options.stats = 1;  // per-SA counters (kReadSa)
      cap.ipsec.replay_win_sz_max =
          dir == RTE_SECURITY_IPSEC_SA_DIR_INGRESS ? c.replay_window_max : 0;
      cap.crypto_capabilities = crypto_caps_.data();
      cap.ol_flags = dir == RTE_SECURITY_IPSEC_SA_DIR_EGRESS ? RTE_SECURITY_TX_OLOAD_NEED_MDATA : 0;
      caps_.push_back(cap);
    }
  }
  rte_security_capability end_cap{};
  end_cap.action = RTE_SECURITY_ACTION_TYPE_NONE;
  caps_.push_back(end_cap);
}

int InlineSecurity::Fail(Status st) {
  const int err = ErrnoFor(st.code());
  last_error_ = std::move(st);
  rte_errno = err;
  return -err;
}

const SessionInfo* InlineSecurity::Session(void* sess) const {
  if (sess == nullptr) return nullptr;
  const SessionInfo* info = Priv(sess);
  return sas_->Contains(info->handle) ? info : nullptr;
}

int InlineSecurity::OpSessionCreate(rte_security_session_conf* conf, void* sess) {
  if (conf == nullptr) return Fail(Status(Code::kInvalidArgument, "rte_security: conf is NULL"));
  Result<sdk::SaDescription> desc = DescriptionFromConf(*conf, device_->caps());
  if (!desc.ok()) return Fail(desc.status());
  Result<sdk::SaHandle> h = sas_->Add(*desc);
  if (!h.ok()) return Fail(h.status());
  SessionInfo* info = Priv(sess);
  *info = SessionInfo{*h, desc->direction == sdk::SaDirection::kInbound, desc->cookie};
  rte_security_session_fast_mdata_set(sess, FastMdata(*h));
  rte_security_session_opaque_data_set(sess, desc->cookie);
  if (!info->inbound && h->index < tx_spi_size_)
    tx_spi_[h->index].store(h->spi, std::memory_order_relaxed);
  last_error_ = Status::Ok();
  return 0;
}

int InlineSecurity::OpSessionUpdate(void* sess, rte_security_session_conf* conf) {
  if (conf == nullptr) return Fail(Status(Code::kInvalidArgument, "rte_security: conf is NULL"));
  SessionInfo* info = Priv(sess);
  Result<sdk::SaDescription> desc = DescriptionFromConf(*conf, device_->caps());
  if (!desc.ok()) return Fail(desc.status());
  if (desc->direction == sdk::SaDirection::kInbound && desc->spi == 0) desc->spi = info->handle.spi;
  Status st = sas_->Update(info->handle, *desc);
  if (!st.ok()) return Fail(std::move(st));
  info->userdata = desc->cookie;
  rte_security_session_opaque_data_set(sess, desc->cookie);
  last_error_ = Status::Ok();
  return 0;
}

int InlineSecurity::OpSessionDestroy(void* sess) {
  SessionInfo* info = Priv(sess);
  if (!info->inbound && info->handle.index < tx_spi_size_) {
    std::uint32_t expected = info->handle.spi;
    (void)tx_spi_[info->handle.index].compare_exchange_strong(expected, 0,
                                                              std::memory_order_relaxed);
  }
  Status st = sas_->Delete(info->handle);
  // An SA the manager no longer holds is gone already: the session may go.
  if (!st.ok() && st.code() != Code::kNotFound) return Fail(std::move(st));
  *info = SessionInfo{};
  last_error_ = Status::Ok();
  return 0;
}

int InlineSecurity::OpStatsGet(void* sess, rte_security_stats* stats) {
  if (stats == nullptr) return Fail(Status(Code::kInvalidArgument, "rte_security: stats is NULL"));
  const SessionInfo* info = Priv(sess);
  Result<sdk::SaCounters> c = sas_->ReadCounters(info->handle);
  if (!c.ok()) return Fail(c.status());
  *stats = rte_security_stats{};
  stats->protocol = RTE_SECURITY_PROTOCOL_IPSEC;
  if (info->inbound) {
    stats->ipsec.ipackets = c->packets;
    stats->ipsec.ibytes = c->bytes;
    stats->ipsec.ierrors = c->replay_drops + c->auth_fails;
  } else {
    stats->ipsec.opackets = c->packets;
    stats->ipsec.obytes = c->bytes;
  }
  return 0;
}

int InlineSecurity::OpSetPktMetadata(void* sess, rte_mbuf* m) {
  if (sess == nullptr || m == nullptr) return -EINVAL;
  *rte_security_dynfield(m) = rte_security_session_fast_mdata_get(sess);
  return 0;
}

void InlineSecurity::OnSaEvent(const sdk::SaEvent& e) {
  if (event_cb_ == nullptr) return;
  IpsecEvent ev{};
  ev.kind = e.kind;
  ev.spi = e.sa.spi;
  ev.desc.metadata = e.cookie;
  switch (e.kind) {
    case sdk::SaEventKind::kSoftTime:
    case sdk::SaEventKind::kHardTime:
      ev.desc.subtype = RTE_ETH_EVENT_IPSEC_SA_TIME_EXPIRY;
      break;
    case sdk::SaEventKind::kSoftBytes:
      ev.desc.subtype = RTE_ETH_EVENT_IPSEC_SA_BYTE_EXPIRY;
      break;
    case sdk::SaEventKind::kHardBytes:
      ev.desc.subtype = RTE_ETH_EVENT_IPSEC_SA_BYTE_HARD_EXPIRY;
      break;
    case sdk::SaEventKind::kSoftPackets:
      ev.desc.subtype = RTE_ETH_EVENT_IPSEC_SA_PKT_EXPIRY;
      break;
    case sdk::SaEventKind::kHardPackets:
      ev.desc.subtype = RTE_ETH_EVENT_IPSEC_SA_PKT_HARD_EXPIRY;
      break;
    case sdk::SaEventKind::kSeqOverflow:
      ev.desc.subtype = RTE_ETH_EVENT_IPSEC_ESN_OVERFLOW;
      break;
  }
  ev.hard = e.kind == sdk::SaEventKind::kHardTime || e.kind == sdk::SaEventKind::kHardBytes ||
            e.kind == sdk::SaEventKind::kHardPackets || e.kind == sdk::SaEventKind::kSeqOverflow;
  (void)event_cb_(event_port_, RTE_ETH_EVENT_IPSEC, event_arg_, &ev);
}

Result<std::size_t> InlineSecurity::PollEvents() {
  if (own_timers_ != nullptr) own_timers_->RunDue();
  Result<std::size_t> r = events_->PollAndDispatch();
  return r;
}

}  // namespace inlinesec::dpdk
