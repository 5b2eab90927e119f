// IkeAuthTask: the IKE_AUTH exchange (RFC 7296 §1.2, §2.15 shared-key
// authentication) with the first Child SA (§1.3 payloads, §2.9 traffic
// selector narrowing, §1.3.1 USE_TRANSPORT_MODE, §2.4 INITIAL_CONTACT).
#pragma once

#include <optional>

#include "inlinesec/ike/tasks/child_util.h"
#include "inlinesec/ike/tasks/task.h"

namespace inlinesec::ike {

class IkeAuthTask final : public Task {
 public:
  IkeAuthTask(Role role, IkeSa& sa, IkeContext& ctx);
  ~IkeAuthTask() override;
  ExchangeType exchange() const override { return ExchangeType::kIkeAuth; }
  Step Build(Message& out) override;
  Step Process(const Message& in) override;

 private:
  Result<SecureBytes> ComputeAuth(bool for_initiator, const IdPayload& id) const;
  IdPayload LocalId() const;

  IkeSa& sa_;
  IkeContext& ctx_;
  ChildNegotiation child_;
  // Responder: outcome to report.
  bool auth_failed_ = false;
  std::uint16_t child_error_ = 0;
  bool child_ok_ = false;
};

}  // namespace inlinesec::ike
