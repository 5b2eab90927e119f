// Connection configuration as the IKE core consumes it: endpoints, IDs, the
// pre-shared key, IKE and ESP proposals, traffic selectors, lifetimes and
// rekey margins, DPD, retransmission and fragmentation settings. The text
// form (docs/ike.md) is parsed by stack/config.cc; proposals use
// strongSwan-style strings ("aes256gcm16-prfsha256-x25519").
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inlinesec/common/clock.h"
#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/common/status.h"
#include "inlinesec/ike/wire/payloads.h"

namespace inlinesec::ike {

// RFC 7296 §3.5: an identity (ID payload type and data).
struct Identity {
  IdType type = IdType::kFqdn;
  Bytes data;
  // "192.0.2.1" -> ID_IPV4_ADDR, "2001:db8::1" -> ID_IPV6_ADDR,
  // "user@example.org" -> ID_RFC822_ADDR, anything else -> ID_FQDN.
  static Identity Parse(std::string_view text);
  std::string ToString() const;
  bool empty() const { return data.empty(); }
  friend bool operator==(const Identity&, const Identity&) = default;
};

// RFC 7296 §2.1: retransmission schedule.
struct RetransmitPolicy {
  Duration initial = std::chrono::seconds(4);
  double base = 1.8;
  int tries = 5;  // retransmissions before the peer is declared dead
  Duration max_delay = std::chrono::minutes(10);
};
// The delay before retransmission `attempt` (0 = after the first send):
// min(initial * base^attempt, max_delay). Pure.
Duration RetransmitDelay(const RetransmitPolicy& p, int attempt);

enum class IpsecMode : std::uint8_t { kTunnel, kTransport };

struct ChildConfig {
  std::string name;
  std::vector<TrafficSelector> local_ts;
  std::vector<TrafficSelector> remote_ts;
  std::vector<Proposal> esp_proposals;  // a DH transform here means PFS
  IpsecMode mode = IpsecMode::kTunnel;
  Duration lifetime = std::chrono::hours(1);
  Duration rekey_margin = std::chrono::minutes(9);
  // Rekey up to this much earlier, at random, so that peers with equal
  // lifetimes rarely collide (strongSwan's rand_time). 0: exact.
  Duration rekey_jitter{0};
  std::uint64_t life_bytes = 0;    // 0: unlimited (hard); soft = 90%
  std::uint64_t life_packets = 0;  // 0: unlimited
};

struct ConnectionConfig {
  std::string name;
  Endpoint local;
  Endpoint remote;
  bool remote_any = false;  // responder accepts any peer address
  Identity local_id;
  Identity remote_id;  // empty: accept any (PSK still has to match)
  SecureBytes psk;
  std::vector<Proposal> ike_proposals;
  std::vector<ChildConfig> children;  // the first is created in IKE_AUTH
  Duration ike_lifetime = std::chrono::hours(4);
  Duration ike_rekey_margin = std::chrono::minutes(10);
  Duration ike_rekey_jitter{0};                      // as ChildConfig::rekey_jitter
  Duration dpd_interval = std::chrono::seconds(30);  // 0: off
  // RFC 3948 §2.3: one-octet 0xFF keepalives while we are behind a NAT.
  Duration nat_keepalive = std::chrono::seconds(20);  // 0: off
  bool static_peer = false;   // re-initiate (with INITIAL_CONTACT) when lost
  bool fragmentation = true;  // RFC 7383
  std::size_t fragment_size = 1280;
  RetransmitPolicy retransmit;
  bool send_initial_contact = true;
};

// strongSwan-style proposal strings; `protocol` selects IKE or ESP rules.
// IKE: encryption, [integrity], [prf], dh, e.g. "aes128-sha256-modp2048",
// "aes256gcm16-prfsha384-ecp256". ESP: encryption, [integrity], [dh for
// PFS], [esn|noesn], e.g. "aes128gcm16-esn", "aes256-sha256-x25519".
[[nodiscard]] Result<Proposal> ParseProposal(std::string_view text, ProtocolId protocol);
std::string ProposalToString(const Proposal& p);

}  // namespace inlinesec::ike
