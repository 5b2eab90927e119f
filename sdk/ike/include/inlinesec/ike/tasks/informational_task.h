// InformationalTask: the INFORMATIONAL exchange (RFC 7296 §1.4): Delete of
// Child SAs (§1.4.1) and of the IKE SA, error/status notifies such as
// INVALID_SPI (§1.5, §2.21), and the empty liveness check / DPD (§2.4).
#pragma once

#include <vector>

#include "inlinesec/ike/tasks/task.h"

namespace inlinesec::ike {

enum class InfoKind : std::uint8_t { kDpd, kDeleteChildren, kDeleteIke, kInvalidSpi };

class InformationalTask final : public Task {
 public:
  // Initiator. `spis`: our inbound SPIs to delete, or the SPI to report in
  // INVALID_SPI.
  InformationalTask(IkeSa& sa, IkeContext& ctx, InfoKind kind, std::vector<std::uint32_t> spis);
  // Responder.
  InformationalTask(IkeSa& sa, IkeContext& ctx);
  ExchangeType exchange() const override { return ExchangeType::kInformational; }
  Step Build(Message& out) override;
  Step Process(const Message& in) override;
  InfoKind kind() const { return kind_; }

 private:
  IkeSa& sa_;
  IkeContext& ctx_;
  InfoKind kind_ = InfoKind::kDpd;
  std::vector<std::uint32_t> spis_;
  // Responder: what to answer.
  std::vector<std::uint32_t> deleted_in_;
  bool delete_ike_ = false;
};

}  // namespace inlinesec::ike
