// IpAddress: an outer IPv4 or IPv6 address as the SDK hands it around, in
// network byte order inside the ABI's 16-byte layout (IPv4 uses bytes 0..3,
// the rest zero).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "inlinesec/abi/le.h"
#include "inlinesec/common/status.h"

namespace inlinesec::sdk {

struct IpAddress {
  bool v6 = false;
  abi::IpAddr bytes{};

  static IpAddress V4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddress ip;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
  }
  static IpAddress V6(const abi::IpAddr& b) {
    IpAddress ip;
    ip.v6 = true;
    ip.bytes = b;
    return ip;
  }
  // "192.0.2.1" or "2001:db8::1".
  [[nodiscard]] static Result<IpAddress> Parse(std::string_view text);
  std::string ToString() const;
  bool IsZero() const { return abi::AllZero(bytes); }
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

}  // namespace inlinesec::sdk
