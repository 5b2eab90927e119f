// Proposal selection (RFC 7296 §2.7, §3.3.6) and the algorithms a selected
// proposal stands for.
#pragma once

#include <optional>
#include <vector>

#include "inlinesec/ike/crypto/sk_crypter.h"
#include "inlinesec/ike/wire/payloads.h"

namespace inlinesec::ike {

// Picks one transform of each type from the first of `local` (our
// preference order) that any `offered` proposal of the same protocol can
// satisfy; the result carries the offered proposal's number and SPI.
// Transforms with unknown attributes are never chosen.
std::optional<Proposal> SelectProposal(const std::vector<Proposal>& offered,
                                       const std::vector<Proposal>& local);

// Whether a responder's single proposal is one we offered (initiator side).
bool ProposalAcceptable(const Proposal& answer, const std::vector<Proposal>& offered);

// The first transform of `type`, if any.
std::optional<Transform> FindTransform(const Proposal& p, TransformType type);

IkeAlgorithms IkeAlgorithmsOf(const Proposal& p);

// ESP transforms of a selected Child SA proposal.
struct ChildAlgorithms {
  std::uint16_t encr = 0;
  std::uint16_t encr_key_bits = 0;
  std::uint16_t integ = 0;
  std::uint16_t dh = 0;  // PFS group, 0 = none
  bool esn = false;
  friend bool operator==(const ChildAlgorithms&, const ChildAlgorithms&) = default;
};
ChildAlgorithms ChildAlgorithmsOf(const Proposal& p);

}  // namespace inlinesec::ike
