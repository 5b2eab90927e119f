// JSON -> GatewayConfig (see gateway_config.h). nlohmann::json runs in its
// non-throwing mode (parse with allow_exceptions = false, and every access is
// type-checked first), so no exception leaves this file. Key and salt hex
// are decoded straight into SecureBytes and never appear in an error.
#include "gateway_config.h"

#include <charconv>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

namespace inlinesec::dpdk_gateway {

namespace {

using nlohmann::json;

Status Bad(const std::string& what) {
  return Status(Code::kInvalidArgument, "gateway config: " + what);
}

int HexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hex (no separators) into `out` of exactly out.size() bytes.
bool DecodeHex(std::string_view hex, std::span<std::uint8_t> out) {
  if (hex.size() != out.size() * 2) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = HexNibble(hex[2 * i]);
    const int lo = HexNibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool GetString(const json& o, const char* key, std::string& out) {
  const auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return false;
  out = it->get_ref<const std::string&>();
  return true;
}

// Optional unsigned field: absent leaves `out`; present must be an unsigned
// integer <= max.
Status GetUint(const json& o, const char* key, std::uint64_t max, std::uint64_t& out,
               const std::string& where) {
  const auto it = o.find(key);
  if (it == o.end()) return Status::Ok();
  if (!it->is_number_unsigned() || it->get<std::uint64_t>() > max)
    return Bad(where + "." + key + ": expected an unsigned integer <= " + std::to_string(max));
  out = it->get<std::uint64_t>();
  return Status::Ok();
}

Status GetBool(const json& o, const char* key, bool& out, const std::string& where) {
  const auto it = o.find(key);
  if (it == o.end()) return Status::Ok();
  if (!it->is_boolean()) return Bad(where + "." + key + ": expected true or false");
  out = it->get<bool>();
  return Status::Ok();
}

Status ParseMac(const json& o, const char* key, std::array<std::uint8_t, 6>& out) {
  const auto it = o.find(key);
  if (it == o.end()) return Status::Ok();
  if (!it->is_string()) return Bad(std::string(key) + ": expected \"aa:bb:cc:dd:ee:ff\"");
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() != 17) return Bad(std::string(key) + ": expected \"aa:bb:cc:dd:ee:ff\"");
  for (std::size_t i = 0; i < 6; ++i) {
    if (i > 0 && s[3 * i - 1] != ':') return Bad(std::string(key) + ": bad MAC");
    if (!DecodeHex(std::string_view(s).substr(3 * i, 2), std::span(out).subspan(i, 1)))
      return Bad(std::string(key) + ": bad MAC");
  }
  return Status::Ok();
}

Result<SaConfig> ParseSa(const json& o, std::size_t i) {
  const std::string where = "sas[" + std::to_string(i) + "]";
  if (!o.is_object()) return Bad(where + ": expected an object");
  SaConfig sa;
  if (!GetString(o, "name", sa.name) || sa.name.empty()) return Bad(where + ".name: missing");
  std::string s;
  if (!GetString(o, "direction", s)) return Bad(where + ".direction: missing");
  if (s == "outbound") {
    sa.direction = sdk::SaDirection::kOutbound;
  } else if (s == "inbound") {
    sa.direction = sdk::SaDirection::kInbound;
  } else {
    return Bad(where + ".direction: \"inbound\" or \"outbound\"");
  }
  std::uint64_t v = 0;
  INLINESEC_RETURN_IF_ERROR(GetUint(o, "spi", 0xFFFFFFFFu, v, where));
  if (v < 256) return Bad(where + ".spi: missing or reserved (< 256)");
  sa.spi = static_cast<std::uint32_t>(v);

  std::size_t key_len = 32;
  if (!GetString(o, "algo", s)) s = "aes-gcm-256";
  if (s == "aes-gcm-128") {
    sa.algo = sdk::AeadAlgo::kAesGcm128;
    key_len = 16;
  } else if (s == "aes-gcm-256") {
    sa.algo = sdk::AeadAlgo::kAesGcm256;
  } else if (s == "chacha20-poly1305") {
    sa.algo = sdk::AeadAlgo::kChaCha20Poly1305;
  } else {
    return Bad(where + ".algo: aes-gcm-128, aes-gcm-256 or chacha20-poly1305");
  }
  const auto key = o.find("key");
  sa.key = SecureBytes(key_len);
  if (key == o.end() || !key->is_string() ||
      !DecodeHex(key->get_ref<const std::string&>(), sa.key.span()))
    return Bad(where + ".key: expected " + std::to_string(key_len * 2) + " hex digits");
  const auto salt = o.find("salt");
  if (salt == o.end() || !salt->is_string() ||
      !DecodeHex(salt->get_ref<const std::string&>(), sa.salt))
    return Bad(where + ".salt: expected 8 hex digits");

  if (!GetString(o, "mode", s)) s = "tunnel";
  if (s == "tunnel") {
    sa.mode = sdk::SaMode::kTunnel;
    const auto t = o.find("tunnel");
    std::string src, dst;
    if (t == o.end() || !t->is_object() || !GetString(*t, "src", src) || !GetString(*t, "dst", dst))
      return Bad(where + ".tunnel: {\"src\": ..., \"dst\": ...} required in tunnel mode");
    Result<sdk::IpAddress> a = sdk::IpAddress::Parse(src);
    Result<sdk::IpAddress> b = sdk::IpAddress::Parse(dst);
    if (!a.ok() || !b.ok() || a->v6 != b->v6)
      return Bad(where + ".tunnel: addresses of one family required");
    sa.tunnel_src = *a;
    sa.tunnel_dst = *b;
  } else if (s == "transport") {
    sa.mode = sdk::SaMode::kTransport;
  } else {
    return Bad(where + ".mode: \"tunnel\" or \"transport\"");
  }
  INLINESEC_RETURN_IF_ERROR(GetBool(o, "esn", sa.esn, where));
  const auto udp = o.find("udp_encap");
  if (udp != o.end()) {
    if (!udp->is_object()) return Bad(where + ".udp_encap: {\"sport\": 4500, \"dport\": 4500}");
    sa.udp_encap = true;
    std::uint64_t port = sa.udp_sport;
    INLINESEC_RETURN_IF_ERROR(GetUint(*udp, "sport", 0xFFFF, port, where + ".udp_encap"));
    sa.udp_sport = static_cast<std::uint16_t>(port);
    port = sa.udp_dport;
    INLINESEC_RETURN_IF_ERROR(GetUint(*udp, "dport", 0xFFFF, port, where + ".udp_encap"));
    sa.udp_dport = static_cast<std::uint16_t>(port);
  }
  v = 0;
  INLINESEC_RETURN_IF_ERROR(GetUint(o, "replay_window", 1u << 20, v, where));
  sa.replay_window = static_cast<std::uint32_t>(v);
  const auto life = o.find("lifetime");
  if (life != o.end()) {
    if (!life->is_object()) return Bad(where + ".lifetime: expected an object");
    const std::string lw = where + ".lifetime";
    constexpr std::uint64_t kMax = ~std::uint64_t{0};
    INLINESEC_RETURN_IF_ERROR(GetUint(*life, "bytes_soft", kMax, sa.bytes_soft, lw));
    INLINESEC_RETURN_IF_ERROR(GetUint(*life, "bytes_hard", kMax, sa.bytes_hard, lw));
    INLINESEC_RETURN_IF_ERROR(GetUint(*life, "packets_soft", kMax, sa.packets_soft, lw));
    INLINESEC_RETURN_IF_ERROR(GetUint(*life, "packets_hard", kMax, sa.packets_hard, lw));
  }
  return sa;
}

}  // namespace

bool Prefix::Contains(bool v6, const std::uint8_t* ip) const {
  if (v6 != addr.v6) return false;
  const std::size_t full = len / 8;
  for (std::size_t i = 0; i < full; ++i)
    if (ip[i] != addr.bytes[i]) return false;
  const unsigned rest = len % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (ip[full] & mask) == (addr.bytes[full] & mask);
}

Result<Prefix> ParsePrefix(std::string_view text) {
  Prefix p;
  const std::size_t slash = text.find('/');
  Result<sdk::IpAddress> a = sdk::IpAddress::Parse(text.substr(0, slash));
  if (!a.ok()) return Bad("prefix \"" + std::string(text) + "\": bad address");
  p.addr = *a;
  const unsigned max = p.addr.v6 ? 128 : 32;
  unsigned len = max;
  if (slash != std::string_view::npos) {
    const std::string_view l = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(l.data(), l.data() + l.size(), len);
    if (ec != std::errc() || end != l.data() + l.size() || len > max)
      return Bad("prefix \"" + std::string(text) + "\": bad length");
  }
  p.len = static_cast<std::uint8_t>(len);
  return p;
}

Result<GatewayConfig> ParseGatewayConfig(std::string_view json_text) {
  const json root = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (root.is_discarded() || !root.is_object()) return Bad("not a JSON object");
  GatewayConfig c;
  const auto ports = root.find("ports");
  if (ports == root.end() || !ports->is_object() ||
      !GetString(*ports, "protected", c.protected_port) ||
      !GetString(*ports, "unprotected", c.unprotected_port))
    return Bad("ports: {\"protected\": name, \"unprotected\": name} required");
  const auto hops = root.find("next_hops");
  if (hops != root.end()) {
    if (!hops->is_object()) return Bad("next_hops: expected an object");
    INLINESEC_RETURN_IF_ERROR(ParseMac(*hops, "protected", c.protected_next_hop));
    INLINESEC_RETURN_IF_ERROR(ParseMac(*hops, "unprotected", c.unprotected_next_hop));
  }
  INLINESEC_RETURN_IF_ERROR(GetBool(root, "bypass_unmatched", c.bypass_unmatched, "config"));
  const auto sas = root.find("sas");
  if (sas == root.end() || !sas->is_array()) return Bad("sas: expected an array");
  for (std::size_t i = 0; i < sas->size(); ++i) {
    Result<SaConfig> sa = ParseSa((*sas)[i], i);
    if (!sa.ok()) return sa.status();
    for (const SaConfig& other : c.sas)
      if (other.name == sa->name) return Bad("sas[" + std::to_string(i) + "]: duplicate name");
    c.sas.push_back(std::move(*sa));
  }
  const auto pols = root.find("policies");
  if (pols != root.end()) {
    if (!pols->is_array()) return Bad("policies: expected an array");
    for (std::size_t i = 0; i < pols->size(); ++i) {
      const json& o = (*pols)[i];
      const std::string where = "policies[" + std::to_string(i) + "]";
      Policy p;
      std::string src, dst;
      if (!o.is_object() || !GetString(o, "src", src) || !GetString(o, "dst", dst) ||
          !GetString(o, "sa", p.sa))
        return Bad(where + ": {\"src\": prefix, \"dst\": prefix, \"sa\": name} required");
      Result<Prefix> ps = ParsePrefix(src);
      Result<Prefix> pd = ParsePrefix(dst);
      if (!ps.ok()) return ps.status();
      if (!pd.ok()) return pd.status();
      p.src = *ps;
      p.dst = *pd;
      bool found = false;
      for (const SaConfig& sa : c.sas)
        found = found || (sa.name == p.sa && sa.direction == sdk::SaDirection::kOutbound);
      if (!found) return Bad(where + ".sa: no outbound SA named \"" + p.sa + "\"");
      c.policies.push_back(std::move(p));
    }
  }
  return c;
}

Result<GatewayConfig> LoadGatewayConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "gateway config: cannot open " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<GatewayConfig> c = ParseGatewayConfig(text);
  SecureWipe(std::span(reinterpret_cast<std::uint8_t*>(text.data()), text.size()));
  return c;
}

}  // namespace inlinesec::dpdk_gateway
