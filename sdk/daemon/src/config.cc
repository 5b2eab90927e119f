// Gateway configuration parser: JSON text -> GatewayConfig, strictly. The
// nlohmann parser's exceptions are caught here and turned into a Status
// naming the line and column; every later check names the key's path.
#include "inlinesec/gateway/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <sstream>

namespace inlinesec::gateway {

namespace {

using nlohmann::json;

Status Bad(const std::string& path, const std::string& what) {
  return Status(Code::kInvalidArgument, path + ": " + what);
}

// The keys an object may hold; anything else is a typo worth stopping for.
Status OnlyKeys(const json& j, const std::string& path, std::initializer_list<const char*> keys) {
  if (!j.is_object()) return Bad(path, "expected an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const bool known =
        std::any_of(keys.begin(), keys.end(), [&](const char* k) { return it.key() == k; });
    if (!known) return Bad(path + "." + it.key(), "unknown key");
  }
  return Status::Ok();
}

Status GetString(const json& j, const char* key, const std::string& path, std::string& out,
                 bool required = false) {
  auto it = j.find(key);
  if (it == j.end()) return required ? Bad(path + "." + key, "missing") : Status::Ok();
  if (!it->is_string()) return Bad(path + "." + key, "expected a string");
  out = it->get<std::string>();
  return Status::Ok();
}

Status GetBool(const json& j, const char* key, const std::string& path, bool& out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (!it->is_boolean()) return Bad(path + "." + key, "expected true or false");
  out = it->get<bool>();
  return Status::Ok();
}

template <typename T>
Status GetUint(const json& j, const char* key, const std::string& path, T& out, std::uint64_t min,
               std::uint64_t max) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  std::uint64_t v = 0;
  if (it->is_number_unsigned()) {
    v = it->get<std::uint64_t>();
  } else if (it->is_string()) {
    // SPIs read best in hex: "0x01000100".
    const std::string s = it->get<std::string>();
    char* end = nullptr;
    errno = 0;
    v = std::strtoull(s.c_str(), &end, 0);
    if (s.empty() || end == nullptr || *end != '\0' || errno != 0)
      return Bad(path + "." + key, "expected an unsigned number");
  } else {
    return Bad(path + "." + key, "expected an unsigned number");
  }
  if (v < min || v > max)
    return Bad(path + "." + key,
               "out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  out = static_cast<T>(v);
  return Status::Ok();
}

Status GetMillis(const json& j, const char* key, const std::string& path, Duration& out) {
  std::uint64_t ms = 0;
  if (j.find(key) == j.end()) return Status::Ok();
  INLINESEC_RETURN_IF_ERROR(GetUint(j, key, path, ms, 1, 86'400'000));
  out = std::chrono::milliseconds(ms);
  return Status::Ok();
}

Status GetIpv4(const json& j, const char* key, const std::string& path, sdk::IpAddress& out,
               bool required) {
  std::string text;
  INLINESEC_RETURN_IF_ERROR(GetString(j, key, path, text, required));
  if (text.empty() && !required) return Status::Ok();
  Result<sdk::IpAddress> ip = sdk::IpAddress::Parse(text);
  if (!ip.ok() || ip->v6) return Bad(path + "." + key, "expected an IPv4 address");
  out = *ip;
  return Status::Ok();
}

Status GetPrefixes(const json& j, const char* key, const std::string& path,
                   std::vector<Ipv4Prefix>& out) {
  auto it = j.find(key);
  if (it == j.end()) return Bad(path + "." + key, "missing");
  if (!it->is_array() || it->empty())
    return Bad(path + "." + key, "expected a non-empty list of prefixes");
  for (std::size_t i = 0; i < it->size(); ++i) {
    const std::string p = path + "." + key + "[" + std::to_string(i) + "]";
    if (!(*it)[i].is_string()) return Bad(p, "expected a prefix such as \"10.0.1.0/24\"");
    Result<Ipv4Prefix> pre = ParseIpv4Prefix((*it)[i].get<std::string>());
    if (!pre.ok()) return Bad(p, pre.status().message());
    out.push_back(*pre);
  }
  return Status::Ok();
}

Status GetKey(const json& j, const char* key, const std::string& path, std::size_t want,
              SecureBytes& out) {
  auto it = j.find(key);
  if (it == j.end()) return Bad(path + "." + key, "missing");
  if (!it->is_string()) return Bad(path + "." + key, "expected a hex string");
  // The text itself is a secret too: it is never quoted back.
  const std::string& hex = it->get_ref<const std::string&>();
  if (hex.size() != want * 2)
    return Bad(path + "." + key,
               "expected " + std::to_string(want * 2) + " hex digits (key and 4-byte salt)");
  SecureBytes bytes(want);
  for (std::size_t i = 0; i < want; ++i) {
    int v = 0;
    for (int h = 0; h < 2; ++h) {
      const char c = hex[2 * i + static_cast<std::size_t>(h)];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) return Bad(path + "." + key, "not a hex string");
      v = v * 16 + d;
    }
    bytes.data()[i] = static_cast<std::uint8_t>(v);
  }
  out = std::move(bytes);
  return Status::Ok();
}

std::size_t KeyBytes(sdk::AeadAlgo a) { return a == sdk::AeadAlgo::kAesGcm128 ? 16 : 32; }

Status ParseManual(const json& j, const std::string& path, ManualKeys& m) {
  INLINESEC_RETURN_IF_ERROR(OnlyKeys(
      j, path, {"algo", "spi_in", "spi_out", "key_in", "key_out", "replay_window", "esn"}));
  std::string algo = "aes-gcm-256";
  INLINESEC_RETURN_IF_ERROR(GetString(j, "algo", path, algo));
  if (algo == "aes-gcm-128") {
    m.algo = sdk::AeadAlgo::kAesGcm128;
  } else if (algo == "aes-gcm-256") {
    m.algo = sdk::AeadAlgo::kAesGcm256;
  } else if (algo == "chacha20-poly1305") {
    m.algo = sdk::AeadAlgo::kChaCha20Poly1305;
  } else {
    return Bad(path + ".algo", "expected aes-gcm-128, aes-gcm-256 or chacha20-poly1305");
  }
  if (j.find("spi_in") == j.end()) return Bad(path + ".spi_in", "missing");
  if (j.find("spi_out") == j.end()) return Bad(path + ".spi_out", "missing");
  INLINESEC_RETURN_IF_ERROR(GetUint(j, "spi_in", path, m.spi_in, 256, 0xFFFFFFFFu));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, "spi_out", path, m.spi_out, 256, 0xFFFFFFFFu));
  const std::size_t want = KeyBytes(m.algo) + 4;
  INLINESEC_RETURN_IF_ERROR(GetKey(j, "key_in", path, want, m.key_in));
  INLINESEC_RETURN_IF_ERROR(GetKey(j, "key_out", path, want, m.key_out));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, "replay_window", path, m.replay_window, 32, 4096));
  if (m.replay_window % 32 != 0) return Bad(path + ".replay_window", "must be a multiple of 32");
  return GetBool(j, "esn", path, m.esn);
}

Status ParseConnection(const json& j, const std::string& path, ConnectionConfig& c) {
  INLINESEC_RETURN_IF_ERROR(OnlyKeys(j, path,
                                     {"name", "peer", "peer_port", "static_peer", "local_ts",
                                      "remote_ts", "encap", "manual", "initiate"}));
  INLINESEC_RETURN_IF_ERROR(GetString(j, "name", path, c.name, true));
  if (c.name.empty()) return Bad(path + ".name", "must not be empty");
  INLINESEC_RETURN_IF_ERROR(GetIpv4(j, "peer", path, c.peer, true));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, "peer_port", path, c.peer_port, 1, 65535));
  INLINESEC_RETURN_IF_ERROR(GetBool(j, "static_peer", path, c.static_peer));
  INLINESEC_RETURN_IF_ERROR(GetPrefixes(j, "local_ts", path, c.local_ts));
  INLINESEC_RETURN_IF_ERROR(GetPrefixes(j, "remote_ts", path, c.remote_ts));
  std::string encap = "udp";
  INLINESEC_RETURN_IF_ERROR(GetString(j, "encap", path, encap));
  if (encap == "udp") {
    c.encap = Encap::kUdp;
  } else if (encap == "esp") {
    c.encap = Encap::kEsp;
  } else {
    return Bad(path + ".encap", "expected \"udp\" or \"esp\"");
  }
  INLINESEC_RETURN_IF_ERROR(GetBool(j, "initiate", path, c.initiate));
  auto m = j.find("manual");
  if (m != j.end()) {
    c.manual.emplace();
    INLINESEC_RETURN_IF_ERROR(ParseManual(*m, path + ".manual", *c.manual));
  }
  return Status::Ok();
}

Status ParseRate(const json& j, const char* key, const std::string& path, recovery::RateLimit& r) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  const std::string p = path + "." + key;
  INLINESEC_RETURN_IF_ERROR(OnlyKeys(*it, p, {"count", "per_ms", "burst"}));
  INLINESEC_RETURN_IF_ERROR(GetUint(*it, "count", p, r.count, 0, 1'000'000));
  INLINESEC_RETURN_IF_ERROR(GetMillis(*it, "per_ms", p, r.per));
  return GetUint(*it, "burst", p, r.burst, 1, 1'000'000);
}

Status ParseRecovery(const json& j, const std::string& path, recovery::RecoveryPolicy& r) {
  INLINESEC_RETURN_IF_ERROR(
      OnlyKeys(j, path,
               {"notify_per_peer", "notify_global", "initiate_per_peer", "initiate_global",
                "resync_global", "unprotected_notify", "unprotected_global", "liveness_per_peer",
                "hold_down_ms", "max_tracked"}));
  INLINESEC_RETURN_IF_ERROR(ParseRate(j, "notify_per_peer", path, r.notify_per_peer));
  INLINESEC_RETURN_IF_ERROR(ParseRate(j, "notify_global", path, r.notify_global));
  INLINESEC_RETURN_IF_ERROR(ParseRate(j, "initiate_per_peer", path, r.initiate_per_peer));
  INLINESEC_RETURN_IF_ERROR(ParseRate(j, "initiate_global", path, r.initiate_global));
  INLINESEC_RETURN_IF_ERROR(ParseRate(j, "resync_global", path, r.resync_global));
  INLINESEC_RETURN_IF_ERROR(GetBool(j, "unprotected_notify", path, r.unprotected_notify));
  INLINESEC_RETURN_IF_ERROR(ParseRate(j, "unprotected_global", path, r.unprotected_global));
  INLINESEC_RETURN_IF_ERROR(ParseRate(j, "liveness_per_peer", path, r.liveness_per_peer));
  INLINESEC_RETURN_IF_ERROR(GetMillis(j, "hold_down_ms", path, r.hold_down));
  return GetUint(j, "max_tracked", path, r.max_tracked, 16, 1u << 24);
}

Status ParseRoot(const json& j, GatewayConfig& c) {
  const std::string root = "config";
  INLINESEC_RETURN_IF_ERROR(
      OnlyKeys(j, root,
               {"device", "control_socket", "allow_faults", "local_address", "udp_port", "raw_esp",
                "tun", "connections", "recovery", "housekeeping_ms", "sequence_refresh_ms",
                "liveness_stall_ms", "ike_config", "ike_port"}));
  INLINESEC_RETURN_IF_ERROR(GetString(j, "device", root, c.device));
  INLINESEC_RETURN_IF_ERROR(GetString(j, "control_socket", root, c.control_socket));
  if (c.control_socket.empty() || c.control_socket.size() > 100)
    return Bad(root + ".control_socket", "expected a path of 1..100 characters");
  INLINESEC_RETURN_IF_ERROR(GetBool(j, "allow_faults", root, c.allow_faults));
  INLINESEC_RETURN_IF_ERROR(GetIpv4(j, "local_address", root, c.local_address, true));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, "udp_port", root, c.udp_port, 1, 65535));
  INLINESEC_RETURN_IF_ERROR(GetBool(j, "raw_esp", root, c.raw_esp));
  INLINESEC_RETURN_IF_ERROR(GetString(j, "ike_config", root, c.ike_config));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, "ike_port", root, c.ike_port, 1, 65535));
  auto tun = j.find("tun");
  if (tun != j.end()) {
    const std::string p = root + ".tun";
    INLINESEC_RETURN_IF_ERROR(OnlyKeys(*tun, p, {"name", "address", "mtu"}));
    INLINESEC_RETURN_IF_ERROR(GetString(*tun, "name", p, c.tun.name));
    if (c.tun.name.empty() || c.tun.name.size() > 15)
      return Bad(p + ".name", "expected an interface name of 1..15 characters");
    std::string addr;
    INLINESEC_RETURN_IF_ERROR(GetString(*tun, "address", p, addr));
    if (!addr.empty()) {
      Result<Ipv4Prefix> pre = ParseIpv4Prefix(addr);
      if (!pre.ok()) return Bad(p + ".address", pre.status().message());
      c.tun.address = *pre;
    }
    INLINESEC_RETURN_IF_ERROR(GetUint(*tun, "mtu", p, c.tun.mtu, 576, 9000));
  }
  auto conns = j.find("connections");
  if (conns != j.end()) {
    if (!conns->is_array()) return Bad(root + ".connections", "expected a list");
    for (std::size_t i = 0; i < conns->size(); ++i) {
      ConnectionConfig cc;
      INLINESEC_RETURN_IF_ERROR(
          ParseConnection((*conns)[i], "connections[" + std::to_string(i) + "]", cc));
      for (const ConnectionConfig& other : c.connections) {
        if (other.name == cc.name)
          return Bad("connections[" + std::to_string(i) + "].name", "duplicate name " + cc.name);
      }
      c.connections.push_back(std::move(cc));
    }
  }
  auto rec = j.find("recovery");
  if (rec != j.end()) INLINESEC_RETURN_IF_ERROR(ParseRecovery(*rec, "recovery", c.recovery));
  INLINESEC_RETURN_IF_ERROR(GetMillis(j, "housekeeping_ms", root, c.housekeeping_interval));
  INLINESEC_RETURN_IF_ERROR(GetMillis(j, "sequence_refresh_ms", root, c.sequence_refresh_interval));
  return GetMillis(j, "liveness_stall_ms", root, c.liveness_stall);
}

// The parsed document holds copies of the manual keys' hex text: wipe them
// before the document is freed.
void WipeKeyText(json& j) {
  auto conns = j.find("connections");
  if (!j.is_object() || conns == j.end() || !conns->is_array()) return;
  for (json& c : *conns) {
    if (!c.is_object()) continue;
    auto m = c.find("manual");
    if (m == c.end() || !m->is_object()) continue;
    for (const char* k : {"key_in", "key_out"}) {
      auto it = m->find(k);
      if (it == m->end() || !it->is_string()) continue;
      std::string& text = it->get_ref<std::string&>();
      SecureWipe({reinterpret_cast<std::uint8_t*>(text.data()), text.size()});
    }
  }
}

}  // namespace

std::string Ipv4Prefix::ToString() const {
  in_addr a{};
  a.s_addr = htonl(addr);
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, text, sizeof(text));
  return std::string(text) + "/" + std::to_string(len);
}

Result<Ipv4Prefix> ParseIpv4Prefix(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::string addr(text.substr(0, slash));
  in_addr a{};
  if (inet_pton(AF_INET, addr.c_str(), &a) != 1)
    return Status(Code::kInvalidArgument, "not an IPv4 prefix: " + std::string(text));
  Ipv4Prefix p;
  p.addr = ntohl(a.s_addr);
  p.len = 32;
  if (slash != std::string_view::npos) {
    const std::string len(text.substr(slash + 1));
    if (len.empty() || len.size() > 2 ||
        !std::all_of(len.begin(), len.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
        std::stoi(len) > 32) {
      return Status(Code::kInvalidArgument, "bad prefix length in " + std::string(text));
    }
    p.len = static_cast<std::uint8_t>(std::stoi(len));
  }
  return p;
}

Result<GatewayConfig> ParseConfig(std::string_view text) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // Turn the byte offset into a line and column a person can find.
    std::size_t line = 1, col = 1;
    const std::size_t stop = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    for (std::size_t i = 0; i < stop; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string what = e.what();
    const std::size_t colon = what.rfind(": ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
    return Status(Code::kParseError,
                  "line " + std::to_string(line) + ", column " + std::to_string(col) + ": " + what);
  }
  GatewayConfig c;
  Status st = ParseRoot(j, c);
  WipeKeyText(j);
  if (!st.ok()) return st;
  return c;
}

Result<GatewayConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kNotFound, path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  Result<GatewayConfig> c = ParseConfig(text);
  SecureWipe({reinterpret_cast<std::uint8_t*>(text.data()), text.size()});
  if (!c.ok()) return Status(c.status().code(), path + ": " + c.status().message());
  return c;
}

}  // namespace inlinesec::gateway
