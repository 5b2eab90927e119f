// IkeSaInitTask: the IKE_SA_INIT exchange (RFC 7296 §1.2, §2.6 cookies,
// §2.7 proposal selection, §1.2/§2.12 INVALID_KE_PAYLOAD retry, §2.23 NAT
// detection, RFC 7383 §2.3 fragmentation support), both roles.
#pragma once

#include <optional>

#include "inlinesec/ike/crypto/dh.h"
#include "inlinesec/ike/tasks/task.h"

namespace inlinesec::ike {

class IkeSaInitTask final : public Task {
 public:
  IkeSaInitTask(Role role, IkeSa& sa, IkeContext& ctx);
  ExchangeType exchange() const override { return ExchangeType::kIkeSaInit; }
  Step Build(Message& out) override;
  Step Process(const Message& in) override;

 private:
  Step ProcessResponse(const Message& in);
  Step ProcessRequest(const Message& in);
  void AddNatDetection(Message& out) const;
  void CheckNatDetection(const Message& in);
  Step DeriveKeys(std::span<const std::uint8_t> peer_ke);

  IkeSa& sa_;
  IkeContext& ctx_;
  std::optional<DhKeyExchange> dh_;
  std::uint16_t group_ = 0;
  Bytes cookie_;
  int retries_ = 0;
  // Responder: the answer to build.
  std::optional<Proposal> selected_;
  std::uint16_t error_notify_ = 0;
  Bytes error_data_;
};

}  // namespace inlinesec::ike
