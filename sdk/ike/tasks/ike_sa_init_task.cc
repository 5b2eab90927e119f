// IKE_SA_INIT (RFC 7296 §1.2): proposal selection (§2.7), DH and nonces
// (§2.10, §2.12), INVALID_KE_PAYLOAD retry (§1.2), COOKIE retry (§2.6), NAT
// detection (§2.23), fragmentation support (RFC 7383 §2.3) and the key
// schedule (§2.14). The stateless cookie check itself is in the IkeStack,
// before any responder state exists.
#include "inlinesec/ike/tasks/ike_sa_init_task.h"

#include "inlinesec/common/byte_reader.h"
#include "inlinesec/ike/crypto/keys.h"

namespace inlinesec::ike {
namespace {

constexpr std::size_t kNonceSize = 32;
constexpr int kMaxRetries = 3;

// The proposals that offer `group`, with every other DH transform removed.
std::vector<Proposal> OnlyGroup(const std::vector<Proposal>& in, std::uint16_t group) {
  std::vector<Proposal> out;
  for (Proposal p : in) {
    std::erase_if(p.transforms, [group](const Transform& t) {
      return t.type == TransformType::kDh && t.id != group;
    });
    if (FindTransform(p, TransformType::kDh)) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

IkeSaInitTask::IkeSaInitTask(Role role, IkeSa& sa, IkeContext& ctx)
    : Task(role), sa_(sa), ctx_(ctx) {
  if (role == Role::kInitiator) {
    for (const auto& p : sa.config().ike_proposals)
      if (auto dh = FindTransform(p, TransformType::kDh)) {
        group_ = dh->id;
        break;
      }
  }
}

void IkeSaInitTask::AddNatDetection(Message& out) const {
  const auto src = NatDetectionHash(out.header.spi_i, out.header.spi_r, sa_.local);
  const auto dst = NatDetectionHash(out.header.spi_i, out.header.spi_r, sa_.remote);
  out.AddNotify(NotifyType::kNatDetectionSourceIp, Bytes(src.begin(), src.end()));
  out.AddNotify(NotifyType::kNatDetectionDestinationIp, Bytes(dst.begin(), dst.end()));
}

void IkeSaInitTask::CheckNatDetection(const Message& in) {
  bool saw_src = false, src_match = false, saw_dst = false;
  const auto peer = NatDetectionHash(in.header.spi_i, in.header.spi_r, sa_.remote);
  const auto self = NatDetectionHash(in.header.spi_i, in.header.spi_r, sa_.local);
  for (const auto* n : in.Notifies()) {
    if (n->type == static_cast<std::uint16_t>(NotifyType::kNatDetectionSourceIp)) {
      saw_src = true;
      src_match |=
          n->data.size() == peer.size() && std::equal(peer.begin(), peer.end(), n->data.begin());
    } else if (n->type == static_cast<std::uint16_t>(NotifyType::kNatDetectionDestinationIp)) {
      saw_dst = true;
      sa_.nat_here =
          !(n->data.size() == self.size() && std::equal(self.begin(), self.end(), n->data.begin()));
    }
  }
  if (saw_src) sa_.nat_there = !src_match;
  if (!saw_dst) sa_.nat_here = false;
}

Step IkeSaInitTask::Build(Message& out) {
  out.header.exchange = ExchangeType::kIkeSaInit;
  out.header.spi_i = sa_.spi_i;
  if (role() == Role::kInitiator) {
    out.header.initiator = true;
    out.header.spi_r = 0;
    if (!dh_ || dh_->group() != group_) {
      Result<DhKeyExchange> dh = DhKeyExchange::Generate(group_, ctx_.random());
      if (!dh.ok()) return Step::kDeleteSa;
      dh_.emplace(std::move(dh).value());
    }
    if (sa_.nonce_i.empty()) sa_.nonce_i = ctx_.random().Bytes(kNonceSize);
    // RFC 7296 §2.6: the COOKIE notify comes first.
    if (!cookie_.empty()) out.AddNotify(NotifyType::kCookie, cookie_);
    SaPayload sa;
    std::uint8_t num = 1;
    for (auto p : sa_.config().ike_proposals) {
      p.number = num++;
      p.protocol = ProtocolId::kIke;
      p.spi.clear();
      sa.proposals.push_back(std::move(p));
    }
    out.Add(PayloadType::kSa, std::move(sa));
    out.Add(PayloadType::kKe, KePayload{group_, dh_->public_value()});
    out.Add(PayloadType::kNonce, NoncePayload{sa_.nonce_i});
    AddNatDetection(out);
    if (sa_.config().fragmentation) out.AddNotify(NotifyType::kIkev2FragmentationSupported);
    return Step::kNeedMore;
  }
  out.header.response = true;
  out.header.spi_r = sa_.spi_r;
  if (error_notify_ != 0) {
    // RFC 7296 §2.6/§1.2: error answers carry a zero responder SPI.
    out.header.spi_r = 0;
    out.AddNotify(static_cast<NotifyType>(error_notify_), error_data_);
    return Step::kDeleteSa;
  }
  out.Add(PayloadType::kSa, SaPayload{{*selected_}});
  out.Add(PayloadType::kKe, KePayload{group_, dh_->public_value()});
  out.Add(PayloadType::kNonce, NoncePayload{sa_.nonce_r});
  AddNatDetection(out);
  if (sa_.config().fragmentation) out.AddNotify(NotifyType::kIkev2FragmentationSupported);
  return Step::kDone;
}

Step IkeSaInitTask::Process(const Message& in) {
  return role() == Role::kInitiator ? ProcessResponse(in) : ProcessRequest(in);
}

Step IkeSaInitTask::DeriveKeys(std::span<const std::uint8_t> peer_ke) {
  Result<SecureBytes> shared = dh_->Agree(peer_ke);
  if (!shared.ok()) return Step::kDeleteSa;
  sa_.alg = IkeAlgorithmsOf(*selected_);
  Result<IkeKeys> keys =
      DeriveIkeKeys(sa_.alg, sa_.nonce_i, sa_.nonce_r, shared->span(), sa_.spi_i, sa_.spi_r);
  if (!keys.ok()) return Step::kDeleteSa;
  sa_.keys = std::move(keys).value();
  Result<SkCrypter> c = MakeSkCrypter(sa_.alg, sa_.keys, sa_.original_initiator(), ctx_.random());
  if (!c.ok()) return Step::kDeleteSa;
  sa_.crypter.emplace(std::move(c).value());
  return Step::kDone;
}

Step IkeSaInitTask::ProcessResponse(const Message& in) {
  if (const auto* cookie = in.FindNotify(NotifyType::kCookie)) {
    if (++retries_ > kMaxRetries || cookie->data.empty() || cookie->data.size() > 64)
      return Step::kDeleteSa;
    cookie_ = cookie->data;
    return Step::kNeedMore;
  }
  if (const auto* ke = in.FindNotify(NotifyType::kInvalidKePayload)) {
    // RFC 7296 §1.2: retry with the group the responder asks for, if we
    // offered it.
    if (ke->data.size() != 2 || ++retries_ > kMaxRetries) return Step::kDeleteSa;
    const std::uint16_t want = LoadBe16(ke->data.data());
    bool offered = false;
    for (const auto& p : sa_.config().ike_proposals)
      for (const auto& t : p.transforms) offered |= t.type == TransformType::kDh && t.id == want;
    if (!offered || want == group_) return Step::kDeleteSa;
    group_ = want;
    dh_.reset();
    return Step::kNeedMore;
  }
  if (in.FirstError() != nullptr) {
    sa_.down_reason = DownReason::kNegotiation;
    return Step::kDeleteSa;
  }
  const auto* sa = in.Find<SaPayload>(PayloadType::kSa);
  const auto* ke = in.Find<KePayload>(PayloadType::kKe);
  const auto* nonce = in.Find<NoncePayload>(PayloadType::kNonce);
  sa_.down_reason = DownReason::kNegotiation;
  if (sa == nullptr || ke == nullptr || nonce == nullptr || sa->proposals.size() != 1 ||
      !sa->proposals[0].spi.empty() || in.header.spi_r == 0 ||
      !ProposalAcceptable(sa->proposals[0], sa_.config().ike_proposals))
    return Step::kDeleteSa;
  selected_ = sa->proposals[0];
  if (IkeAlgorithmsOf(*selected_).dh != group_ || ke->group != group_) return Step::kDeleteSa;
  sa_.spi_r = in.header.spi_r;
  sa_.nonce_r = nonce->nonce;
  CheckNatDetection(in);
  if (sa_.nat_here || sa_.nat_there) {
    // RFC 7296 §2.23: with a NAT in the path the initiator moves to 4500.
    sa_.local.port = kNatTPort;
    sa_.remote.port = kNatTPort;
  }
  sa_.peer_fragmentation = in.FindNotify(NotifyType::kIkev2FragmentationSupported) != nullptr;
  return DeriveKeys(ke->data);
}

Step IkeSaInitTask::ProcessRequest(const Message& in) {
  const auto* sa = in.Find<SaPayload>(PayloadType::kSa);
  const auto* ke = in.Find<KePayload>(PayloadType::kKe);
  const auto* nonce = in.Find<NoncePayload>(PayloadType::kNonce);
  sa_.nonce_i = nonce->nonce;
  std::vector<Proposal> offered;
  for (const auto& p : sa->proposals)
    if (p.protocol == ProtocolId::kIke && p.spi.empty()) offered.push_back(p);
  selected_ = SelectProposal(offered, sa_.config().ike_proposals);
  if (!selected_) {
    error_notify_ = static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
    return Step::kDeleteSa;
  }
  group_ = IkeAlgorithmsOf(*selected_).dh;
  if (ke->group != group_) {
    // Prefer the group the initiator already sent a KE for, if acceptable,
    // to save the INVALID_KE_PAYLOAD round trip (as strongSwan does).
    if (auto with_ke = SelectProposal(OnlyGroup(offered, ke->group),
                                      OnlyGroup(sa_.config().ike_proposals, ke->group))) {
      selected_ = with_ke;
      group_ = ke->group;
    }
  }
  if (ke->group != group_) {
    // RFC 7296 §1.2: tell the initiator which group we want.
    error_notify_ = static_cast<std::uint16_t>(NotifyType::kInvalidKePayload);
    error_data_ = {static_cast<std::uint8_t>(group_ >> 8), static_cast<std::uint8_t>(group_)};
    return Step::kDeleteSa;
  }
  Result<DhKeyExchange> dh = DhKeyExchange::Generate(group_, ctx_.random());
  if (!dh.ok()) return Step::kDeleteSa;
  dh_.emplace(std::move(dh).value());
  sa_.nonce_r = ctx_.random().Bytes(kNonceSize);
  CheckNatDetection(in);
  sa_.peer_fragmentation = in.FindNotify(NotifyType::kIkev2FragmentationSupported) != nullptr;
  if (DeriveKeys(ke->data) != Step::kDone) {
    error_notify_ = static_cast<std::uint16_t>(NotifyType::kInvalidSyntax);
    return Step::kDeleteSa;
  }
  return Step::kDone;
}

}  // namespace inlinesec::ike
