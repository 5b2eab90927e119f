// Gateway configuration: what inlinesecd reads at start. The file is JSON
// (docs/gateway.md has the format and an example); parsing is strict: a
// syntax error names the line and column, a bad or unknown key names its
// path ("connections[1].manual.key_in"), and nothing is half-applied. Keys
// of manually keyed SAs are read into SecureBytes and never echoed in
// errors. Inner (plaintext) traffic is IPv4; outer addresses are IPv4.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inlinesec/common/clock.h"
#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/common/status.h"
#include "inlinesec/recovery/recovery_engine.h"
#include "inlinesec/sdk/ip_address.h"
#include "inlinesec/sdk/sa_manager.h"

namespace inlinesec::gateway {

// An IPv4 prefix ("10.0.2.0/24"), address in host byte order.
struct Ipv4Prefix {
  std::uint32_t addr = 0;
  std::uint8_t len = 0;
  bool Contains(std::uint32_t a) const {
    const std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
    return (a & mask) == (addr & mask);
  }
  std::string ToString() const;
};
[[nodiscard]] Result<Ipv4Prefix> ParseIpv4Prefix(std::string_view text);

enum class Encap : std::uint8_t { kUdp, kEsp };  // ESP in UDP 4500, or IP protocol 50

// A pair of manually keyed SAs (no IKE): both ends configure the same SPIs
// and keys crosswise. Keys are key|salt as RFC 4106 §8.1 lays out KEYMAT.
struct ManualKeys {
  sdk::AeadAlgo algo = sdk::AeadAlgo::kAesGcm256;
  std::uint32_t spi_in = 0;  // >= 256; indexes our SA table (SPI mod capacity)
  std::uint32_t spi_out = 0;
  SecureBytes key_in;
  SecureBytes key_out;
  std::uint32_t replay_window = 128;
  bool esn = false;
};

struct ConnectionConfig {
  std::string name;
  sdk::IpAddress peer;
  std::uint16_t peer_port = 4500;
  bool static_peer = false;  // DESIGN decision 5, step 3
  std::vector<Ipv4Prefix> local_ts;
  std::vector<Ipv4Prefix> remote_ts;
  Encap encap = Encap::kUdp;
  std::optional<ManualKeys> manual;  // absent: Child SAs come from IKE
  // IKE-keyed connections (no `manual`): start IKE at daemon start. The IKE
  // connection of the same name in `ike_config` says how.
  bool initiate = false;
};

struct TunConfig {
  std::string name = "isec0";
  std::optional<Ipv4Prefix> address;  // given to the TUN device if set
  std::uint32_t mtu = 1400;
};

struct GatewayConfig {
  std::string device = "model:";
  std::string control_socket = "/run/inlinesec/inlinesecd.sock";
  bool allow_faults = false;  // control "fault" command (bring-up and tests)
  sdk::IpAddress local_address;
  std::uint16_t udp_port = 4500;
  bool raw_esp = false;  // also open a protocol-50 socket
  TunConfig tun;
  // The IKE connection file (docs/ike.md); empty: no IKE, manual keys only.
  std::string ike_config;
  std::uint16_t ike_port = 500;  // IKE's own port, opened with ike_config
  std::vector<ConnectionConfig> connections;
  recovery::RecoveryPolicy recovery;
  // How often the epoch is checked (reset behind our back -> resync) and
  // the exception ring is polled if the transport has no interrupt fd.
  Duration housekeeping_interval = std::chrono::milliseconds(100);
  Duration sequence_refresh_interval = std::chrono::seconds(1);
  // On-demand liveness (recovery::TrafficWatch): an IKE Child SA whose
  // outbound packets keep flowing while nothing came in for this long gets
  // a DPD before the periodic one would.
  Duration liveness_stall = std::chrono::seconds(1);
};

[[nodiscard]] Result<GatewayConfig> ParseConfig(std::string_view text);
[[nodiscard]] Result<GatewayConfig> LoadConfigFile(const std::string& path);

}  // namespace inlinesec::gateway
