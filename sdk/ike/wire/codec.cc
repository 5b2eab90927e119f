// The IKEv2 codec: header, payload chain, each payload body (RFC 7296 §3),
// the SK payload (§3.14) and SKF fragments (RFC 7383 §2.5), and the
// per-exchange payload rule table. Untrusted input only ever goes through
// ByteReader; every failure becomes a DecodeError naming the notify to answer
// with, or a silent drop (RFC 7296 §2.21).
#include "inlinesec/ike/wire/codec.h"

#include <algorithm>
#include <utility>

#include "inlinesec/common/byte_reader.h"
#include "inlinesec/common/byte_writer.h"

namespace inlinesec::ike {
namespace {

constexpr std::uint8_t kU = 255;  // unbounded count in the rule table

// RFC 7296 §1.2-§1.5, §2.6-§2.8, §3: which payloads each message may carry.
// Notify, Vendor ID, CERTREQ, CERT and CP are allowed wherever the RFC shows
// them as optional; SA/KE/Nonce counts follow the exchange diagrams.
constexpr PayloadRule kRules[] = {
    // IKE_SA_INIT request (RFC 7296 §1.2): HDR, SA, KE, Ni, [N+], [V+]
    {ExchangeType::kIkeSaInit, false, PayloadType::kSa, 1, 1, false},
    {ExchangeType::kIkeSaInit, false, PayloadType::kKe, 1, 1, false},
    {ExchangeType::kIkeSaInit, false, PayloadType::kNonce, 1, 1, false},
    {ExchangeType::kIkeSaInit, false, PayloadType::kNotify, 0, kU, false},
    {ExchangeType::kIkeSaInit, false, PayloadType::kVendorId, 0, kU, false},
    // IKE_SA_INIT response: HDR, SA, KE, Nr, [CERTREQ], [N+], [V+]
    {ExchangeType::kIkeSaInit, true, PayloadType::kSa, 1, 1, false},
    {ExchangeType::kIkeSaInit, true, PayloadType::kKe, 1, 1, false},
    {ExchangeType::kIkeSaInit, true, PayloadType::kNonce, 1, 1, false},
    {ExchangeType::kIkeSaInit, true, PayloadType::kCertReq, 0, kU, false},
    {ExchangeType::kIkeSaInit, true, PayloadType::kNotify, 0, kU, false},
    {ExchangeType::kIkeSaInit, true, PayloadType::kVendorId, 0, kU, false},
    // IKE_AUTH request (§1.2): SK {IDi, [CERT+], [CERTREQ+], [IDr], AUTH,
    // [CP], SA, TSi, TSr, [N+], [V+]}
    {ExchangeType::kIkeAuth, false, PayloadType::kIdi, 1, 1, true},
    {ExchangeType::kIkeAuth, false, PayloadType::kCert, 0, 4, true},
    {ExchangeType::kIkeAuth, false, PayloadType::kCertReq, 0, kU, true},
    {ExchangeType::kIkeAuth, false, PayloadType::kIdr, 0, 1, true},
    {ExchangeType::kIkeAuth, false, PayloadType::kAuth, 1, 1, true},
    {ExchangeType::kIkeAuth, false, PayloadType::kCp, 0, 1, true},
    {ExchangeType::kIkeAuth, false, PayloadType::kSa, 0, 1, true},
    {ExchangeType::kIkeAuth, false, PayloadType::kTsi, 0, 1, true},
    {ExchangeType::kIkeAuth, false, PayloadType::kTsr, 0, 1, true},
    {ExchangeType::kIkeAuth, false, PayloadType::kNotify, 0, kU, true},
    {ExchangeType::kIkeAuth, false, PayloadType::kVendorId, 0, kU, true},
    // IKE_AUTH response: SK {IDr, [CERT+], AUTH, [CP], SA, TSi, TSr, [N+], [V+]}
    {ExchangeType::kIkeAuth, true, PayloadType::kIdr, 1, 1, true},
    {ExchangeType::kIkeAuth, true, PayloadType::kCert, 0, 4, true},
    {ExchangeType::kIkeAuth, true, PayloadType::kAuth, 1, 1, true},
    {ExchangeType::kIkeAuth, true, PayloadType::kCp, 0, 1, true},
    {ExchangeType::kIkeAuth, true, PayloadType::kSa, 0, 1, true},
    {ExchangeType::kIkeAuth, true, PayloadType::kTsi, 0, 1, true},
    {ExchangeType::kIkeAuth, true, PayloadType::kTsr, 0, 1, true},
    {ExchangeType::kIkeAuth, true, PayloadType::kNotify, 0, kU, true},
    {ExchangeType::kIkeAuth, true, PayloadType::kVendorId, 0, kU, true},
    // CREATE_CHILD_SA request (§1.3): SK {[N], SA, Ni, [KEi], [TSi, TSr]}
    {ExchangeType::kCreateChildSa, false, PayloadType::kSa, 1, 1, true},
    {ExchangeType::kCreateChildSa, false, PayloadType::kNonce, 1, 1, true},
    {ExchangeType::kCreateChildSa, false, PayloadType::kKe, 0, 1, true},
    {ExchangeType::kCreateChildSa, false, PayloadType::kTsi, 0, 1, true},
    {ExchangeType::kCreateChildSa, false, PayloadType::kTsr, 0, 1, true},
    {ExchangeType::kCreateChildSa, false, PayloadType::kNotify, 0, kU, true},
    {ExchangeType::kCreateChildSa, false, PayloadType::kVendorId, 0, kU, true},
    // CREATE_CHILD_SA response: SK {SA, Nr, [KEr], [TSi, TSr]}
    {ExchangeType::kCreateChildSa, true, PayloadType::kSa, 1, 1, true},
    {ExchangeType::kCreateChildSa, true, PayloadType::kNonce, 1, 1, true},
    {ExchangeType::kCreateChildSa, true, PayloadType::kKe, 0, 1, true},
    {ExchangeType::kCreateChildSa, true, PayloadType::kTsi, 0, 1, true},
    {ExchangeType::kCreateChildSa, true, PayloadType::kTsr, 0, 1, true},
    {ExchangeType::kCreateChildSa, true, PayloadType::kNotify, 0, kU, true},
    {ExchangeType::kCreateChildSa, true, PayloadType::kVendorId, 0, kU, true},
    // INFORMATIONAL (§1.4): SK {[N,] [D,] [CP,] ...}, request and response.
    {ExchangeType::kInformational, false, PayloadType::kNotify, 0, kU, true},
    {ExchangeType::kInformational, false, PayloadType::kDelete, 0, kU, true},
    {ExchangeType::kInformational, false, PayloadType::kCp, 0, 1, true},
    {ExchangeType::kInformational, false, PayloadType::kVendorId, 0, kU, true},
    {ExchangeType::kInformational, true, PayloadType::kNotify, 0, kU, true},
    {ExchangeType::kInformational, true, PayloadType::kDelete, 0, kU, true},
    {ExchangeType::kInformational, true, PayloadType::kCp, 0, 1, true},
    {ExchangeType::kInformational, true, PayloadType::kVendorId, 0, kU, true},
};

bool Fail(DecodeError& err, std::uint16_t notify, std::string reason, Bytes data = {}) {
  err.notify = notify;
  err.notify_data = std::move(data);
  err.reason = std::move(reason);
  return false;
}
bool Syntax(DecodeError& err, std::string reason) {
  return Fail(err, static_cast<std::uint16_t>(NotifyType::kInvalidSyntax), std::move(reason));
}

bool IsKnownType(std::uint8_t t) {
  return (t >= 33 && t <= 48) || t == static_cast<std::uint8_t>(PayloadType::kSkf);
}

// RFC 7296 §3.3.2, §3.3.5.
bool ParseTransform(ByteReader& r, bool& last, Transform& t, DecodeError& err) {
  std::uint8_t more, reserved, type, reserved2;
  std::uint16_t len, id;
  ByteReader body{{}};
  if (!r.U8(more) || !r.U8(reserved) || !r.U16(len) || len < 8 || !r.Sub(len - 4u, body) ||
      !body.U8(type) || !body.U8(reserved2) || !body.U16(id))
    return Syntax(err, "transform truncated");
  if (more != 0 && more != 3) return Syntax(err, "transform last/more field");
  last = more == 0;
  t = Transform{static_cast<TransformType>(type), id, 0, false, {}};
  while (!body.empty()) {
    const std::span<const std::uint8_t> start = body.rest();
    std::uint16_t af_type, value;
    if (!body.U16(af_type) || !body.U16(value)) return Syntax(err, "attribute truncated");
    if ((af_type & 0x8000) != 0 && (af_type & 0x7fff) == kAttrKeyLength) {
      if (t.key_length != 0 || value == 0) return Syntax(err, "Key Length attribute");
      t.key_length = value;
      continue;
    }
    if ((af_type & 0x8000) == 0 && !body.Skip(value)) return Syntax(err, "attribute length");
    // RFC 7296 §3.3.6: kept verbatim; the transform is then not selectable.
    t.unknown_attribute = true;
    const auto raw = start.first(start.size() - body.size());
    t.other_attributes.insert(t.other_attributes.end(), raw.begin(), raw.end());
  }
  return true;
}

// RFC 7296 §3.3.1.
bool ParseSa(ByteReader& r, SaPayload& sa, DecodeError& err) {
  bool last = r.empty();
  std::uint8_t expect_num = 1;
  while (!last) {
    std::uint8_t more, reserved, num, proto, spi_size, n_transforms;
    std::uint16_t len;
    ByteReader body{{}};
    if (!r.U8(more) || !r.U8(reserved) || !r.U16(len) || len < 8 || !r.Sub(len - 4u, body) ||
        !body.U8(num) || !body.U8(proto) || !body.U8(spi_size) || !body.U8(n_transforms))
      return Syntax(err, "proposal truncated");
    if (more != 0 && more != 2) return Syntax(err, "proposal last/more field");
    last = more == 0;
    // RFC 7296 §3.3.1: numbers count up by one; a response's single
    // proposal keeps the number it had in the request.
    if (num == 0 || (sa.proposals.size() > 0 && num != expect_num))
      return Syntax(err, "proposal numbers must count up by one");
    expect_num = static_cast<std::uint8_t>(num + 1);
    Proposal p;
    p.number = num;
    p.protocol = static_cast<ProtocolId>(proto);
    std::span<const std::uint8_t> spi;
    if (spi_size != 0 && spi_size != 4 && spi_size != 8) return Syntax(err, "proposal SPI size");
    if (!body.Bytes(spi_size, spi)) return Syntax(err, "proposal SPI truncated");
    p.spi.assign(spi.begin(), spi.end());
    bool tlast = n_transforms == 0;
    for (unsigned i = 0; i < n_transforms; ++i) {
      if (tlast) return Syntax(err, "transform count mismatch");
      Transform t;
      if (!ParseTransform(body, tlast, t, err)) return false;
      p.transforms.push_back(t);
    }
    if (!tlast || !body.empty()) return Syntax(err, "transform count mismatch");
    sa.proposals.push_back(std::move(p));
  }
  if (!r.empty()) return Syntax(err, "bytes after last proposal");
  if (sa.proposals.empty()) return Syntax(err, "SA without proposals");
  return true;
}

// RFC 7296 §3.13.1.
bool ParseTs(ByteReader& r, TsPayload& ts, DecodeError& err) {
  std::uint8_t count;
  if (!r.U8(count) || !r.Skip(3)) return Syntax(err, "TS truncated");
  if (count == 0) return Syntax(err, "TS payload without selectors");
  for (unsigned i = 0; i < count; ++i) {
    std::uint8_t type, proto;
    std::uint16_t len, sport, eport;
    ByteReader body{{}};
    if (!r.U8(type) || !r.U8(proto) || !r.U16(len) || len < 8 || !r.Sub(len - 4u, body) ||
        !body.U16(sport) || !body.U16(eport))
      return Syntax(err, "selector truncated");
    std::size_t alen;
    if (type == kTsIpv4AddrRange)
      alen = 4;
    else if (type == kTsIpv6AddrRange)
      alen = 16;
    else
      continue;  // a TS type we do not know: skip it (narrowing ignores it)
    std::span<const std::uint8_t> a, b;
    if (!body.Bytes(alen, a) || !body.Bytes(alen, b) || !body.empty())
      return Syntax(err, "selector length");
    TrafficSelector s;
    s.ip_protocol = proto;
    s.start_port = sport;
    s.end_port = eport;
    s.start = *IpAddress::FromBytes(a);
    s.end = *IpAddress::FromBytes(b);
    ts.selectors.push_back(s);
  }
  if (!r.empty()) return Syntax(err, "bytes after last selector");
  return true;
}

// Parses one payload body of a known type. `type` is the chain's type.
bool ParseBody(PayloadType type, ByteReader& r, PayloadBody& out, DecodeError& err) {
  switch (type) {
    case PayloadType::kSa: {
      SaPayload sa;
      if (!ParseSa(r, sa, err)) return false;
      out = std::move(sa);
      return true;
    }
    case PayloadType::kKe: {  // RFC 7296 §3.4
      KePayload ke;
      if (!r.U16(ke.group) || !r.Skip(2)) return Syntax(err, "KE truncated");
      if (r.empty()) return Syntax(err, "KE without data");
      ke.data.assign(r.rest().begin(), r.rest().end());
      out = std::move(ke);
      return true;
    }
    case PayloadType::kIdi:
    case PayloadType::kIdr: {  // RFC 7296 §3.5
      IdPayload id;
      std::uint8_t t;
      if (!r.U8(t) || !r.Skip(3)) return Syntax(err, "ID truncated");
      id.type = static_cast<IdType>(t);
      id.data.assign(r.rest().begin(), r.rest().end());
      if ((id.type == IdType::kIpv4Addr && id.data.size() != 4) ||
          (id.type == IdType::kIpv6Addr && id.data.size() != 16))
        return Syntax(err, "ID address length");
      out = std::move(id);
      return true;
    }
    case PayloadType::kAuth: {  // RFC 7296 §3.8
      AuthPayload a;
      if (!r.U8(a.method) || !r.Skip(3)) return Syntax(err, "AUTH truncated");
      if (r.empty()) return Syntax(err, "AUTH without data");
      a.data.assign(r.rest().begin(), r.rest().end());
      out = std::move(a);
      return true;
    }
    case PayloadType::kNonce: {  // RFC 7296 §3.9: 16..256 bytes
      if (r.size() < 16 || r.size() > 256) return Syntax(err, "nonce length");
      out = NoncePayload{Bytes(r.rest().begin(), r.rest().end())};
      return true;
    }
    case PayloadType::kNotify: {  // RFC 7296 §3.10
      NotifyPayload n;
      std::uint8_t proto, spi_size;
      std::span<const std::uint8_t> spi;
      if (!r.U8(proto) || !r.U8(spi_size) || !r.U16(n.type) || !r.Bytes(spi_size, spi))
        return Syntax(err, "notify truncated");
      if (spi_size != 0 && spi_size != 4 && spi_size != 8) return Syntax(err, "notify SPI size");
      n.protocol = static_cast<ProtocolId>(proto);
      n.spi.assign(spi.begin(), spi.end());
      n.data.assign(r.rest().begin(), r.rest().end());
      out = std::move(n);
      return true;
    }
    case PayloadType::kDelete: {  // RFC 7296 §3.11
      DeletePayload d;
      std::uint8_t proto, spi_size;
      std::uint16_t n;
      if (!r.U8(proto) || !r.U8(spi_size) || !r.U16(n)) return Syntax(err, "delete truncated");
      d.protocol = static_cast<ProtocolId>(proto);
      if (d.protocol == ProtocolId::kIke) {
        if (spi_size != 0 || n != 0 || !r.empty()) return Syntax(err, "IKE delete with SPIs");
      } else if (d.protocol == ProtocolId::kEsp || d.protocol == ProtocolId::kAh) {
        if (spi_size != 4) return Syntax(err, "delete SPI size");
        for (unsigned i = 0; i < n; ++i) {
          std::uint32_t spi;
          if (!r.U32(spi)) return Syntax(err, "delete SPI truncated");
          d.spis.push_back(spi);
        }
        if (!r.empty()) return Syntax(err, "bytes after delete SPIs");
      } else {
        return Syntax(err, "delete protocol");
      }
      out = std::move(d);
      return true;
    }
    case PayloadType::kVendorId:
      out = VendorIdPayload{Bytes(r.rest().begin(), r.rest().end())};
      return true;
    case PayloadType::kTsi:
    case PayloadType::kTsr: {
      TsPayload ts;
      if (!ParseTs(r, ts, err)) return false;
      out = std::move(ts);
      return true;
    }
    default:
      out = OpaquePayload{Bytes(r.rest().begin(), r.rest().end())};
      return true;
  }
}

// Where the SK/SKF payload sits, once the clear chain has been walked.
struct SkLocation {
  bool present = false;
  bool fragment = false;
  std::size_t offset = 0;  // of the generic payload header
  PayloadType next = PayloadType::kNone;
  std::uint16_t number = 0;
  std::uint16_t total = 0;
};

// RFC 7296 §3.2: walks a payload chain. SK/SKF may only appear if
// `allow_sk`, and must then be the last payload. `base` is the offset of `r`
// in the datagram.
bool ParseChain(ByteReader r, std::size_t base, PayloadType first, bool encrypted, bool allow_sk,
                std::vector<Payload>& out, SkLocation& sk, DecodeError& err) {
  std::uint8_t next = static_cast<std::uint8_t>(first);
  const std::size_t total = r.size();
  while (next != 0) {
    const std::size_t at = base + (total - r.size());
    std::uint8_t this_type = next, flags;
    std::uint16_t len;
    ByteReader body{{}};
    if (!r.U8(next) || !r.U8(flags) || !r.U16(len) || len < 4 || !r.Sub(len - 4u, body))
      return Syntax(err, "payload header or length");
    const bool critical = (flags & 0x80) != 0;
    const auto type = static_cast<PayloadType>(this_type);
    if (type == PayloadType::kSk || type == PayloadType::kSkf) {
      if (!allow_sk) return Syntax(err, "SK payload not allowed here");
      if (!r.empty()) return Syntax(err, "SK payload must be the last payload");
      sk.present = true;
      sk.fragment = type == PayloadType::kSkf;
      sk.offset = at;
      sk.next = static_cast<PayloadType>(next);
      if (sk.fragment) {
        if (!body.U16(sk.number) || !body.U16(sk.total)) return Syntax(err, "SKF truncated");
        if (sk.number == 0 || sk.total == 0 || sk.number > sk.total)
          return Fail(err, 0, "SKF fragment numbers");
      }
      return true;
    }
    if (!IsKnownType(this_type)) {
      if (critical)  // RFC 7296 §2.5, §3.2: data is the one-octet type
        return Fail(err, static_cast<std::uint16_t>(NotifyType::kUnsupportedCriticalPayload),
                    "unsupported critical payload", Bytes{this_type});
      continue;  // non-critical unknown payloads are skipped
    }
    Payload p;
    p.type = type;
    p.critical = critical;
    p.encrypted = encrypted;
    if (!ParseBody(type, body, p.body, err)) return false;
    out.push_back(std::move(p));
  }
  if (!r.empty()) return Syntax(err, "bytes after last payload");
  return true;
}

std::uint8_t FlagsOf(const Header& h) {
  return static_cast<std::uint8_t>((h.initiator ? kFlagInitiator : 0) |
                                   (h.response ? kFlagResponse : 0));
}

void WriteHeader(ByteWriter& w, const Header& h, PayloadType first) {
  w.U64(h.spi_i);
  w.U64(h.spi_r);
  w.U8(static_cast<std::uint8_t>(first));
  w.U8(static_cast<std::uint8_t>((h.major << 4) | (h.minor & 0x0f)));
  w.U8(static_cast<std::uint8_t>(h.exchange));
  w.U8(FlagsOf(h));
  w.U32(h.message_id);
  w.U32(0);  // length, patched
}

void EncodeTs(ByteWriter& w, const TsPayload& ts) {
  w.U8(static_cast<std::uint8_t>(ts.selectors.size()));
  w.Zeros(3);
  for (const auto& s : ts.selectors) {
    w.U8(s.v6() ? kTsIpv6AddrRange : kTsIpv4AddrRange);
    w.U8(s.ip_protocol);
    w.U16(static_cast<std::uint16_t>(s.v6() ? 40 : 16));
    w.U16(s.start_port);
    w.U16(s.end_port);
    w.Bytes(s.start.bytes());
    w.Bytes(s.end.bytes());
  }
}

void EncodeSa(ByteWriter& w, const SaPayload& sa) {
  for (std::size_t i = 0; i < sa.proposals.size(); ++i) {
    const Proposal& p = sa.proposals[i];
    w.U8(i + 1 == sa.proposals.size() ? 0 : 2);
    w.U8(0);
    const std::size_t len_at = w.size();
    w.U16(0);
    w.U8(p.number);
    w.U8(static_cast<std::uint8_t>(p.protocol));
    w.U8(static_cast<std::uint8_t>(p.spi.size()));
    w.U8(static_cast<std::uint8_t>(p.transforms.size()));
    w.Bytes(p.spi);
    for (std::size_t j = 0; j < p.transforms.size(); ++j) {
      const Transform& t = p.transforms[j];
      w.U8(j + 1 == p.transforms.size() ? 0 : 3);
      w.U8(0);
      w.U16(static_cast<std::uint16_t>((t.key_length ? 12 : 8) + t.other_attributes.size()));
      w.U8(static_cast<std::uint8_t>(t.type));
      w.U8(0);
      w.U16(t.id);
      if (t.key_length) {
        w.U16(0x8000 | kAttrKeyLength);
        w.U16(t.key_length);
      }
      w.Bytes(t.other_attributes);
    }
    w.PatchU16(len_at, static_cast<std::uint16_t>(w.size() - len_at + 2));
  }
}

void EncodeBodyTo(ByteWriter& w, const PayloadBody& body) {
  std::visit(
      [&w](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, SaPayload>) {
          EncodeSa(w, b);
        } else if constexpr (std::is_same_v<T, KePayload>) {
          w.U16(b.group);
          w.U16(0);
          w.Bytes(b.data);
        } else if constexpr (std::is_same_v<T, IdPayload>) {
          w.U8(static_cast<std::uint8_t>(b.type));
          w.Zeros(3);
          w.Bytes(b.data);
        } else if constexpr (std::is_same_v<T, AuthPayload>) {
          w.U8(b.method);
          w.Zeros(3);
          w.Bytes(b.data);
        } else if constexpr (std::is_same_v<T, NoncePayload>) {
          w.Bytes(b.nonce);
        } else if constexpr (std::is_same_v<T, NotifyPayload>) {
          w.U8(static_cast<std::uint8_t>(b.protocol));
          w.U8(static_cast<std::uint8_t>(b.spi.size()));
          w.U16(b.type);
          w.Bytes(b.spi);
          w.Bytes(b.data);
        } else if constexpr (std::is_same_v<T, DeletePayload>) {
          w.U8(static_cast<std::uint8_t>(b.protocol));
          w.U8(b.protocol == ProtocolId::kIke ? 0 : 4);
          w.U16(static_cast<std::uint16_t>(b.spis.size()));
          for (std::uint32_t spi : b.spis) w.U32(spi);
        } else if constexpr (std::is_same_v<T, VendorIdPayload>) {
          w.Bytes(b.data);
        } else if constexpr (std::is_same_v<T, TsPayload>) {
          EncodeTs(w, b);
        } else {
          w.Bytes(b.body);
        }
      },
      body);
}

// Writes a chain of payloads; the last one's next-payload is `after`.
void EncodeChain(ByteWriter& w, const std::vector<const Payload*>& ps, PayloadType after) {
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const PayloadType next = i + 1 < ps.size() ? ps[i + 1]->type : after;
    w.U8(static_cast<std::uint8_t>(next));
    w.U8(ps[i]->critical ? 0x80 : 0);
    const std::size_t len_at = w.size();
    w.U16(0);
    EncodeBodyTo(w, ps[i]->body);
    w.PatchU16(len_at, static_cast<std::uint16_t>(w.size() - len_at + 2));
  }
}

void Split(const Message& msg, std::vector<const Payload*>& clear,
           std::vector<const Payload*>& enc) {
  for (const auto& p : msg.payloads) (p.encrypted ? enc : clear).push_back(&p);
}

// Appends an SK (fragment == 0) or SKF payload holding `plain`, sealed.
Status AppendSealed(ByteWriter& w, SkProtection& sk, PayloadType inner_first,
                    std::span<const std::uint8_t> plain, std::uint16_t fragment,
                    std::uint16_t total) {
  const std::size_t block = std::max<std::size_t>(1, sk.BlockSize());
  // RFC 7296 §3.14: plaintext | padding | pad length, a multiple of the block.
  const std::size_t padded = ((plain.size() + 1 + block - 1) / block) * block;
  const std::size_t pad = padded - plain.size() - 1;
  const std::size_t sk_off = w.size();
  const std::size_t hdr = fragment ? 8 : 4;
  const std::size_t len = hdr + sk.IvSize() + padded + sk.IcvSize();
  if (len > 0xffff) return Status(Code::kOutOfRange, "SK payload too large");
  w.U8(static_cast<std::uint8_t>(inner_first));
  w.U8(0);
  w.U16(static_cast<std::uint16_t>(len));
  if (fragment) {
    w.U16(fragment);
    w.U16(total);
  }
  w.Zeros(sk.IvSize());
  w.Bytes(plain);
  w.Zeros(pad);
  w.U8(static_cast<std::uint8_t>(pad));
  w.Zeros(sk.IcvSize());
  w.PatchU32(24, static_cast<std::uint32_t>(w.size()));
  return sk.Seal(std::span<std::uint8_t>(w.buf()), sk_off + hdr, sk_off + hdr);
}

// Opens the SK/SKF payload at `loc` of a private copy of the datagram and
// returns the plaintext of the inner chain (padding removed).
bool OpenSk(std::span<const std::uint8_t> bytes, const SkLocation& loc, SkProtection& sk,
            Bytes& plain, DecodeError& err) {
  const std::size_t hdr = loc.fragment ? 8 : 4;
  const std::size_t iv_off = loc.offset + hdr;
  if (bytes.size() < iv_off + sk.IvSize() + sk.IcvSize() + 1)
    return Fail(err, 0, "SK payload too short");
  Bytes copy(bytes.begin(), bytes.end());
  const std::size_t ct_len = bytes.size() - iv_off - sk.IvSize() - sk.IcvSize();
  if (ct_len % std::max<std::size_t>(1, sk.BlockSize()) != 0)
    return Fail(err, 0, "SK ciphertext not block aligned");
  if (!sk.Open(std::span<std::uint8_t>(copy), iv_off, iv_off).ok())
    return Fail(err, 0, "SK integrity check failed");  // RFC 7296 §2.21: drop
  const std::size_t ct_off = iv_off + sk.IvSize();
  const std::uint8_t pad = copy[ct_off + ct_len - 1];
  if (static_cast<std::size_t>(pad) + 1 > ct_len) return Syntax(err, "SK pad length");
  plain.assign(copy.begin() + static_cast<std::ptrdiff_t>(ct_off),
               copy.begin() + static_cast<std::ptrdiff_t>(ct_off + ct_len - pad - 1));
  return true;
}

}  // namespace

bool PeekHeader(std::span<const std::uint8_t> bytes, PeekedHeader& out, DecodeError& err) {
  ByteReader r(bytes);
  std::uint8_t next, version, exchange, flags;
  std::uint32_t length;
  Header& h = out.header;
  if (!r.U64(h.spi_i) || !r.U64(h.spi_r) || !r.U8(next) || !r.U8(version) || !r.U8(exchange) ||
      !r.U8(flags) || !r.U32(h.message_id) || !r.U32(length))
    return Fail(err, 0, "short IKE header");
  h.major = version >> 4;
  h.minor = version & 0x0f;
  h.exchange = static_cast<ExchangeType>(exchange);
  h.initiator = (flags & kFlagInitiator) != 0;
  h.response = (flags & kFlagResponse) != 0;
  out.first = static_cast<PayloadType>(next);
  if (h.major > kIkeMajorVersion)  // RFC 7296 §2.5: data is our highest version
    return Fail(err, static_cast<std::uint16_t>(NotifyType::kInvalidMajorVersion),
                "unsupported major version", Bytes{0x20});
  if (h.major < kIkeMajorVersion) return Fail(err, 0, "not IKEv2");
  if (length != bytes.size()) return Fail(err, 0, "IKE length field does not match datagram");
  if (exchange < 34 || exchange > 37) return Fail(err, 0, "unknown exchange type");
  if (out.first == PayloadType::kSkf) {
    std::uint16_t len;
    if (r.Skip(2) && r.U16(len) && r.U16(out.fragment_number) && r.U16(out.fragment_total)) {
      // fragment fields are re-checked in Decode
    }
  }
  return true;
}

void Reassembler::Reset() {
  active_ = false;
  parts_.clear();
  bytes_ = 0;
  total_ = 0;
  first_ = PayloadType::kNone;
}

bool Reassembler::Add(std::uint32_t message_id, std::uint16_t number, std::uint16_t total,
                      PayloadType next, std::span<const std::uint8_t> plaintext,
                      Bytes& plaintext_out, PayloadType& first_out) {
  if (total > kMaxFragments || number == 0 || number > total) return false;
  if (!active_ || message_id != message_id_) {
    Reset();
    active_ = true;
    message_id_ = message_id;
    total_ = total;
  }
  // RFC 7383 §2.6.1: a larger total restarts, a smaller one is ignored.
  if (total > total_) {
    Reset();
    active_ = true;
    message_id_ = message_id;
    total_ = total;
  } else if (total < total_) {
    return false;
  }
  if (parts_.count(number) != 0) return false;
  if (bytes_ + plaintext.size() > kMaxBytes) {
    Reset();
    return false;
  }
  if (number == 1) first_ = next;
  parts_.emplace(number, Bytes(plaintext.begin(), plaintext.end()));
  bytes_ += plaintext.size();
  if (parts_.size() != total_) return false;
  plaintext_out.clear();
  for (auto& [n, part] : parts_)
    plaintext_out.insert(plaintext_out.end(), part.begin(), part.end());
  first_out = first_;
  Reset();
  return true;
}

bool CheckRules(const Message& msg, DecodeError& err) {
  const Header& h = msg.header;
  // Responses carrying an error notify (or a COOKIE request, RFC 7296 §2.6)
  // need not carry the payloads of a successful exchange.
  const bool relaxed =
      h.response && (msg.FirstError() != nullptr || msg.FindNotify(NotifyType::kCookie) != nullptr);
  for (const auto& p : msg.payloads) {
    const PayloadRule* rule = nullptr;
    for (const auto& r : kRules)
      if (r.exchange == h.exchange && r.response == h.response && r.type == p.type) rule = &r;
    if (rule == nullptr) {
      // COOKIE retries and error answers may carry only notifies.
      return Syntax(err, std::string(PayloadName(p.type)) + " payload not allowed in " +
                             std::string(ExchangeName(h.exchange)));
    }
    if (rule->encrypted != p.encrypted)
      return Syntax(err, std::string(PayloadName(p.type)) + " payload has wrong protection");
  }
  for (const auto& r : kRules) {
    if (r.exchange != h.exchange || r.response != h.response) continue;
    const int n = msg.Count(r.type);
    if (n > r.max) return Syntax(err, std::string("too many ") + std::string(PayloadName(r.type)));
    if (n < r.min && !relaxed)
      return Syntax(err, std::string("missing ") + std::string(PayloadName(r.type)));
  }
  return true;
}

DecodeStatus Decode(std::span<const std::uint8_t> bytes, SkProtection* sk, Reassembler* reassembler,
                    Message& out, DecodeError& err) {
  PeekedHeader peek;
  if (!PeekHeader(bytes, peek, err)) return DecodeStatus::kError;
  out = Message{};
  out.header = peek.header;
  SkLocation loc;
  const bool init = peek.header.exchange == ExchangeType::kIkeSaInit;
  if (!ParseChain(ByteReader(bytes.subspan(kIkeHeaderSize)), kIkeHeaderSize, peek.first, false,
                  !init, out.payloads, loc, err)) {
    // RFC 7296 §2.21.2: before the message is authenticated, nothing it says
    // may trigger an answer; only IKE_SA_INIT errors are answered in clear.
    if (!init) err.notify = 0;
    return DecodeStatus::kError;
  }
  if (!init && !loc.present) {
    Fail(err, 0, "unprotected message after IKE_SA_INIT");
    return DecodeStatus::kError;
  }
  if (loc.present) {
    if (sk == nullptr) {
      Fail(err, 0, "no keys for SK payload");
      return DecodeStatus::kError;
    }
    Bytes plain;
    if (!OpenSk(bytes, loc, *sk, plain, err)) return DecodeStatus::kError;
    PayloadType first = loc.next;
    if (loc.fragment) {
      if (reassembler == nullptr) {
        Fail(err, 0, "fragments not accepted");
        return DecodeStatus::kError;
      }
      Bytes whole;
      if (!reassembler->Add(peek.header.message_id, loc.number, loc.total, loc.next, plain, whole,
                            first))
        return DecodeStatus::kFragmentPending;
      plain = std::move(whole);
    }
    SkLocation inner;
    if (!ParseChain(ByteReader(plain), 0, first, true, false, out.payloads, inner, err))
      return DecodeStatus::kError;
  }
  if (!CheckRules(out, err)) return DecodeStatus::kError;
  return DecodeStatus::kOk;
}

DecodeStatus DecodeUnprotected(std::span<const std::uint8_t> bytes, Message& out,
                               DecodeError& err) {
  PeekedHeader peek;
  if (!PeekHeader(bytes, peek, err)) return DecodeStatus::kError;
  out = Message{};
  out.header = peek.header;
  SkLocation loc;
  if (!ParseChain(ByteReader(bytes.subspan(kIkeHeaderSize)), kIkeHeaderSize, peek.first, false,
                  true, out.payloads, loc, err))
    return DecodeStatus::kError;
  return DecodeStatus::kOk;
}

Bytes EncodeBody(const PayloadBody& body) {
  ByteWriter w;
  EncodeBodyTo(w, body);
  return w.Take();
}

Result<Bytes> Encode(const Message& msg, SkProtection* sk) {
  std::vector<const Payload*> clear, enc;
  Split(msg, clear, enc);
  if (!enc.empty() && sk == nullptr)
    return Status(Code::kFailedPrecondition, "encrypted payloads without SK keys");
  const bool use_sk = sk != nullptr && msg.header.exchange != ExchangeType::kIkeSaInit;
  const PayloadType after = use_sk ? PayloadType::kSk : PayloadType::kNone;
  const PayloadType first = !clear.empty() ? clear.front()->type : after;
  ByteWriter w;
  WriteHeader(w, msg.header, first);
  EncodeChain(w, clear, after);
  if (use_sk) {
    ByteWriter inner;
    EncodeChain(inner, enc, PayloadType::kNone);
    const PayloadType inner_first = enc.empty() ? PayloadType::kNone : enc.front()->type;
    INLINESEC_RETURN_IF_ERROR(AppendSealed(w, *sk, inner_first, inner.buf(), 0, 0));
  } else {
    w.PatchU32(24, static_cast<std::uint32_t>(w.size()));
  }
  return w.Take();
}

Result<std::vector<Bytes>> EncodeFragmented(const Message& msg, SkProtection& sk,
                                            std::size_t max_datagram) {
  Result<Bytes> whole = Encode(msg, &sk);
  if (!whole.ok()) return whole.status();
  std::vector<Bytes> out;
  if (whole->size() <= max_datagram || msg.header.exchange == ExchangeType::kIkeSaInit) {
    out.push_back(std::move(whole).value());
    return out;
  }
  std::vector<const Payload*> clear, enc;
  Split(msg, clear, enc);
  if (!clear.empty()) return Status(Code::kInvalidArgument, "clear payloads in fragmented message");
  if (enc.empty()) return Status(Code::kInvalidArgument, "MTU below an empty message");
  ByteWriter inner;
  EncodeChain(inner, enc, PayloadType::kNone);
  const std::size_t block = std::max<std::size_t>(1, sk.BlockSize());
  const std::size_t fixed = kIkeHeaderSize + 8 + sk.IvSize() + sk.IcvSize();
  if (max_datagram < fixed + 2 * block) return Status(Code::kInvalidArgument, "MTU too small");
  const std::size_t chunk = ((max_datagram - fixed) / block) * block - 1;
  const std::size_t n = (inner.size() + chunk - 1) / chunk;
  if (n > Reassembler::kMaxFragments) return Status(Code::kOutOfRange, "too many fragments");
  for (std::size_t i = 0; i < n; ++i) {
    ByteWriter w;
    WriteHeader(w, msg.header, PayloadType::kSkf);
    const std::size_t from = i * chunk;
    const std::size_t len = std::min(chunk, inner.size() - from);
    // RFC 7383 §2.5: only the first fragment names the first inner payload.
    const PayloadType next = i == 0 ? enc.front()->type : PayloadType::kNone;
    INLINESEC_RETURN_IF_ERROR(
        AppendSealed(w, sk, next, std::span<const std::uint8_t>(inner.buf()).subspan(from, len),
                     static_cast<std::uint16_t>(i + 1), static_cast<std::uint16_t>(n)));
    out.push_back(w.Take());
  }
  return out;
}

}  // namespace inlinesec::ike
