// INFORMATIONAL (RFC 7296 §1.4): Delete of Child SAs (§1.4.1, answered
// with the matching inbound SPIs) and of the IKE SA, INVALID_SPI (§1.5,
// §3.10.1), and the empty request used as liveness check / DPD (§2.4).
#include "inlinesec/ike/tasks/informational_task.h"

#include "inlinesec/common/byte_reader.h"
#include "inlinesec/ike/tasks/child_util.h"

namespace inlinesec::ike {

void AddInvalidSpiNotify(Message& m, std::uint32_t spi) {
  Bytes data(4);
  StoreBe32(data.data(), spi);
  m.AddNotify(NotifyType::kInvalidSpi, std::move(data), ProtocolId::kNone);
}

InformationalTask::InformationalTask(IkeSa& sa, IkeContext& ctx, InfoKind kind,
                                     std::vector<std::uint32_t> spis)
    : Task(Role::kInitiator), sa_(sa), ctx_(ctx), kind_(kind), spis_(std::move(spis)) {}

InformationalTask::InformationalTask(IkeSa& sa, IkeContext& ctx)
    : Task(Role::kResponder), sa_(sa), ctx_(ctx) {}

Step InformationalTask::Build(Message& out) {
  out.header.exchange = ExchangeType::kInformational;
  if (role() == Role::kResponder) {
    out.header.response = true;
    if (!deleted_in_.empty())
      out.Add(PayloadType::kDelete, DeletePayload{ProtocolId::kEsp, deleted_in_});
    return delete_ike_ ? Step::kDeleteSa : Step::kDone;
  }
  switch (kind_) {
    case InfoKind::kDpd:
      break;
    case InfoKind::kDeleteChildren: {
      std::vector<std::uint32_t> live;
      for (std::uint32_t spi : spis_)
        if (ChildSa* c = sa_.FindChildByInbound(spi)) {
          c->state = ChildSaState::kDeleting;
          live.push_back(spi);
        }
      if (live.empty()) return Step::kDone;  // already gone
      spis_ = live;
      out.Add(PayloadType::kDelete, DeletePayload{ProtocolId::kEsp, spis_});
      break;
    }
    case InfoKind::kDeleteIke:
      if (sa_.state == IkeSaState::kEstablished) sa_.state = IkeSaState::kDeleting;
      out.Add(PayloadType::kDelete, DeletePayload{ProtocolId::kIke, {}});
      break;
    case InfoKind::kInvalidSpi:
      AddInvalidSpiNotify(out, spis_.empty() ? 0 : spis_[0]);
      break;
    case InfoKind::kInvalidSpiDelete:
      // §1.4.1: a Delete lists SPIs as the sender expects them inbound, so
      // the peer removes its outbound SA with this SPI.
      AddInvalidSpiNotify(out, spis_.empty() ? 0 : spis_[0]);
      if (!spis_.empty())
        out.Add(PayloadType::kDelete, DeletePayload{ProtocolId::kEsp, {spis_[0]}});
      break;
  }
  return Step::kNeedMore;
}

Step InformationalTask::Process(const Message& in) {
  if (role() == Role::kInitiator) {
    if (kind_ == InfoKind::kDeleteChildren || kind_ == InfoKind::kInvalidSpiDelete) {
      for (std::uint32_t spi : spis_)
        if (ChildSa* c = sa_.FindChildByInbound(spi)) RemoveChild(ctx_, sa_, c->id);
    }
    if (kind_ == InfoKind::kDeleteIke) {
      sa_.down_reason = DownReason::kDeleted;
      return Step::kDeleteSa;
    }
    return Step::kDone;
  }
  for (const auto& p : in.payloads) {
    if (const auto* d = std::get_if<DeletePayload>(&p.body); d && p.type == PayloadType::kDelete) {
      if (d->protocol == ProtocolId::kIke) {
        delete_ike_ = true;
        continue;
      }
      for (std::uint32_t spi : d->spis) {
        ChildSa* c = sa_.FindChildByOutbound(spi);
        if (c == nullptr) continue;
        // §1.4.1: answer with our inbound SPI unless we are deleting it too.
        if (c->state != ChildSaState::kDeleting) deleted_in_.push_back(c->spi_in);
        RemoveChild(ctx_, sa_, c->id);
      }
    }
  }
  for (const auto* n : in.Notifies()) {
    if (n->type != static_cast<std::uint16_t>(NotifyType::kInvalidSpi)) continue;
    std::uint32_t spi = 0;
    if (n->data.size() == 4)
      spi = LoadBe32(n->data.data());
    else if (n->spi.size() == 4)
      spi = LoadBe32(n->spi.data());
    if (spi != 0) ctx_.InvalidSpiReceived(sa_, spi);
  }
  if (delete_ike_) {
    sa_.down_reason = DownReason::kDeleted;
    return Step::kDeleteSa;
  }
  return Step::kDone;
}

}  // namespace inlinesec::ike
