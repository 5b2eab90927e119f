// JSON connection file -> ConnectionConfig. Syntax errors are located with a
// SAX pass (line and column); meaning errors carry the key path. No
// exceptions escape: parsing runs with allow_exceptions=false and every
// value's type is checked before it is read.
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "inlinesec/ike/config_file.h"

namespace inlinesec::ike {
namespace {

using nlohmann::json;

// Records where a syntax error is; everything else is accepted.
struct ErrorLocator : nlohmann::json_sax<json> {
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception&) override {
    pos = position;
    token = last_token;
    return false;
  }
  std::size_t pos = 0;
  std::string token;
};

Status Err(const std::string& where, const std::string& what) {
  return Status(Code::kInvalidArgument, where + ": " + what);
}

class Reader {
 public:
  Reader(const json& obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  // Every key must be one of `known`.
  Status OnlyKeys(std::initializer_list<const char*> known) const {
    if (!obj_.is_object()) return Err(path_, "expected an object");
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      bool ok = false;
      for (const char* k : known) ok |= it.key() == k;
      if (!ok) return Err(Path(it.key()), "unknown key");
    }
    return Status::Ok();
  }
  bool Has(const char* key) const { return obj_.contains(key); }
  std::string Path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  Status String(const char* key, std::string& out, bool required) const {
    if (!Has(key)) return required ? Err(Path(key), "missing") : Status::Ok();
    const json& v = obj_.at(key);
    if (!v.is_string()) return Err(Path(key), "expected a string");
    out = v.get<std::string>();
    return Status::Ok();
  }
  Status Bool(const char* key, bool& out) const {
    if (!Has(key)) return Status::Ok();
    const json& v = obj_.at(key);
    if (!v.is_boolean()) return Err(Path(key), "expected true or false");
    out = v.get<bool>();
    return Status::Ok();
  }
  Status Uint(const char* key, std::uint64_t& out, std::uint64_t max) const {
    if (!Has(key)) return Status::Ok();
    const json& v = obj_.at(key);
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > max)
      return Err(Path(key), "expected an integer 0.." + std::to_string(max));
    out = v.get<std::uint64_t>();
    return Status::Ok();
  }
  Status Double(const char* key, double& out) const {
    if (!Has(key)) return Status::Ok();
    const json& v = obj_.at(key);
    if (!v.is_number() || v.get<double>() < 1.0) return Err(Path(key), "expected a number >= 1");
    out = v.get<double>();
    return Status::Ok();
  }
  Status Dur(const char* key, Duration& out) const {
    if (!Has(key)) return Status::Ok();
    const json& v = obj_.at(key);
    std::string text;
    if (v.is_number_unsigned())
      text = std::to_string(v.get<std::uint64_t>());
    else if (v.is_string())
      text = v.get<std::string>();
    else
      return Err(Path(key), "expected a duration such as \"30s\"");
    Result<Duration> d = ParseDuration(text);
    if (!d.ok()) return Err(Path(key), "bad duration '" + text + "'");
    out = *d;
    return Status::Ok();
  }
  Status Strings(const char* key, std::vector<std::string>& out, bool required) const {
    if (!Has(key)) return required ? Err(Path(key), "missing") : Status::Ok();
    const json& v = obj_.at(key);
    if (!v.is_array() || v.empty()) return Err(Path(key), "expected a non-empty list of strings");
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string())
        return Err(Path(key) + "[" + std::to_string(i) + "]", "expected a string");
      out.push_back(v[i].get<std::string>());
    }
    return Status::Ok();
  }

 private:
  const json& obj_;
  std::string path_;
};

Status ParseChild(const json& obj, const std::string& path, ChildConfig& c) {
  Reader r(obj, path);
  INLINESEC_RETURN_IF_ERROR(
      r.OnlyKeys({"name", "local_ts", "remote_ts", "esp_proposals", "mode", "lifetime",
                  "rekey_margin", "rekey_jitter", "life_bytes", "life_packets"}));
  INLINESEC_RETURN_IF_ERROR(r.String("name", c.name, true));
  for (const char* key : {"local_ts", "remote_ts"}) {
    std::vector<std::string> list;
    INLINESEC_RETURN_IF_ERROR(r.Strings(key, list, true));
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto ts = TrafficSelector::Parse(list[i]);
      if (!ts)
        return Err(r.Path(key) + "[" + std::to_string(i) + "]",
                   "not a traffic selector: '" + list[i] + "'");
      (std::string(key) == "local_ts" ? c.local_ts : c.remote_ts).push_back(*ts);
    }
  }
  std::vector<std::string> props;
  INLINESEC_RETURN_IF_ERROR(r.Strings("esp_proposals", props, false));
  if (props.empty()) props = {"aes256gcm16-esn-noesn", "aes128gcm16-esn-noesn"};
  for (std::size_t i = 0; i < props.size(); ++i) {
    Result<Proposal> p = ParseProposal(props[i], ProtocolId::kEsp);
    if (!p.ok())
      return Err(r.Path("esp_proposals") + "[" + std::to_string(i) + "]", p.status().message());
    c.esp_proposals.push_back(std::move(p).value());
  }
  std::string mode = "tunnel";
  INLINESEC_RETURN_IF_ERROR(r.String("mode", mode, false));
  if (mode != "tunnel" && mode != "transport")
    return Err(r.Path("mode"), "expected \"tunnel\" or \"transport\"");
  c.mode = mode == "transport" ? IpsecMode::kTransport : IpsecMode::kTunnel;
  INLINESEC_RETURN_IF_ERROR(r.Dur("lifetime", c.lifetime));
  INLINESEC_RETURN_IF_ERROR(r.Dur("rekey_margin", c.rekey_margin));
  INLINESEC_RETURN_IF_ERROR(r.Dur("rekey_jitter", c.rekey_jitter));
  if (c.rekey_margin >= c.lifetime) return Err(r.Path("rekey_margin"), "must be below lifetime");
  INLINESEC_RETURN_IF_ERROR(r.Uint("life_bytes", c.life_bytes, UINT64_MAX));
  INLINESEC_RETURN_IF_ERROR(r.Uint("life_packets", c.life_packets, UINT64_MAX));
  return Status::Ok();
}

Status ParseEndpoint(const Reader& r, const char* addr_key, const char* port_key, Endpoint& ep,
                     bool allow_any, bool& any) {
  std::string addr;
  INLINESEC_RETURN_IF_ERROR(r.String(addr_key, addr, true));
  if (allow_any && addr == "%any") {
    any = true;
  } else {
    auto ip = IpAddress::Parse(addr);
    if (!ip) return Err(r.Path(addr_key), "not an IP address: '" + addr + "'");
    ep.addr = *ip;
  }
  std::uint64_t port = kIkePort;
  INLINESEC_RETURN_IF_ERROR(r.Uint(port_key, port, 65535));
  ep.port = static_cast<std::uint16_t>(port);
  return Status::Ok();
}

Bytes FromHex(std::string_view s, bool& ok) {
  Bytes out;
  ok = s.size() % 2 == 0 && !s.empty();
  for (std::size_t i = 0; ok && i < s.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
    ok = ec == std::errc() && p == s.data() + i + 2;
    out.push_back(static_cast<std::uint8_t>(v));
  }
  return out;
}

Status ParseConnection(const json& obj, const std::string& path, ConnectionConfig& c) {
  Reader r(obj, path);
  INLINESEC_RETURN_IF_ERROR(
      r.OnlyKeys({"name", "local", "local_port", "remote", "remote_port", "local_id", "remote_id",
                  "psk", "psk_hex", "ike_proposals", "ike_lifetime", "ike_rekey_margin",
                  "dpd_interval", "static_peer", "fragmentation", "fragment_size", "retransmit",
                  "initial_contact", "children"}));
  INLINESEC_RETURN_IF_ERROR(r.String("name", c.name, true));
  bool unused = false;
  INLINESEC_RETURN_IF_ERROR(ParseEndpoint(r, "local", "local_port", c.local, false, unused));
  INLINESEC_RETURN_IF_ERROR(
      ParseEndpoint(r, "remote", "remote_port", c.remote, true, c.remote_any));
  if (!c.remote_any && c.remote.addr.v6() != c.local.addr.v6())
    return Err(r.Path("remote"), "address family differs from local");
  std::string id;
  INLINESEC_RETURN_IF_ERROR(r.String("local_id", id, false));
  c.local_id = Identity::Parse(id.empty() ? c.local.addr.ToString() : id);
  id.clear();
  INLINESEC_RETURN_IF_ERROR(r.String("remote_id", id, false));
  if (!id.empty()) c.remote_id = Identity::Parse(id);
  std::string psk, psk_hex;
  INLINESEC_RETURN_IF_ERROR(r.String("psk", psk, false));
  INLINESEC_RETURN_IF_ERROR(r.String("psk_hex", psk_hex, false));
  if (psk.empty() == psk_hex.empty()) return Err(r.Path("psk"), "give exactly one of psk, psk_hex");
  if (!psk.empty()) {
    c.psk.Assign(std::span(reinterpret_cast<const std::uint8_t*>(psk.data()), psk.size()));
  } else {
    bool ok = false;
    Bytes b = FromHex(psk_hex, ok);
    if (!ok) return Err(r.Path("psk_hex"), "not hex");
    c.psk.Assign(b);
    std::fill(b.begin(), b.end(), 0);
  }
  std::fill(psk.begin(), psk.end(), '\0');
  std::vector<std::string> props;
  INLINESEC_RETURN_IF_ERROR(r.Strings("ike_proposals", props, false));
  if (props.empty()) props = {"aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-ecp256"};
  for (std::size_t i = 0; i < props.size(); ++i) {
    Result<Proposal> p = ParseProposal(props[i], ProtocolId::kIke);
    if (!p.ok())
      return Err(r.Path("ike_proposals") + "[" + std::to_string(i) + "]", p.status().message());
    c.ike_proposals.push_back(std::move(p).value());
  }
  INLINESEC_RETURN_IF_ERROR(r.Dur("ike_lifetime", c.ike_lifetime));
  INLINESEC_RETURN_IF_ERROR(r.Dur("ike_rekey_margin", c.ike_rekey_margin));
  INLINESEC_RETURN_IF_ERROR(r.Dur("ike_rekey_jitter", c.ike_rekey_jitter));
  if (c.ike_rekey_margin >= c.ike_lifetime)
    return Err(r.Path("ike_rekey_margin"), "must be below ike_lifetime");
  INLINESEC_RETURN_IF_ERROR(r.Dur("dpd_interval", c.dpd_interval));
  INLINESEC_RETURN_IF_ERROR(r.Dur("nat_keepalive", c.nat_keepalive));
  INLINESEC_RETURN_IF_ERROR(r.Bool("static_peer", c.static_peer));
  INLINESEC_RETURN_IF_ERROR(r.Bool("fragmentation", c.fragmentation));
  INLINESEC_RETURN_IF_ERROR(r.Bool("initial_contact", c.send_initial_contact));
  std::uint64_t frag = c.fragment_size;
  INLINESEC_RETURN_IF_ERROR(r.Uint("fragment_size", frag, 65535));
  if (frag < 256) return Err(r.Path("fragment_size"), "must be at least 256");
  c.fragment_size = frag;
  if (r.Has("retransmit")) {
    Reader rt(obj.at("retransmit"), r.Path("retransmit"));
    INLINESEC_RETURN_IF_ERROR(rt.OnlyKeys({"initial", "base", "tries", "max_delay"}));
    INLINESEC_RETURN_IF_ERROR(rt.Dur("initial", c.retransmit.initial));
    INLINESEC_RETURN_IF_ERROR(rt.Double("base", c.retransmit.base));
    std::uint64_t tries = static_cast<std::uint64_t>(c.retransmit.tries);
    INLINESEC_RETURN_IF_ERROR(rt.Uint("tries", tries, 20));
    c.retransmit.tries = static_cast<int>(tries);
    INLINESEC_RETURN_IF_ERROR(rt.Dur("max_delay", c.retransmit.max_delay));
  }
  if (r.Has("children")) {
    const json& kids = obj.at("children");
    if (!kids.is_array()) return Err(r.Path("children"), "expected a list");
    for (std::size_t i = 0; i < kids.size(); ++i) {
      ChildConfig child;
      INLINESEC_RETURN_IF_ERROR(
          ParseChild(kids[i], r.Path("children") + "[" + std::to_string(i) + "]", child));
      c.children.push_back(std::move(child));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data()) return Status(Code::kInvalidArgument, "duration");
  const std::string_view unit(p, static_cast<std::size_t>(text.data() + text.size() - p));
  if (n > 10ull * 365 * 24 * 3600) return Status(Code::kOutOfRange, "duration too long");
  using namespace std::chrono;
  if (unit.empty() || unit == "s") return Duration(seconds(n));
  if (unit == "ms") return Duration(milliseconds(n));
  if (unit == "m") return Duration(minutes(n));
  if (unit == "h") return Duration(hours(n));
  if (unit == "d") return Duration(hours(24 * n));
  return Status(Code::kInvalidArgument, "duration unit");
}

Result<std::vector<ConnectionConfig>> ParseConfig(std::string_view text) {
  ErrorLocator loc;
  if (!json::sax_parse(text.begin(), text.end(), &loc, json::input_format_t::json, true, true)) {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i + 1 < loc.pos && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return Status(Code::kParseError, "line " + std::to_string(line) + ", column " +
                                         std::to_string(col) + ": JSON syntax error near '" +
                                         loc.token + "'");
  }
  const json doc = json::parse(text.begin(), text.end(), nullptr, false, true);
  if (doc.is_discarded()) return Status(Code::kParseError, "JSON syntax error");
  Reader top(doc, "");
  INLINESEC_RETURN_IF_ERROR(top.OnlyKeys({"connections"}));
  if (!doc.contains("connections") || !doc.at("connections").is_array())
    return Err("connections", "expected a list of connections");
  std::vector<ConnectionConfig> out;
  const json& list = doc.at("connections");
  for (std::size_t i = 0; i < list.size(); ++i) {
    ConnectionConfig c;
    const std::string path = "connections[" + std::to_string(i) + "]";
    INLINESEC_RETURN_IF_ERROR(ParseConnection(list[i], path, c));
    for (const auto& other : out)
      if (other.name == c.name) return Err(path + ".name", "duplicate name '" + c.name + "'");
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<ConnectionConfig>> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kNotFound, "cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  Result<std::vector<ConnectionConfig>> r = ParseConfig(ss.str());
  if (!r.ok()) return Status(r.status().code(), path + ": " + r.status().message());
  return r;
}

}  // namespace inlinesec::ike
