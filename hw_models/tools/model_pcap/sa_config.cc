// JSON SA file parsing with field-level errors. nlohmann::json's parse error
// is caught here and returned as a Status; no exception leaves this file.
#include "sa_config.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include "inlinesec/abi/regs.h"
#include "inlinesec/common/secure_bytes.h"

namespace inlinesec::tools {
namespace {

using nlohmann::json;

Status FieldError(const std::string& rec, const std::string& field, const std::string& what) {
  return Status(Code::kInvalidArgument, rec + "." + field + ": " + what);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hex string (optionally "0x"-prefixed) into bytes held as a secret.
bool ParseHex(std::string s, SecureBytes& out) {
  if (s.rfind("0x", 0) == 0) s = s.substr(2);
  if (s.size() % 2 != 0) return false;
  SecureBytes b(s.size() / 2);
  for (std::size_t i = 0; i < b.size(); ++i) {
    const int hi = HexDigit(s[2 * i]), lo = HexDigit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    b.data()[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  SecureWipe({reinterpret_cast<std::uint8_t*>(s.data()), s.size()});
  out = std::move(b);
  return true;
}

// Reads an unsigned field given as a JSON number or a "0x..." string.
Status GetUint(const json& obj, const std::string& rec, const char* field, std::uint64_t max,
               std::uint64_t& out, bool required) {
  auto it = obj.find(field);
  if (it == obj.end()) {
    return required ? FieldError(rec, field, "missing") : Status::Ok();
  }
  std::uint64_t v = 0;
  if (it->is_number_unsigned()) {
    v = it->get<std::uint64_t>();
  } else if (it->is_string()) {
    const std::string s = it->get<std::string>();
    char* end = nullptr;
    errno = 0;
    v = std::strtoull(s.c_str(), &end, 0);
    if (s.empty() || *end != '\0' || errno != 0 || s[0] == '-') {
      return FieldError(rec, field, "not an unsigned number: \"" + s + "\"");
    }
  } else {
    return FieldError(rec, field, "expected an unsigned number");
  }
  if (v > max) return FieldError(rec, field, std::to_string(v) + " is out of range");
  out = v;
  return Status::Ok();
}

Status GetString(const json& obj, const std::string& rec, const char* field, std::string& out,
                 bool required) {
  auto it = obj.find(field);
  if (it == obj.end()) return required ? FieldError(rec, field, "missing") : Status::Ok();
  if (!it->is_string()) return FieldError(rec, field, "expected a string");
  out = it->get<std::string>();
  return Status::Ok();
}

Status GetBool(const json& obj, const std::string& rec, const char* field, bool& out) {
  auto it = obj.find(field);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_boolean()) return FieldError(rec, field, "expected true or false");
  out = it->get<bool>();
  return Status::Ok();
}

struct AlgoInfo {
  const char* name;
  abi::Algo algo;
  std::uint32_t key_len;
};
constexpr AlgoInfo kAlgos[] = {
    {"aes-gcm-128", abi::Algo::kAesGcm128, 16},
    {"aes-gcm-256", abi::Algo::kAesGcm256, 32},
    {"chacha20-poly1305", abi::Algo::kChaCha20Poly1305, 32},
};

const char* const kKnownFields[] = {
    "name", "index", "dir",           "spi", "mode",     "algo",   "key",
    "salt", "esn",   "replay_window", "seq", "src",      "dst",    "udp_encap",
    "ttl",  "dscp",  "dscp_mode",     "df",  "lifetime", "cookie", "match"};

Status ParseOne(const json& j, std::size_t n, SaSpec& spec) {
  std::string rec = "sas[" + std::to_string(n) + "]";
  if (!j.is_object()) return Status(Code::kInvalidArgument, rec + ": expected an object");
  if (auto it = j.find("name"); it != j.end() && it->is_string()) {
    rec += " (" + it->get<std::string>() + ")";
  }
  spec.name = rec;
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* f : kKnownFields) known = known || it.key() == f;
    if (!known) return FieldError(rec, it.key(), "unknown field");
  }
  abi::SaEntry& e = spec.record.entry;
  std::uint64_t index = 0, spi = 0, window = 0, seq = 0, ttl = 0, dscp = 0, cookie = 0;
  INLINESEC_RETURN_IF_ERROR(GetUint(j, rec, "index", 0xFFFFFFFF, index, true));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, rec, "spi", 0xFFFFFFFF, spi, true));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, rec, "replay_window", 0xFFFF, window, false));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, rec, "seq", UINT64_MAX, seq, false));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, rec, "ttl", 255, ttl, false));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, rec, "dscp", 63, dscp, false));
  INLINESEC_RETURN_IF_ERROR(GetUint(j, rec, "cookie", UINT64_MAX, cookie, false));
  std::string dir, mode = "tunnel", algo, key_hex, salt_hex, dscp_mode = "copy", df = "copy";
  INLINESEC_RETURN_IF_ERROR(GetString(j, rec, "dir", dir, true));
  INLINESEC_RETURN_IF_ERROR(GetString(j, rec, "mode", mode, false));
  INLINESEC_RETURN_IF_ERROR(GetString(j, rec, "algo", algo, true));
  INLINESEC_RETURN_IF_ERROR(GetString(j, rec, "key", key_hex, true));
  INLINESEC_RETURN_IF_ERROR(GetString(j, rec, "salt", salt_hex, true));
  INLINESEC_RETURN_IF_ERROR(GetString(j, rec, "dscp_mode", dscp_mode, false));
  INLINESEC_RETURN_IF_ERROR(GetString(j, rec, "df", df, false));
  bool esn = false;
  INLINESEC_RETURN_IF_ERROR(GetBool(j, rec, "esn", esn));

  std::uint32_t ctl = abi::sa_ctl::Valid::Set(0, 1);
  if (dir == "in" || dir == "out") {
    ctl = abi::sa_ctl::Dir::Set(ctl, dir == "out" ? 1 : 0);
  } else {
    return FieldError(rec, "dir", "expected \"in\" or \"out\", got \"" + dir + "\"");
  }
  if (mode != "tunnel" && mode != "transport") {
    return FieldError(rec, "mode", "expected \"tunnel\" or \"transport\", got \"" + mode + "\"");
  }
  ctl = abi::sa_ctl::Mode::Set(ctl, mode == "tunnel" ? 1 : 0);
  ctl = abi::sa_ctl::Esn::Set(ctl, esn ? 1 : 0);
  if (dscp_mode != "copy" && dscp_mode != "set") {
    return FieldError(rec, "dscp_mode", "expected \"copy\" or \"set\"");
  }
  ctl = abi::sa_ctl::DscpMode::Set(ctl, dscp_mode == "set" ? 1 : 0);
  if (df == "copy") {
    ctl = abi::sa_ctl::DfMode::Set(ctl, 0);
  } else if (df == "set") {
    ctl = abi::sa_ctl::DfMode::Set(ctl, 1);
  } else if (df == "clear") {
    ctl = abi::sa_ctl::DfMode::Set(ctl, 2);
  } else {
    return FieldError(rec, "df", "expected \"copy\", \"set\" or \"clear\"");
  }

  const AlgoInfo* info = nullptr;
  for (const auto& a : kAlgos)
    if (algo == a.name) info = &a;
  if (info == nullptr) {
    return FieldError(rec, "algo",
                      "unknown \"" + algo + "\" (aes-gcm-128, aes-gcm-256, chacha20-poly1305)");
  }
  SecureBytes key, salt;
  if (!ParseHex(key_hex, key)) return FieldError(rec, "key", "not a hex string");
  SecureWipe({reinterpret_cast<std::uint8_t*>(key_hex.data()), key_hex.size()});
  if (key.size() != info->key_len) {
    return FieldError(rec, "key",
                      std::string(info->name) + " needs " + std::to_string(info->key_len) +
                          " bytes, got " + std::to_string(key.size()));
  }
  if (!ParseHex(salt_hex, salt) || salt.size() != 4) {
    return FieldError(rec, "salt", "expected 4 bytes as 8 hex digits");
  }
  std::uint32_t crypto = abi::sa_crypto::Algo::Set(0, static_cast<std::uint32_t>(info->algo));
  crypto = abi::sa_crypto::IcvLen::Set(crypto, 16);
  crypto = abi::sa_crypto::KeyLen::Set(crypto, info->key_len);
  for (std::size_t i = 0; i < key.size(); ++i) e.key[i] = key.data()[i];
  for (std::size_t i = 0; i < 4; ++i) e.salt[i] = salt.data()[i];

  bool src_v6 = false, dst_v6 = false;
  std::string src, dst;
  INLINESEC_RETURN_IF_ERROR(GetString(j, rec, "src", src, false));
  INLINESEC_RETURN_IF_ERROR(GetString(j, rec, "dst", dst, false));
  if (!src.empty() && !ParseIp(src, e.src, src_v6)) {
    return FieldError(rec, "src", "not an IP address: \"" + src + "\"");
  }
  if (!dst.empty() && !ParseIp(dst, e.dst, dst_v6)) {
    return FieldError(rec, "dst", "not an IP address: \"" + dst + "\"");
  }
  if (!src.empty() && !dst.empty() && src_v6 != dst_v6) {
    return FieldError(rec, "dst", "src and dst must be the same IP version");
  }
  if (mode == "tunnel" && (src.empty() || dst.empty())) {
    return FieldError(rec, src.empty() ? "src" : "dst", "tunnel mode needs both endpoints");
  }
  ctl = abi::sa_ctl::OuterV6::Set(ctl, (src_v6 || dst_v6) ? 1 : 0);

  if (auto it = j.find("udp_encap"); it != j.end()) {
    if (!it->is_object()) return FieldError(rec, "udp_encap", "expected {\"sport\", \"dport\"}");
    std::uint64_t sport = 4500, dport = 4500;
    INLINESEC_RETURN_IF_ERROR(GetUint(*it, rec + ".udp_encap", "sport", 65535, sport, false));
    INLINESEC_RETURN_IF_ERROR(GetUint(*it, rec + ".udp_encap", "dport", 65535, dport, false));
    ctl = abi::sa_ctl::UdpEncap::Set(ctl, 1);
    e.udp_sport.set(static_cast<std::uint16_t>(sport));
    e.udp_dport.set(static_cast<std::uint16_t>(dport));
  }
  if (auto it = j.find("lifetime"); it != j.end()) {
    if (!it->is_object()) return FieldError(rec, "lifetime", "expected an object");
    const std::string lrec = rec + ".lifetime";
    for (auto f = it->begin(); f != it->end(); ++f) {
      if (f.key() != "soft_bytes" && f.key() != "hard_bytes" && f.key() != "soft_packets" &&
          f.key() != "hard_packets") {
        return FieldError(lrec, f.key(), "unknown field");
      }
    }
    std::uint64_t v[4] = {0, 0, 0, 0};
    INLINESEC_RETURN_IF_ERROR(GetUint(*it, lrec, "soft_bytes", UINT64_MAX, v[0], false));
    INLINESEC_RETURN_IF_ERROR(GetUint(*it, lrec, "hard_bytes", UINT64_MAX, v[1], false));
    INLINESEC_RETURN_IF_ERROR(GetUint(*it, lrec, "soft_packets", UINT64_MAX, v[2], false));
    INLINESEC_RETURN_IF_ERROR(GetUint(*it, lrec, "hard_packets", UINT64_MAX, v[3], false));
    e.soft_bytes.set(v[0]);
    e.hard_bytes.set(v[1]);
    e.soft_packets.set(v[2]);
    e.hard_packets.set(v[3]);
  }
  std::string match;
  INLINESEC_RETURN_IF_ERROR(GetString(j, rec, "match", match, false));
  if (!match.empty()) {
    if (dir != "out") return FieldError(rec, "match", "only outbound SAs select traffic");
    Prefix p;
    const auto slash = match.find('/');
    const std::string addr = match.substr(0, slash);
    unsigned long len = 0;
    if (!ParseIp(addr, p.addr, p.v6)) return FieldError(rec, "match", "bad prefix " + match);
    len = slash == std::string::npos ? (p.v6 ? 128 : 32)
                                     : std::strtoul(match.c_str() + slash + 1, nullptr, 10);
    if (len > (p.v6 ? 128u : 32u)) return FieldError(rec, "match", "bad prefix length");
    p.len = static_cast<unsigned>(len);
    spec.match = p;
  }

  e.spi.set(static_cast<std::uint32_t>(spi));
  e.ctl.set(ctl);
  e.crypto.set(crypto);
  e.replay.set(abi::sa_replay::Window::Set(0, static_cast<std::uint32_t>(window)));
  e.seq.set(seq);
  std::uint32_t outer = abi::sa_outer::Ttl::Set(0, static_cast<std::uint32_t>(ttl));
  outer = abi::sa_outer::Dscp::Set(outer, static_cast<std::uint32_t>(dscp));
  e.outer.set(outer);
  e.cookie.set(cookie);
  spec.record.index.set(static_cast<std::uint32_t>(index));
  return Status::Ok();
}

}  // namespace

bool Prefix::Contains(const abi::IpAddr& a, bool a_v6) const {
  if (a_v6 != v6) return false;
  for (unsigned bit = 0; bit < len; ++bit) {
    const unsigned byte = bit / 8, mask = 0x80u >> (bit % 8);
    if ((a[byte] & mask) != (addr[byte] & mask)) return false;
  }
  return true;
}

bool ParseIp(const std::string& s, abi::IpAddr& out, bool& v6) {
  out.fill(0);
  if (inet_pton(AF_INET, s.c_str(), out.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) {
    v6 = true;
    return true;
  }
  return false;
}

// Wipes every "key" string left in the parsed document.
static void WipeKeysInDom(json& doc) {
  auto sas = doc.find("sas");
  if (sas == doc.end() || !sas->is_array()) return;
  for (auto& rec : *sas) {
    if (!rec.is_object()) continue;
    auto k = rec.find("key");
    if (k != rec.end() && k->is_string()) {
      auto& str = k->get_ref<std::string&>();
      SecureWipe({reinterpret_cast<std::uint8_t*>(str.data()), str.size()});
    }
  }
}

Result<SaFile> ParseSaFile(const std::string& text) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return Status(Code::kParseError, std::string("SA file is not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) return Status(Code::kInvalidArgument, "SA file: expected an object");
  SaFile file;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "capacity" && it.key() != "sas") {
      return Status(Code::kInvalidArgument, "SA file: unknown field \"" + it.key() + "\"");
    }
  }
  std::uint64_t cap = file.capacity;
  INLINESEC_RETURN_IF_ERROR(GetUint(doc, "SA file", "capacity", 1u << 24, cap, false));
  file.capacity = static_cast<std::uint32_t>(cap);
  auto sas = doc.find("sas");
  if (sas == doc.end() || !sas->is_array()) {
    return Status(Code::kInvalidArgument, "SA file: \"sas\" must be an array");
  }
  for (std::size_t n = 0; n < sas->size(); ++n) {
    SaSpec spec;
    Status st = ParseOne((*sas)[n], n, spec);
    if (!st.ok()) {
      SecureWipe(spec.record.entry.key);
      for (auto& s : file.sas) SecureWipe(s.record.entry.key);
      WipeKeysInDom(doc);
      return st;
    }
    file.sas.push_back(spec);
    SecureWipe(spec.record.entry.key);
  }
  WipeKeysInDom(doc);
  return file;
}

}  // namespace inlinesec::tools
