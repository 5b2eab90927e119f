// IpAddress, Endpoint and TrafficSelector text forms and selector
// intersection (RFC 7296 §2.9 narrowing works on these).
#include "inlinesec/ike/wire/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace inlinesec::ike {

IpAddress IpAddress::V4(std::array<std::uint8_t, 4> b) {
  IpAddress a;
  std::copy(b.begin(), b.end(), a.b_.begin());
  return a;
}

IpAddress IpAddress::V6(std::array<std::uint8_t, 16> b) {
  IpAddress a;
  a.v6_ = true;
  a.b_ = b;
  return a;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string s(text);
  std::array<std::uint8_t, 16> buf{};
  if (inet_pton(AF_INET, s.c_str(), buf.data()) == 1) return V4({buf[0], buf[1], buf[2], buf[3]});
  if (inet_pton(AF_INET6, s.c_str(), buf.data()) == 1) return V6(buf);
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::FromBytes(std::span<const std::uint8_t> b) {
  IpAddress a;
  if (b.size() == 4) {
    std::copy(b.begin(), b.end(), a.b_.begin());
    return a;
  }
  if (b.size() == 16) {
    a.v6_ = true;
    std::copy(b.begin(), b.end(), a.b_.begin());
    return a;
  }
  return std::nullopt;
}

IpAddress IpAddress::Zero(bool v6) {
  IpAddress a;
  a.v6_ = v6;
  return a;
}

IpAddress IpAddress::Max(bool v6) {
  IpAddress a;
  a.v6_ = v6;
  std::fill(a.b_.begin(), a.b_.begin() + (v6 ? 16 : 4), 0xff);
  return a;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6_ ? AF_INET6 : AF_INET, b_.data(), buf, sizeof buf);
  return buf;
}

std::string Endpoint::ToString() const {
  return (addr.v6() ? "[" + addr.ToString() + "]" : addr.ToString()) + ":" + std::to_string(port);
}

namespace {

bool ParseUint(std::string_view s, unsigned& out, unsigned max) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out <= max;
}

}  // namespace

std::optional<TrafficSelector> TrafficSelector::Parse(std::string_view text) {
  TrafficSelector ts;
  std::string_view range = text;
  const auto br = text.find('[');
  if (br != std::string_view::npos) {
    if (text.back() != ']') return std::nullopt;
    range = text.substr(0, br);
    std::string_view pp = text.substr(br + 1, text.size() - br - 2);
    const auto slash = pp.find('/');
    unsigned proto = 0;
    if (!ParseUint(pp.substr(0, slash), proto, 255)) return std::nullopt;
    ts.ip_protocol = static_cast<std::uint8_t>(proto);
    if (slash != std::string_view::npos) {
      unsigned port = 0;
      if (!ParseUint(pp.substr(slash + 1), port, 65535)) return std::nullopt;
      ts.start_port = ts.end_port = static_cast<std::uint16_t>(port);
    }
  }
  const auto dash = range.find('-');
  if (dash != std::string_view::npos) {
    auto a = IpAddress::Parse(range.substr(0, dash));
    auto b = IpAddress::Parse(range.substr(dash + 1));
    if (!a || !b || a->v6() != b->v6() || *b < *a) return std::nullopt;
    ts.start = *a;
    ts.end = *b;
    return ts;
  }
  const auto slash = range.find('/');
  auto a = IpAddress::Parse(range.substr(0, slash));
  if (!a) return std::nullopt;
  const unsigned bits = a->v6() ? 128 : 32;
  unsigned prefix = bits;
  if (slash != std::string_view::npos && !ParseUint(range.substr(slash + 1), prefix, bits))
    return std::nullopt;
  std::array<std::uint8_t, 16> lo{}, hi{};
  auto in = a->bytes();
  for (unsigned i = 0; i < in.size(); ++i) {
    const unsigned keep = prefix > 8 * i ? std::min(8u, prefix - 8 * i) : 0;
    const std::uint8_t mask = static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
    lo[i] = in[i] & mask;
    hi[i] = static_cast<std::uint8_t>(lo[i] | static_cast<std::uint8_t>(~mask));
  }
  ts.start = *IpAddress::FromBytes(std::span(lo.data(), in.size()));
  ts.end = *IpAddress::FromBytes(std::span(hi.data(), in.size()));
  return ts;
}

std::string TrafficSelector::ToString() const {
  std::string s = start.ToString() + "-" + end.ToString();
  if (ip_protocol != 0 || start_port != 0 || end_port != 0xffff) {
    s += "[" + std::to_string(ip_protocol) + "/" + std::to_string(start_port);
    if (end_port != start_port) s += "-" + std::to_string(end_port);
    s += "]";
  }
  return s;
}

std::optional<TrafficSelector> Intersect(const TrafficSelector& a, const TrafficSelector& b) {
  if (a.v6() != b.v6()) return std::nullopt;
  TrafficSelector r;
  if (a.ip_protocol != 0 && b.ip_protocol != 0 && a.ip_protocol != b.ip_protocol)
    return std::nullopt;
  r.ip_protocol = a.ip_protocol != 0 ? a.ip_protocol : b.ip_protocol;
  r.start_port = std::max(a.start_port, b.start_port);
  r.end_port = std::min(a.end_port, b.end_port);
  if (r.start_port > r.end_port) return std::nullopt;
  r.start = std::max(a.start, b.start);
  r.end = std::min(a.end, b.end);
  if (r.end < r.start) return std::nullopt;
  return r;
}

}  // namespace inlinesec::ike
