// CreateChildSaTask: the CREATE_CHILD_SA exchange (RFC 7296 §1.3): a new
// Child SA (§1.3.1), a Child SA rekey with REKEY_SA (§1.3.3, §2.8) and an
// IKE SA rekey (§1.3.2, §2.18), with optional PFS. Rekey collisions are
// resolved by the lowest-nonce rule of §2.8.1 / §2.8.2.
#pragma once

#include <optional>

#include "inlinesec/ike/crypto/dh.h"
#include "inlinesec/ike/tasks/child_util.h"
#include "inlinesec/ike/tasks/task.h"

namespace inlinesec::ike {

enum class CreateChildKind : std::uint8_t { kNewChild, kRekeyChild, kRekeyIke };

class CreateChildSaTask final : public Task {
 public:
  // Initiator: `kind` and, for kNewChild, the child config; for
  // kRekeyChild, the Child SA id.
  CreateChildSaTask(IkeSa& sa, IkeContext& ctx, CreateChildKind kind, const ChildConfig* config,
                    std::uint64_t child_id);
  // Responder.
  CreateChildSaTask(IkeSa& sa, IkeContext& ctx);
  ~CreateChildSaTask() override;

  ExchangeType exchange() const override { return ExchangeType::kCreateChildSa; }
  Step Build(Message& out) override;
  Step Process(const Message& in) override;
  std::uint64_t rekeying_child() const override {
    return kind_ == CreateChildKind::kRekeyChild ? old_child_ : 0;
  }
  bool rekeying_ike() const override { return kind_ == CreateChildKind::kRekeyIke; }
  void NoteCollision(const Bytes& peer_ni, const Bytes& our_nr,
                     std::uint64_t their_new_sa) override;

 private:
  Step ProcessResponse(const Message& in);
  Step ProcessRequest(const Message& in);
  Step ProcessIkeRekeyRequest(const Message& in);
  Step FinishIkeRekey(const Proposal& chosen, std::span<const std::uint8_t> peer_ke,
                      std::uint64_t peer_spi, bool we_initiated);
  bool LostCollision(const Bytes& our_ni, const Bytes& peer_nr) const;

  IkeSa& sa_;
  IkeContext& ctx_;
  CreateChildKind kind_ = CreateChildKind::kNewChild;
  std::uint64_t old_child_ = 0;
  ChildNegotiation child_;
  Bytes nonce_;  // ours
  Bytes peer_nonce_;
  std::optional<DhKeyExchange> ike_dh_;
  std::uint64_t new_ike_spi_ = 0;
  std::uint16_t error_ = 0;
  Bytes error_data_;
  // Collision (initiator side).
  bool collided_ = false;
  Bytes collision_peer_ni_, collision_our_nr_;
  std::uint64_t collision_sa_ = 0;
  // IKE rekey result kept until Build (responder) / used by collisions.
  std::optional<Proposal> ike_chosen_;
};

}  // namespace inlinesec::ike
