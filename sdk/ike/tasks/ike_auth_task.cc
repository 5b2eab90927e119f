// IKE_AUTH (RFC 7296 §1.2) with shared-key authentication (§2.15) and the
// first Child SA (§1.3 payloads, §2.9 narrowing, §1.3.1 transport mode),
// INITIAL_CONTACT (§2.4). Room for signatures: ComputeAuth is the one place
// that knows the AUTH method.
#include "inlinesec/ike/tasks/ike_auth_task.h"

#include "inlinesec/ike/crypto/keys.h"

namespace inlinesec::ike {

IkeAuthTask::IkeAuthTask(Role role, IkeSa& sa, IkeContext& ctx) : Task(role), sa_(sa), ctx_(ctx) {}

IkeAuthTask::~IkeAuthTask() { ReleaseChildSpi(ctx_, child_); }

IdPayload IkeAuthTask::LocalId() const {
  return IdPayload{sa_.config().local_id.type, sa_.config().local_id.data};
}

Result<SecureBytes> IkeAuthTask::ComputeAuth(bool for_initiator, const IdPayload& id) const {
  const Bytes body = EncodeBody(id);
  Result<SecureBytes> octets =
      for_initiator
          ? SignedOctets(sa_.alg.prf, sa_.init_request, sa_.nonce_r, sa_.keys.sk_pi.span(), body)
          : SignedOctets(sa_.alg.prf, sa_.init_response, sa_.nonce_i, sa_.keys.sk_pr.span(), body);
  if (!octets.ok()) return octets.status();
  return PskAuth(sa_.alg.prf, sa_.config().psk.span(), octets->span());
}

Step IkeAuthTask::Build(Message& out) {
  out.header.exchange = ExchangeType::kIkeAuth;
  const IdPayload id = LocalId();
  if (role() == Role::kInitiator) {
    out.Add(PayloadType::kIdi, id);
    if (!sa_.config().remote_id.empty())
      out.Add(PayloadType::kIdr,
              IdPayload{sa_.config().remote_id.type, sa_.config().remote_id.data});
    Result<SecureBytes> auth = ComputeAuth(true, id);
    if (!auth.ok()) return Step::kDeleteSa;
    out.Add(PayloadType::kAuth,
            AuthPayload{kAuthSharedKeyMic, Bytes(auth->span().begin(), auth->span().end())});
    if (sa_.send_initial_contact) out.AddNotify(NotifyType::kInitialContact);
    if (!sa_.config().children.empty()) {
      const ChildConfig& cfg = sa_.config().children.front();
      child_.config = &cfg;
      if (!child_.spi_owned && !AllocateChildSpi(ctx_, sa_, child_)) {
        child_.config = nullptr;
      } else {
        if (cfg.mode == IpsecMode::kTransport) out.AddNotify(NotifyType::kUseTransportMode);
        out.Add(PayloadType::kSa, ChildSaPayload(cfg, child_.spi_in, false));
        out.Add(PayloadType::kTsi, TsPayload{cfg.local_ts});
        out.Add(PayloadType::kTsr, TsPayload{cfg.remote_ts});
      }
    }
    return Step::kNeedMore;
  }
  out.header.response = true;
  if (auth_failed_) {
    out.AddNotify(NotifyType::kAuthenticationFailed);
    return Step::kDeleteSa;
  }
  out.Add(PayloadType::kIdr, id);
  Result<SecureBytes> auth = ComputeAuth(false, id);
  if (!auth.ok()) return Step::kDeleteSa;
  out.Add(PayloadType::kAuth,
          AuthPayload{kAuthSharedKeyMic, Bytes(auth->span().begin(), auth->span().end())});
  if (child_ok_) {
    AddChildResponse(child_, out);
    out.Add(PayloadType::kTsi, TsPayload{child_.tsi});
    out.Add(PayloadType::kTsr, TsPayload{child_.tsr});
  } else if (child_error_ != 0) {
    out.AddNotify(static_cast<NotifyType>(child_error_));
  }
  return Step::kDone;
}

Step IkeAuthTask::Process(const Message& in) {
  if (role() == Role::kInitiator) {
    const auto* idr = in.Find<IdPayload>(PayloadType::kIdr);
    const auto* auth = in.Find<AuthPayload>(PayloadType::kAuth);
    sa_.down_reason = DownReason::kAuthFailed;
    if (idr == nullptr || auth == nullptr || auth->method != kAuthSharedKeyMic)
      return Step::kDeleteSa;
    const Identity peer{idr->type, idr->data};
    if (!sa_.config().remote_id.empty() && !(peer == sa_.config().remote_id))
      return Step::kDeleteSa;
    Result<SecureBytes> expect = ComputeAuth(false, *idr);
    if (!expect.ok() || !expect->Equals(auth->data)) return Step::kDeleteSa;
    sa_.peer_id = peer;
    ctx_.IkeSaEstablished(sa_);
    if (child_.config != nullptr) {
      std::uint16_t err = in.FirstError() != nullptr ? in.FirstError()->type : 0;
      if (err == 0) err = AcceptChildResponse(*child_.config, in, false, child_);
      if (err == 0 && !InstallChild(ctx_, sa_, child_, true, {}, sa_.nonce_i, sa_.nonce_r, 0).ok())
        err = static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
      if (err != 0) ReleaseChildSpi(ctx_, child_);
    }
    return Step::kDone;
  }
  // Responder.
  const auto* idi = in.Find<IdPayload>(PayloadType::kIdi);
  const auto* auth = in.Find<AuthPayload>(PayloadType::kAuth);
  const Identity peer{idi->type, idi->data};
  if (!sa_.config().remote_id.empty() && !(peer == sa_.config().remote_id)) auth_failed_ = true;
  if (auth->method != kAuthSharedKeyMic) auth_failed_ = true;
  if (!auth_failed_) {
    Result<SecureBytes> expect = ComputeAuth(true, *idi);
    auth_failed_ = !expect.ok() || !expect->Equals(auth->data);
  }
  if (auth_failed_) {
    sa_.down_reason = DownReason::kAuthFailed;
    return Step::kDeleteSa;
  }
  sa_.peer_id = peer;
  ctx_.IkeSaEstablished(sa_);
  if (in.FindNotify(NotifyType::kInitialContact) != nullptr) ctx_.InitialContact(sa_);
  if (in.Find<SaPayload>(PayloadType::kSa) != nullptr) {
    if (sa_.config().children.empty()) {
      child_error_ = static_cast<std::uint16_t>(NotifyType::kTsUnacceptable);
    } else {
      child_error_ = SelectChild(sa_.config().children.front(), in, false, child_);
      if (child_error_ == 0 && !AllocateChildSpi(ctx_, sa_, child_))
        child_error_ = static_cast<std::uint16_t>(NotifyType::kNoAdditionalSas);
      if (child_error_ == 0) {
        if (InstallChild(ctx_, sa_, child_, false, {}, sa_.nonce_i, sa_.nonce_r, 0).ok())
          child_ok_ = true;
        else
          child_error_ = static_cast<std::uint16_t>(NotifyType::kNoProposalChosen);
      }
    }
  }
  return Step::kDone;
}

}  // namespace inlinesec::ike
