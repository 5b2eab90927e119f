// Child SA negotiation helpers shared by IKE_AUTH and CREATE_CHILD_SA:
// proposals with our SPI, responder selection, TS narrowing (RFC 7296 §2.9),
// USE_TRANSPORT_MODE (§1.3.1), keymat (§2.17) and installation.
#include "inlinesec/ike/tasks/child_util.h"

#include "inlinesec/common/byte_reader.h"
#include "inlinesec/ike/crypto/prf.h"

namespace inlinesec::ike {
namespace {

Bytes SpiBytes(std::uint32_t spi) {
  Bytes b(4);
  StoreBe32(b.data(), spi);
  return b;
}

std::vector<Proposal> LocalProposals(const ChildConfig& cfg, bool with_dh) {
  std::vector<Proposal> out = cfg.esp_proposals;
  if (!with_dh)
    for (auto& p : out)
      std::erase_if(p.transforms, [](const Transform& t) { return t.type == TransformType::kDh; });
  return out;
}

}  // namespace

bool AllocateChildSpi(IkeContext& ctx, IkeSa& sa, ChildNegotiation& n) {
  Result<std::uint32_t> spi = ctx.installer().AllocateSpi(sa.remote);
  if (!spi.ok()) return false;
  n.spi_in = *spi;
  n.spi_owned = true;
  return true;
}

void ReleaseChildSpi(IkeContext& ctx, ChildNegotiation& n) {
  if (n.spi_owned) ctx.installer().ReleaseSpi(n.spi_in);
  n.spi_owned = false;
}

SaPayload ChildSaPayload(const ChildConfig& cfg, std::uint32_t spi, bool with_dh) {
  SaPayload sa;
  std::uint8_t num = 1;
  for (auto p : LocalProposals(cfg, with_dh)) {
    p.number = num++;
    p.protocol = ProtocolId::kEsp;
    p.spi = SpiBytes(spi);
    sa.proposals.push_back(std::move(p));
  }
  return sa;
}

std::uint16_t ChildPfsGroup(const ChildConfig& cfg) {
  for (const auto& p : cfg.esp_proposals)
    if (auto t = FindTransform(p, TransformType::kDh); t && t->id != 0) return t->id;
  return 0;
}

std::vector<TrafficSelector> Narrow(const std::vector<TrafficSelector>& offered,
                                    const std::vector<TrafficSelector>& local) {
  std::vector<TrafficSelector> out;
  for (const auto& o : offered)
    for (const auto& l : local)
      if (auto i = Intersect(o, l)) {
        if (std::find(out.begin(), out.end(), *i) == out.end()) out.push_back(*i);
      }
  return out;
}

std::uint16_t SelectChild(const ChildConfig& cfg, const Message& request, bool with_dh,
                          ChildNegotiation& n) {
  n.config = &cfg;
  const auto* sa = request.Find<SaPayload>(PayloadType::kSa);
  const auto* tsi = request.Find<TsPayload>(PayloadType::kTsi);
  const auto* tsr = request.Find<TsPayload>(PayloadType::kTsr);
  if (sa == nullptr) return static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
  std::vector<Proposal> offered = sa->proposals;
  if (!with_dh)  // RFC 7296 §1.2: DH transforms in IKE_AUTH are ignored
    for (auto& p : offered)
      std::erase_if(p.transforms, [](const Transform& t) { return t.type == TransformType::kDh; });
  std::erase_if(offered, [](const Proposal& p) {
    return p.protocol != ProtocolId::kEsp || p.spi.size() != 4;
  });
  n.selected = SelectProposal(offered, LocalProposals(cfg, with_dh));
  if (!n.selected) return static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
  if (tsi == nullptr || tsr == nullptr)
    return static_cast<std::uint16_t>(NotifyType::kTsUnacceptable);
  // TSi is the initiator's side: our remote; TSr is ours.
  n.tsi = Narrow(tsi->selectors, cfg.remote_ts);
  n.tsr = Narrow(tsr->selectors, cfg.local_ts);
  if (n.tsi.empty() || n.tsr.empty())
    return static_cast<std::uint16_t>(NotifyType::kTsUnacceptable);
  n.mode = request.FindNotify(NotifyType::kUseTransportMode) != nullptr &&
                   cfg.mode == IpsecMode::kTransport
               ? IpsecMode::kTransport
               : IpsecMode::kTunnel;
  return 0;
}

void AddChildResponse(const ChildNegotiation& n, Message& out) {
  if (n.mode == IpsecMode::kTransport) out.AddNotify(NotifyType::kUseTransportMode);
  Proposal p = *n.selected;
  p.spi = SpiBytes(n.spi_in);
  SaPayload sa;
  sa.proposals.push_back(std::move(p));
  out.Add(PayloadType::kSa, std::move(sa));
}

std::uint16_t AcceptChildResponse(const ChildConfig& cfg, const Message& response, bool with_dh,
                                  ChildNegotiation& n) {
  const auto* sa = response.Find<SaPayload>(PayloadType::kSa);
  const auto* tsi = response.Find<TsPayload>(PayloadType::kTsi);
  const auto* tsr = response.Find<TsPayload>(PayloadType::kTsr);
  if (sa == nullptr || sa->proposals.size() != 1 || sa->proposals[0].spi.size() != 4 ||
      sa->proposals[0].protocol != ProtocolId::kEsp ||
      !ProposalAcceptable(sa->proposals[0], LocalProposals(cfg, with_dh)))
    return static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
  n.selected = sa->proposals[0];
  if (tsi == nullptr || tsr == nullptr)
    return static_cast<std::uint16_t>(NotifyType::kTsUnacceptable);
  n.tsi = Narrow(tsi->selectors, cfg.local_ts);
  n.tsr = Narrow(tsr->selectors, cfg.remote_ts);
  if (n.tsi.empty() || n.tsr.empty())
    return static_cast<std::uint16_t>(NotifyType::kTsUnacceptable);
  n.mode = cfg.mode == IpsecMode::kTransport &&
                   response.FindNotify(NotifyType::kUseTransportMode) != nullptr
               ? IpsecMode::kTransport
               : IpsecMode::kTunnel;
  return 0;
}

Status InstallChild(IkeContext& ctx, IkeSa& sa, ChildNegotiation& n, bool exchange_initiator,
                    std::span<const std::uint8_t> shared, std::span<const std::uint8_t> ni,
                    std::span<const std::uint8_t> nr, std::uint64_t replaced_id) {
  const ChildAlgorithms alg = ChildAlgorithmsOf(*n.selected);
  const std::size_t ek = EncrKeymatSize(alg.encr, alg.encr_key_bits);
  const std::size_t ik = IsAead(alg.encr) ? 0 : IntegKeySize(alg.integ);
  if (ek == 0 || (!IsAead(alg.encr) && ik == 0))
    return Status(Code::kUnimplemented, "unsupported ESP transforms");
  Result<ChildKeys> keys = DeriveChildKeys(sa.alg.prf, sa.keys.sk_d.span(), shared, ni, nr, ek, ik);
  if (!keys.ok()) return keys.status();
  const std::uint32_t spi_out = LoadBe32(n.selected->spi.data());
  ChildSa child;
  child.id = ctx.NewChildId();
  child.config = n.config;
  child.spi_in = n.spi_in;
  child.spi_out = spi_out;
  child.alg = alg;
  child.mode = n.mode;
  child.local_ts = exchange_initiator ? n.tsi : n.tsr;
  child.remote_ts = exchange_initiator ? n.tsr : n.tsi;
  child.established = ctx.clock().Now();

  auto spec = [&](Direction dir) {
    ChildSaSpec s;
    s.child_id = child.id;
    s.ike_sa_id = sa.id();
    s.direction = dir;
    s.spi = dir == Direction::kInbound ? child.spi_in : child.spi_out;
    s.encr = alg.encr;
    s.encr_key_bits = alg.encr_key_bits;
    s.integ = IsAead(alg.encr) ? kIntegNone : alg.integ;
    // RFC 7296 §2.17: the "i" keys protect initiator-to-responder traffic.
    const bool use_i = (dir == Direction::kOutbound) == exchange_initiator;
    s.encr_key = (use_i ? keys->encr_i : keys->encr_r).Clone();
    s.integ_key = (use_i ? keys->integ_i : keys->integ_r).Clone();
    s.mode = child.mode;
    s.esn = alg.esn;
    s.local = sa.local;
    s.remote = sa.remote;
    s.udp_encap = sa.nat_here || sa.nat_there;
    s.local_ts = child.local_ts;
    s.remote_ts = child.remote_ts;
    if (n.config != nullptr) {
      s.lifetime.hard = n.config->lifetime;
      s.lifetime.soft = n.config->lifetime - n.config->rekey_margin;
      s.lifetime.hard_bytes = n.config->life_bytes;
      s.lifetime.soft_bytes = n.config->life_bytes / 10 * 9;
      s.lifetime.hard_packets = n.config->life_packets;
      s.lifetime.soft_packets = n.config->life_packets / 10 * 9;
    }
    return s;
  };
  Status st = ctx.installer().Install(spec(Direction::kInbound));
  if (!st.ok()) return st;
  n.spi_owned = false;
  st = ctx.installer().Install(spec(Direction::kOutbound));
  if (!st.ok()) {
    (void)ctx.installer().Remove(child.spi_in, Direction::kInbound, sa.remote);
    return st;
  }
  n.child_id = child.id;
  sa.children.push_back(std::move(child));
  ctx.ChildSaInstalled(sa, sa.children.back(), sa.FindChild(replaced_id));
  return Status::Ok();
}

void RemoveChild(IkeContext& ctx, IkeSa& sa, std::uint64_t child_id) {
  ChildSa* c = sa.FindChild(child_id);
  if (c == nullptr) return;
  (void)ctx.installer().Remove(c->spi_in, Direction::kInbound, sa.remote);
  (void)ctx.installer().Remove(c->spi_out, Direction::kOutbound, sa.remote);
  const ChildSa copy = *c;
  std::erase_if(sa.children, [child_id](const ChildSa& x) { return x.id == child_id; });
  ctx.ChildSaRemoved(sa, copy);
}

}  // namespace inlinesec::ike
