// IkeSa and ChildSa: the state of one IKE SA (RFC 7296 §2) and the Child SAs
// it owns. Keys are SecureBytes and are wiped with the object. The
// TaskManager that drives the IKE SA's exchanges lives inside it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inlinesec/common/clock.h"
#include "inlinesec/ike/crypto/keys.h"
#include "inlinesec/ike/crypto/sk_crypter.h"
#include "inlinesec/ike/sa/config.h"
#include "inlinesec/ike/sa/proposal.h"
#include "inlinesec/ike/wire/codec.h"

namespace inlinesec::ike {

class TaskManager;

enum class ChildSaState : std::uint8_t { kInstalled, kRekeying, kRekeyed, kDeleting };

struct ChildSa {
  std::uint64_t id = 0;
  const ChildConfig* config = nullptr;  // owned by the connection
  ChildSaState state = ChildSaState::kInstalled;
  std::uint32_t spi_in = 0;
  std::uint32_t spi_out = 0;
  ChildAlgorithms alg;
  IpsecMode mode = IpsecMode::kTunnel;
  std::vector<TrafficSelector> local_ts;
  std::vector<TrafficSelector> remote_ts;
  TimePoint established;
  TimerId rekey_timer = kNoTimer;
  TimerId expire_timer = kNoTimer;
};

enum class IkeSaState : std::uint8_t {
  kConnecting,   // IKE_SA_INIT / IKE_AUTH in progress
  kEstablished,  // authenticated
  kRekeyed,      // replaced by a new IKE SA, waiting for its Delete
  kDeleting,     // Delete sent
  kDead,         // to be reaped
};

// Why an IKE SA went down (for observers).
enum class DownReason : std::uint8_t {
  kDeleted,      // peer or local Delete
  kPeerDead,     // retransmissions exhausted
  kAuthFailed,   // AUTHENTICATION_FAILED either way
  kNegotiation,  // NO_PROPOSAL_CHOSEN, INVALID_SYNTAX...
  kRekeyed,      // replaced by a rekeyed IKE SA
  kReplaced,     // INITIAL_CONTACT from the peer
  kExpired,      // hard lifetime
};

// One word per reason, for logs and events.
constexpr const char* DownReasonName(DownReason r) {
  switch (r) {
    case DownReason::kDeleted:
      return "deleted";
    case DownReason::kPeerDead:
      return "peer-dead";
    case DownReason::kAuthFailed:
      return "auth-failed";
    case DownReason::kNegotiation:
      return "negotiation-failed";
    case DownReason::kRekeyed:
      return "rekeyed";
    case DownReason::kReplaced:
      return "replaced-by-initial-contact";
    case DownReason::kExpired:
      return "expired";
  }
  return "unknown";
}

class IkeSa {
 public:
  IkeSa(std::uint64_t id, std::shared_ptr<const ConnectionConfig> config, bool original_initiator);
  ~IkeSa();
  IkeSa(const IkeSa&) = delete;
  IkeSa& operator=(const IkeSa&) = delete;

  std::uint64_t id() const { return id_; }
  const ConnectionConfig& config() const { return *config_; }
  std::shared_ptr<const ConnectionConfig> config_ptr() const { return config_; }
  bool original_initiator() const { return original_initiator_; }
  std::uint64_t local_spi() const { return original_initiator_ ? spi_i : spi_r; }
  std::uint64_t remote_spi() const { return original_initiator_ ? spi_r : spi_i; }

  ChildSa* FindChildByInbound(std::uint32_t spi);
  ChildSa* FindChildByOutbound(std::uint32_t spi);
  ChildSa* FindChild(std::uint64_t id);

  std::uint64_t spi_i = 0;
  std::uint64_t spi_r = 0;
  IkeSaState state = IkeSaState::kConnecting;
  Endpoint local;
  Endpoint remote;
  bool nat_here = false;   // we are behind a NAT (RFC 7296 §2.23)
  bool nat_there = false;  // the peer is behind a NAT
  bool peer_fragmentation = false;
  IkeAlgorithms alg;
  IkeKeys keys;
  std::optional<SkCrypter> crypter;
  Bytes nonce_i, nonce_r;
  Bytes init_request, init_response;  // for AUTH (RFC 7296 §2.15)
  Identity peer_id;
  std::vector<ChildSa> children;
  // RFC 7383 §2.6: requests and responses are reassembled separately.
  Reassembler reassembler_requests;
  Reassembler reassembler_responses;
  TimePoint established;
  TimePoint last_inbound;
  std::uint64_t messages_in = 0;  // authenticated messages accepted
  // Outer addresses of the datagram being processed; adopted once it
  // authenticates when a NAT is in the path (RFC 7296 §2.23).
  Endpoint rx_src, rx_dst;
  TimerId rekey_timer = kNoTimer;
  TimerId expire_timer = kNoTimer;
  TimerId dpd_timer = kNoTimer;
  TimerId keepalive_timer = kNoTimer;
  DownReason down_reason = DownReason::kDeleted;
  bool send_initial_contact = false;
  std::unique_ptr<TaskManager> tasks;

 private:
  std::uint64_t id_;
  std::shared_ptr<const ConnectionConfig> config_;
  bool original_initiator_;
};

}  // namespace inlinesec::ike
