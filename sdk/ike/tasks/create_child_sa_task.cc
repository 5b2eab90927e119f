// CREATE_CHILD_SA (RFC 7296 §1.3): new Child SA (§1.3.1), Child SA rekey
// (§1.3.3, §2.8) and IKE SA rekey (§1.3.2, §2.18), with PFS when the ESP
// proposal carries a DH group. Simultaneous rekeys (§2.8.1 for Child SAs,
// §2.8.2 for IKE SAs) are settled by the lowest of the four nonces: the SA
// created by the exchange holding it is redundant and its initiator deletes
// it; the other side deletes the old SA.
#include "inlinesec/ike/tasks/create_child_sa_task.h"

#include <algorithm>

#include "inlinesec/common/byte_reader.h"
#include "inlinesec/ike/crypto/keys.h"
#include "inlinesec/ike/tasks/task_manager.h"

namespace inlinesec::ike {
namespace {

constexpr std::size_t kNonceSize = 32;

bool NonceLess(const Bytes& a, const Bytes& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

Bytes Spi8(std::uint64_t spi) {
  Bytes b(8);
  StoreBe64(b.data(), spi);
  return b;
}

std::uint64_t LoadBe64(const Bytes& b) {
  std::uint64_t v = 0;
  for (auto x : b) v = (v << 8) | x;
  return v;
}

}  // namespace

CreateChildSaTask::CreateChildSaTask(IkeSa& sa, IkeContext& ctx, CreateChildKind kind,
                                     const ChildConfig* config, std::uint64_t child_id)
    : Task(Role::kInitiator), sa_(sa), ctx_(ctx), kind_(kind), old_child_(child_id) {
  child_.config = config;
}

CreateChildSaTask::CreateChildSaTask(IkeSa& sa, IkeContext& ctx)
    : Task(Role::kResponder), sa_(sa), ctx_(ctx) {}

CreateChildSaTask::~CreateChildSaTask() { ReleaseChildSpi(ctx_, child_); }

void CreateChildSaTask::NoteCollision(const Bytes& peer_ni, const Bytes& our_nr,
                                      std::uint64_t their_new_sa) {
  collided_ = true;
  collision_peer_ni_ = peer_ni;
  collision_our_nr_ = our_nr;
  collision_sa_ = their_new_sa;
}

bool CreateChildSaTask::LostCollision(const Bytes& our_ni, const Bytes& peer_nr) const {
  // RFC 7296 §2.8.1: the exchange holding the lowest of the four nonces
  // created the redundant SA.
  const Bytes& ours = NonceLess(our_ni, peer_nr) ? our_ni : peer_nr;
  const Bytes& theirs =
      NonceLess(collision_peer_ni_, collision_our_nr_) ? collision_peer_ni_ : collision_our_nr_;
  return NonceLess(ours, theirs);
}

Step CreateChildSaTask::Build(Message& out) {
  out.header.exchange = ExchangeType::kCreateChildSa;
  if (role() == Role::kResponder) {
    out.header.response = true;
    if (error_ != 0) {
      out.AddNotify(static_cast<NotifyType>(error_), error_data_);
      return Step::kDone;
    }
    if (kind_ == CreateChildKind::kRekeyIke) {
      Proposal p = *ike_chosen_;
      p.spi = Spi8(new_ike_spi_);
      out.Add(PayloadType::kSa, SaPayload{{p}});
      out.Add(PayloadType::kNonce, NoncePayload{nonce_});
      out.Add(PayloadType::kKe, KePayload{ike_dh_->group(), ike_dh_->public_value()});
      return Step::kDone;
    }
    AddChildResponse(child_, out);
    out.Add(PayloadType::kNonce, NoncePayload{nonce_});
    if (child_.dh)
      out.Add(PayloadType::kKe, KePayload{child_.dh->group(), child_.dh->public_value()});
    out.Add(PayloadType::kTsi, TsPayload{child_.tsi});
    out.Add(PayloadType::kTsr, TsPayload{child_.tsr});
    return Step::kDone;
  }
  // Initiator request.
  if (nonce_.empty()) nonce_ = ctx_.random().Bytes(kNonceSize);
  if (kind_ == CreateChildKind::kRekeyIke) {
    if (sa_.state != IkeSaState::kEstablished) return Step::kFailed;
    new_ike_spi_ = ctx_.NewIkeSpi();
    Result<DhKeyExchange> dh = DhKeyExchange::Generate(sa_.alg.dh, ctx_.random());
    if (!dh.ok()) return Step::kFailed;
    ike_dh_.emplace(std::move(dh).value());
    SaPayload sa;
    std::uint8_t num = 1;
    // Keep the negotiated group first so that the responder can accept our KE.
    std::vector<Proposal> props = sa_.config().ike_proposals;
    std::stable_partition(props.begin(), props.end(), [this](const Proposal& p) {
      return IkeAlgorithmsOf(p).dh == sa_.alg.dh;
    });
    for (auto p : props) {
      p.number = num++;
      p.protocol = ProtocolId::kIke;
      p.spi = Spi8(new_ike_spi_);
      sa.proposals.push_back(std::move(p));
    }
    out.Add(PayloadType::kSa, std::move(sa));
    out.Add(PayloadType::kNonce, NoncePayload{nonce_});
    out.Add(PayloadType::kKe, KePayload{ike_dh_->group(), ike_dh_->public_value()});
    return Step::kNeedMore;
  }
  const ChildSa* old = nullptr;
  std::vector<TrafficSelector> local_ts, remote_ts;
  if (kind_ == CreateChildKind::kRekeyChild) {
    ChildSa* c = sa_.FindChild(old_child_);
    if (c == nullptr || c->state != ChildSaState::kInstalled || c->config == nullptr)
      return Step::kFailed;
    c->state = ChildSaState::kRekeying;
    child_.config = c->config;
    local_ts = c->local_ts;
    remote_ts = c->remote_ts;
    old = c;
  } else {
    if (child_.config == nullptr) return Step::kFailed;
    local_ts = child_.config->local_ts;
    remote_ts = child_.config->remote_ts;
  }
  const ChildConfig& cfg = *child_.config;
  if (!child_.spi_owned && !AllocateChildSpi(ctx_, sa_, child_)) return Step::kFailed;
  if (old != nullptr) {
    Bytes spi(4);
    StoreBe32(spi.data(), old->spi_in);
    out.AddNotify(NotifyType::kRekeySa, {}, ProtocolId::kEsp, spi);
  }
  if (cfg.mode == IpsecMode::kTransport) out.AddNotify(NotifyType::kUseTransportMode);
  out.Add(PayloadType::kSa, ChildSaPayload(cfg, child_.spi_in, true));
  out.Add(PayloadType::kNonce, NoncePayload{nonce_});
  if (const std::uint16_t g = ChildPfsGroup(cfg); g != 0) {
    if (!child_.dh) {
      Result<DhKeyExchange> dh = DhKeyExchange::Generate(g, ctx_.random());
      if (!dh.ok()) return Step::kFailed;
      child_.dh.emplace(std::move(dh).value());
    }
    out.Add(PayloadType::kKe, KePayload{g, child_.dh->public_value()});
  }
  out.Add(PayloadType::kTsi, TsPayload{local_ts});
  out.Add(PayloadType::kTsr, TsPayload{remote_ts});
  return Step::kNeedMore;
}

Step CreateChildSaTask::Process(const Message& in) {
  return role() == Role::kInitiator ? ProcessResponse(in) : ProcessRequest(in);
}

Step CreateChildSaTask::FinishIkeRekey(const Proposal& chosen,
                                       std::span<const std::uint8_t> peer_ke,
                                       std::uint64_t peer_spi, bool we_initiated) {
  Result<SecureBytes> shared = ike_dh_->Agree(peer_ke);
  if (!shared.ok()) return Step::kFailed;
  auto fresh = std::make_unique<IkeSa>(0, sa_.config_ptr(), we_initiated);
  fresh->spi_i = we_initiated ? new_ike_spi_ : peer_spi;
  fresh->spi_r = we_initiated ? peer_spi : new_ike_spi_;
  fresh->nonce_i = we_initiated ? nonce_ : peer_nonce_;
  fresh->nonce_r = we_initiated ? peer_nonce_ : nonce_;
  fresh->alg = IkeAlgorithmsOf(chosen);
  Result<IkeKeys> keys =
      DeriveRekeyedIkeKeys(sa_.alg.prf, sa_.keys.sk_d.span(), fresh->alg, fresh->nonce_i,
                           fresh->nonce_r, shared->span(), fresh->spi_i, fresh->spi_r);
  if (!keys.ok()) return Step::kFailed;
  fresh->keys = std::move(keys).value();
  Result<SkCrypter> c = MakeSkCrypter(fresh->alg, fresh->keys, we_initiated, ctx_.random());
  if (!c.ok()) return Step::kFailed;
  fresh->crypter.emplace(std::move(c).value());
  fresh->local = sa_.local;
  fresh->remote = sa_.remote;
  fresh->nat_here = sa_.nat_here;
  fresh->nat_there = sa_.nat_there;
  fresh->peer_fragmentation = sa_.peer_fragmentation;
  fresh->peer_id = sa_.peer_id;
  fresh->state = IkeSaState::kEstablished;
  IkeSa* created = ctx_.AdoptRekeyedIkeSa(sa_, std::move(fresh));
  if (created == nullptr) return Step::kFailed;
  if (!we_initiated) {
    Task* mine = sa_.tasks ? sa_.tasks->active() : nullptr;
    sa_.state = IkeSaState::kRekeyed;
    if (mine != nullptr && mine->rekeying_ike()) {
      // §2.8.2: we are rekeying too; our own task decides which new SA
      // survives once its response is in. Until then nothing moves.
      created->state = IkeSaState::kRekeyed;
      mine->NoteCollision(peer_nonce_, nonce_, created->id());
      return Step::kDone;
    }
    // Responder (§2.18): the new SA takes over; the initiator deletes the
    // old one.
    ctx_.MoveChildren(sa_, *created);
    return Step::kDone;
  }
  IkeSa* theirs = collided_ ? ctx_.FindIkeSa(collision_sa_) : nullptr;
  if (theirs != nullptr && theirs->state == IkeSaState::kDead) theirs = nullptr;
  // If the peer's new SA is already gone, ours is the only candidate left.
  if (theirs != nullptr && LostCollision(nonce_, peer_nonce_)) {
    // §2.8.2: our new IKE SA is redundant: we delete it, the children go to
    // the peer's new SA and the peer deletes the old one.
    created->state = IkeSaState::kRekeyed;
    ctx_.QueueIkeDelete(*created);
    theirs->state = IkeSaState::kEstablished;
    ctx_.MoveChildren(sa_, *theirs);
    sa_.state = IkeSaState::kRekeyed;
    return Step::kDone;
  }
  ctx_.MoveChildren(sa_, *created);
  if (theirs != nullptr) theirs->state = IkeSaState::kRekeyed;  // the peer deletes it
  sa_.state = IkeSaState::kRekeyed;
  ctx_.QueueIkeDelete(sa_);
  return Step::kDone;
}

Step CreateChildSaTask::ProcessResponse(const Message& in) {
  ChildSa* old = kind_ == CreateChildKind::kRekeyChild ? sa_.FindChild(old_child_) : nullptr;
  auto fail = [&]() {
    // RFC 7296 §2.25: a refused or failed rekey is tried again later.
    if (old != nullptr && old->state == ChildSaState::kRekeying) {
      old->state = ChildSaState::kInstalled;
      ctx_.RetryRekeyLater(sa_, old->id);
    }
    if (kind_ == CreateChildKind::kRekeyIke && sa_.state == IkeSaState::kEstablished)
      ctx_.RetryRekeyLater(sa_, 0);
    ReleaseChildSpi(ctx_, child_);
    return Step::kFailed;
  };
  const auto* nonce = in.Find<NoncePayload>(PayloadType::kNonce);
  if (in.FirstError() != nullptr || nonce == nullptr) return fail();
  peer_nonce_ = nonce->nonce;
  const auto* ke = in.Find<KePayload>(PayloadType::kKe);
  if (kind_ == CreateChildKind::kRekeyIke) {
    const auto* sa = in.Find<SaPayload>(PayloadType::kSa);
    if (sa == nullptr || sa->proposals.size() != 1 || sa->proposals[0].spi.size() != 8 ||
        sa->proposals[0].protocol != ProtocolId::kIke || ke == nullptr ||
        ke->group != ike_dh_->group() ||
        !ProposalAcceptable(sa->proposals[0], sa_.config().ike_proposals) ||
        IkeAlgorithmsOf(sa->proposals[0]).dh != ike_dh_->group())
      return fail();
    return FinishIkeRekey(sa->proposals[0], ke->data, LoadBe64(sa->proposals[0].spi), true);
  }
  if (AcceptChildResponse(*child_.config, in, true, child_) != 0) return fail();
  SecureBytes shared;
  if (ChildAlgorithmsOf(*child_.selected).dh != 0) {
    if (!child_.dh || ke == nullptr || ke->group != child_.dh->group()) return fail();
    Result<SecureBytes> s = child_.dh->Agree(ke->data);
    if (!s.ok()) return fail();
    shared = std::move(s).value();
  }
  if (!InstallChild(ctx_, sa_, child_, true, shared.span(), nonce_, peer_nonce_,
                    old != nullptr ? old->id : 0)
           .ok())
    return fail();
  if (kind_ != CreateChildKind::kRekeyChild) return Step::kDone;
  old = sa_.FindChild(old_child_);  // the vector may have moved
  if (collided_ && LostCollision(nonce_, peer_nonce_)) {
    // §2.8.1: ours is redundant; delete it. The peer deletes the old SA.
    ctx_.QueueChildDelete(sa_, {child_.spi_in});
    if (old != nullptr) old->state = ChildSaState::kRekeyed;
    return Step::kDone;
  }
  if (old != nullptr) {
    old->state = ChildSaState::kRekeyed;
    ctx_.QueueChildDelete(sa_, {old->spi_in});
  }
  return Step::kDone;
}

Step CreateChildSaTask::ProcessIkeRekeyRequest(const Message& in) {
  kind_ = CreateChildKind::kRekeyIke;
  const auto* sa = in.Find<SaPayload>(PayloadType::kSa);
  const auto* ke = in.Find<KePayload>(PayloadType::kKe);
  std::vector<Proposal> offered;
  for (const auto& p : sa->proposals)
    if (p.protocol == ProtocolId::kIke && p.spi.size() == 8) offered.push_back(p);
  ike_chosen_ = SelectProposal(offered, sa_.config().ike_proposals);
  if (!ike_chosen_ || ke == nullptr) {
    error_ = static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
    return Step::kDone;
  }
  const std::uint16_t group = IkeAlgorithmsOf(*ike_chosen_).dh;
  if (ke->group != group) {
    error_ = static_cast<std::uint16_t>(NotifyType::kInvalidKePayload);
    error_data_ = {static_cast<std::uint8_t>(group >> 8), static_cast<std::uint8_t>(group)};
    return Step::kDone;
  }
  Result<DhKeyExchange> dh = DhKeyExchange::Generate(group, ctx_.random());
  if (!dh.ok()) {
    error_ = static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
    return Step::kDone;
  }
  ike_dh_.emplace(std::move(dh).value());
  new_ike_spi_ = ctx_.NewIkeSpi();
  if (FinishIkeRekey(*ike_chosen_, ke->data, LoadBe64(ike_chosen_->spi), false) != Step::kDone)
    error_ = static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
  return Step::kDone;
}

Step CreateChildSaTask::ProcessRequest(const Message& in) {
  const auto* nonce = in.Find<NoncePayload>(PayloadType::kNonce);
  const auto* sa = in.Find<SaPayload>(PayloadType::kSa);
  peer_nonce_ = nonce->nonce;
  nonce_ = ctx_.random().Bytes(kNonceSize);
  if (sa_.state != IkeSaState::kEstablished) {
    // §2.25: an SA being rekeyed or deleted takes no new children.
    error_ = static_cast<std::uint16_t>(NotifyType::kTemporaryFailure);
    return Step::kDone;
  }
  if (!sa->proposals.empty() && sa->proposals[0].protocol == ProtocolId::kIke)
    return ProcessIkeRekeyRequest(in);
  ChildSa* old = nullptr;
  if (const auto* rekey = in.FindNotify(NotifyType::kRekeySa)) {
    kind_ = CreateChildKind::kRekeyChild;
    if (rekey->spi.size() == 4) old = sa_.FindChildByOutbound(LoadBe32(rekey->spi.data()));
    if (old == nullptr) {
      error_ = static_cast<std::uint16_t>(NotifyType::kChildSaNotFound);
      return Step::kDone;
    }
    if (old->state == ChildSaState::kRekeyed || old->state == ChildSaState::kDeleting) {
      error_ = static_cast<std::uint16_t>(NotifyType::kTemporaryFailure);
      return Step::kDone;
    }
  }
  // The child config: the old SA's, else the first one the request fits.
  std::uint16_t err = static_cast<std::uint16_t>(NotifyType::kTsUnacceptable);
  if (old != nullptr && old->config != nullptr) {
    err = SelectChild(*old->config, in, true, child_);
  } else {
    for (const auto& cfg : sa_.config().children) {
      child_ = ChildNegotiation{};
      err = SelectChild(cfg, in, true, child_);
      if (err == 0) break;
    }
  }
  if (err != 0) {
    error_ = err;
    return Step::kDone;
  }
  const auto* ke = in.Find<KePayload>(PayloadType::kKe);
  SecureBytes shared;
  if (const std::uint16_t g = ChildAlgorithmsOf(*child_.selected).dh; g != 0) {
    if (ke == nullptr || ke->group != g) {
      error_ = static_cast<std::uint16_t>(NotifyType::kInvalidKePayload);
      error_data_ = {static_cast<std::uint8_t>(g >> 8), static_cast<std::uint8_t>(g)};
      return Step::kDone;
    }
    Result<DhKeyExchange> dh = DhKeyExchange::Generate(g, ctx_.random());
    Result<SecureBytes> s = dh.ok() ? dh->Agree(ke->data) : Result<SecureBytes>(dh.status());
    if (!s.ok()) {
      error_ = static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
      return Step::kDone;
    }
    child_.dh.emplace(std::move(dh).value());
    shared = std::move(s).value();
  }
  if (!AllocateChildSpi(ctx_, sa_, child_)) {
    error_ = static_cast<std::uint16_t>(NotifyType::kNoAdditionalSas);
    return Step::kDone;
  }
  const std::uint64_t old_id = old != nullptr ? old->id : 0;
  if (!InstallChild(ctx_, sa_, child_, false, shared.span(), peer_nonce_, nonce_, old_id).ok()) {
    error_ = static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
    return Step::kDone;
  }
  if (old_id != 0) {
    Task* mine = sa_.tasks ? sa_.tasks->active() : nullptr;
    if (mine != nullptr && mine->rekeying_child() == old_id) {
      mine->NoteCollision(peer_nonce_, nonce_, child_.child_id);  // §2.8.1
    } else if (ChildSa* o = sa_.FindChild(old_id)) {
      o->state = ChildSaState::kRekeyed;  // the initiator deletes it
    }
  }
  return Step::kDone;
}

}  // namespace inlinesec::ike
