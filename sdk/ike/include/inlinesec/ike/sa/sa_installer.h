// SaInstaller: the seam between the IKE core and whatever programs Child SAs
// (the gateway implements it over the SA manager and driver; tests use a
// recording fake). The IKE core never includes driver headers. Inbound SPIs
// are allocated by the installer because the SDK's SPIs index the device SA
// table (DESIGN.md decision 2).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "inlinesec/common/clock.h"
#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/common/status.h"
#include "inlinesec/ike/sa/config.h"

namespace inlinesec::ike {

enum class Direction : std::uint8_t { kInbound, kOutbound };

struct ChildSaLifetime {
  Duration soft{0};  // the IKE core rekeys on its own timers; informative
  Duration hard{0};
  std::uint64_t soft_bytes = 0, hard_bytes = 0;  // 0: unlimited
  std::uint64_t soft_packets = 0, hard_packets = 0;
};

// One direction of a Child SA.
struct ChildSaSpec {
  std::uint64_t child_id = 0;  // the same for both directions of one Child SA
  std::uint64_t ike_sa_id = 0;
  std::uint32_t spi = 0;
  Direction direction = Direction::kInbound;
  std::uint16_t encr = 0;  // ENCR_AES_GCM_16 or ENCR_AES_CBC
  std::uint16_t encr_key_bits = 0;
  std::uint16_t integ = 0;  // AUTH_NONE for GCM
  SecureBytes encr_key;     // GCM: key | 4-byte salt (RFC 4106 §8.1)
  SecureBytes integ_key;
  IpsecMode mode = IpsecMode::kTunnel;
  bool esn = false;
  Endpoint local;          // outer source (outbound) / destination (inbound)
  Endpoint remote;         // outer peer address
  bool udp_encap = false;  // RFC 3948: ESP in UDP with local/remote ports
  std::vector<TrafficSelector> local_ts;
  std::vector<TrafficSelector> remote_ts;
  ChildSaLifetime lifetime;
};

struct ChildSaUsage {
  std::uint64_t bytes = 0;
  std::uint64_t packets = 0;
  std::optional<TimePoint> last_used;
};

class SaInstaller {
 public:
  virtual ~SaInstaller() = default;
  // A fresh inbound SPI (never 0-255) for a Child SA with `peer`.
  [[nodiscard]] virtual Result<std::uint32_t> AllocateSpi(const Endpoint& peer) = 0;
  // Returns an allocated SPI that was never installed.
  virtual void ReleaseSpi(std::uint32_t spi) = 0;
  [[nodiscard]] virtual Status Install(const ChildSaSpec& spec) = 0;
  [[nodiscard]] virtual Status Remove(std::uint32_t spi, Direction dir, const Endpoint& peer) = 0;
  [[nodiscard]] virtual Result<ChildSaUsage> Query(std::uint32_t spi, Direction dir,
                                                   const Endpoint& peer) = 0;
};

}  // namespace inlinesec::ike
