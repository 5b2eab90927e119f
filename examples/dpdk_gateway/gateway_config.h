// The gateway's configuration: which DPDK ports face the protected (ESP) and
// unprotected (plain) networks, the static SAs (keys in SecureBytes), and the
// outbound selectors that send plain traffic into an SA. Read from JSON (the
// file is untrusted input: every field is type- and range-checked, errors
// name the field, keys are never echoed). Format in docs/dpdk.md.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/common/status.h"
#include "inlinesec/sdk/ip_address.h"
#include "inlinesec/sdk/sa_manager.h"

namespace inlinesec::dpdk_gateway {

struct SaConfig {
  std::string name;
  sdk::SaDirection direction = sdk::SaDirection::kOutbound;
  std::uint32_t spi = 0;
  sdk::AeadAlgo algo = sdk::AeadAlgo::kAesGcm256;
  SecureBytes key;
  std::array<std::uint8_t, 4> salt{};
  sdk::SaMode mode = sdk::SaMode::kTunnel;
  sdk::IpAddress tunnel_src;
  sdk::IpAddress tunnel_dst;
  bool esn = false;
  bool udp_encap = false;
  std::uint16_t udp_sport = 4500;
  std::uint16_t udp_dport = 4500;
  std::uint32_t replay_window = 0;
  std::uint64_t bytes_soft = 0;
  std::uint64_t bytes_hard = 0;
  std::uint64_t packets_soft = 0;
  std::uint64_t packets_hard = 0;
};

struct Prefix {
  sdk::IpAddress addr;
  std::uint8_t len = 0;
  bool Contains(bool v6, const std::uint8_t* ip) const;
};

// Outbound selector: plain packets from `src` to `dst` go into SA `sa`.
struct Policy {
  Prefix src;
  Prefix dst;
  std::string sa;
};

struct GatewayConfig {
  std::string protected_port;  // ethdev name, e.g. "net_tap0" or a ring port
  std::string unprotected_port;
  // Destination MACs written when forwarding (zero: keep the frame's).
  std::array<std::uint8_t, 6> protected_next_hop{};
  std::array<std::uint8_t, 6> unprotected_next_hop{};
  std::vector<SaConfig> sas;
  std::vector<Policy> policies;
  // Plain traffic without a matching policy (unprotected side), and non-ESP
  // traffic arriving on the protected side: forwarded if true, else dropped.
  bool bypass_unmatched = false;
};

[[nodiscard]] Result<GatewayConfig> ParseGatewayConfig(std::string_view json_text);
[[nodiscard]] Result<GatewayConfig> LoadGatewayConfig(const std::string& path);
[[nodiscard]] Result<Prefix> ParsePrefix(std::string_view text);

}  // namespace inlinesec::dpdk_gateway
