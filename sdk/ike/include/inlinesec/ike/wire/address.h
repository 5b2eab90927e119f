// IP addresses and UDP endpoints as IKE sees them: the outer addresses of
// IKE datagrams (NAT detection, cookies, peer lookup) and the address ranges
// of traffic selectors. Values only; no sockets.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace inlinesec::ike {

class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress V4(std::array<std::uint8_t, 4> b);
  static IpAddress V6(std::array<std::uint8_t, 16> b);
  // "192.0.2.1" or "2001:db8::1"; nullopt if neither.
  static std::optional<IpAddress> Parse(std::string_view text);
  // 4 or 16 bytes; nullopt for other lengths.
  static std::optional<IpAddress> FromBytes(std::span<const std::uint8_t> b);
  // The lowest / highest address of a family.
  static IpAddress Zero(bool v6);
  static IpAddress Max(bool v6);

  bool v6() const { return v6_; }
  std::span<const std::uint8_t> bytes() const { return {b_.data(), v6_ ? 16u : 4u}; }
  std::string ToString() const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  bool v6_ = false;
  std::array<std::uint8_t, 16> b_{};
};

struct Endpoint {
  IpAddress addr;
  std::uint16_t port = 0;
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
  std::string ToString() const;
};

// RFC 7296 §3.13.1: one traffic selector (address range, port range,
// IP protocol; 0 = any).
struct TrafficSelector {
  std::uint8_t ip_protocol = 0;
  std::uint16_t start_port = 0;
  std::uint16_t end_port = 0xffff;
  IpAddress start;
  IpAddress end;
  bool v6() const { return start.v6(); }
  friend bool operator==(const TrafficSelector&, const TrafficSelector&) = default;
  // "10.0.0.0/24", "10.0.0.1-10.0.0.9", optionally "[proto/port]" e.g.
  // "10.0.0.0/24[6/443]" or "0.0.0.0/0". nullopt on bad syntax.
  static std::optional<TrafficSelector> Parse(std::string_view text);
  std::string ToString() const;
};

// RFC 7296 §2.9: the intersection of two selectors, if non-empty.
std::optional<TrafficSelector> Intersect(const TrafficSelector& a, const TrafficSelector& b);

}  // namespace inlinesec::ike
