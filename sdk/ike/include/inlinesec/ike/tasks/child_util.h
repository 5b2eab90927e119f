// Helpers shared by IkeAuthTask and CreateChildSaTask to negotiate and
// install a Child SA: the SA/TS payloads of a request, responder-side
// selection and traffic selector narrowing (RFC 7296 §2.9), keymat split
// (§2.17) and installation through the SaInstaller.
#pragma once

#include <optional>
#include <vector>

#include "inlinesec/ike/crypto/dh.h"
#include "inlinesec/ike/tasks/task.h"

namespace inlinesec::ike {

// One Child SA negotiation in progress, from our side.
struct ChildNegotiation {
  const ChildConfig* config = nullptr;
  std::uint32_t spi_in = 0;  // allocated, released unless installed
  bool spi_owned = false;
  std::optional<Proposal> selected;
  std::vector<TrafficSelector> tsi, tsr;  // initiator's / responder's side
  IpsecMode mode = IpsecMode::kTunnel;
  std::optional<DhKeyExchange> dh;  // PFS
  std::uint64_t child_id = 0;       // set once installed
};

// Allocates our inbound SPI; false if the installer refused.
bool AllocateChildSpi(IkeContext& ctx, IkeSa& sa, ChildNegotiation& n);
void ReleaseChildSpi(IkeContext& ctx, ChildNegotiation& n);

// The ESP SA payload we propose, with our SPI in every proposal. IKE_AUTH
// carries no DH transforms (RFC 7296 §1.2), CREATE_CHILD_SA keeps them (PFS).
SaPayload ChildSaPayload(const ChildConfig& cfg, std::uint32_t spi, bool with_dh);
// The PFS group of a child config (first DH transform), 0 if none.
std::uint16_t ChildPfsGroup(const ChildConfig& cfg);

// RFC 7296 §2.9: every offered selector intersected with every local one.
std::vector<TrafficSelector> Narrow(const std::vector<TrafficSelector>& offered,
                                    const std::vector<TrafficSelector>& local);

// Responder: from the request's SA/TSi/TSr/USE_TRANSPORT_MODE, choose what
// to accept. Returns 0 or the error notify (NO_PROPOSAL_CHOSEN,
// TS_UNACCEPTABLE).
std::uint16_t SelectChild(const ChildConfig& cfg, const Message& request, bool with_dh,
                          ChildNegotiation& n);

// Adds SA, TSi, TSr (and USE_TRANSPORT_MODE) for the response.
void AddChildResponse(const ChildNegotiation& n, Message& out);

// Initiator: reads the response's SA/TS and checks them against what we
// offered. Returns 0 or a reason notify.
std::uint16_t AcceptChildResponse(const ChildConfig& cfg, const Message& response, bool with_dh,
                                  ChildNegotiation& n);

// Derives keymat and installs both directions. `exchange_initiator` says
// whether we initiated the exchange that created this SA; `shared` is g^ir
// (PFS) or empty; `peer_spi` the SPI from the peer's proposal.
[[nodiscard]] Status InstallChild(IkeContext& ctx, IkeSa& sa, ChildNegotiation& n,
                                  bool exchange_initiator, std::span<const std::uint8_t> shared,
                                  std::span<const std::uint8_t> ni,
                                  std::span<const std::uint8_t> nr, std::uint64_t replaced_id);

// Removes both directions of a Child SA from the installer and from `sa`.
void RemoveChild(IkeContext& ctx, IkeSa& sa, std::uint64_t child_id);

}  // namespace inlinesec::ike
