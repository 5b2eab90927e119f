// InformationalTask: the INFORMATIONAL exchange (RFC 7296 §1.4): Delete of
// Child SAs (§1.4.1) and of the IKE SA, error/status notifies such as
// INVALID_SPI (§1.5, §2.21), and the empty liveness check / DPD (§2.4).
#pragma once

#include <vector>

#include "inlinesec/ike/tasks/task.h"

namespace inlinesec::ike {

// kInvalidSpiDelete: INVALID_SPI plus a Delete (ESP) for an SPI that was
// ours, whether or not a Child SA still holds it (DESIGN decision 5, 2).
enum class InfoKind : std::uint8_t {
  kDpd,
  kDeleteChildren,
  kDeleteIke,
  kInvalidSpi,
  kInvalidSpiDelete
};

// RFC 7296 §1.5, §3.10: an INVALID_SPI notify names no existing SA of ours,
// so its SPI field is empty and its Protocol ID zero; the offending SPI is
// the notification data.
void AddInvalidSpiNotify(Message& m, std::uint32_t spi);

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
