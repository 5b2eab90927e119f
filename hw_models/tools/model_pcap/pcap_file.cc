// Bounded pcap parsing and raw-IP pcap writing.
#include "pcap_file.h"

#include <cstdio>

#include "inlinesec/common/byte_reader.h"

namespace inlinesec::tools {
namespace {

constexpr std::uint32_t kMagicUs = 0xa1b2c3d4;
constexpr std::uint32_t kMagicNs = 0xa1b23c4d;
constexpr std::uint32_t kMagicUsSwapped = 0xd4c3b2a1;
constexpr std::uint32_t kMagicNsSwapped = 0x4d3cb2a1;

class Fields {
 public:
  Fields(ByteReader& r, bool big) : r_(r), big_(big) {}
  bool U32(std::uint32_t& v) { return big_ ? r_.U32(v) : r_.U32Le(v); }
  bool U16(std::uint16_t& v) { return big_ ? r_.U16(v) : r_.U16Le(v); }

 private:
  ByteReader& r_;
  bool big_;
};

std::string Hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

Status RecordError(std::size_t n, const std::string& what) {
  return Status(Code::kParseError, "pcap record " + std::to_string(n) + ": " + what);
}

bool IsIp(std::span<const std::uint8_t> p) {
  return !p.empty() && ((p[0] >> 4) == 4 || (p[0] >> 4) == 6);
}

// Strips the link layer; on success `ip` is the IP packet.
Status StripLink(std::uint32_t link, std::span<const std::uint8_t> data, std::size_t n,
                 std::span<const std::uint8_t>& ip) {
  ByteReader r(data);
  switch (link) {
    case kLinkRaw:
    case kLinkIpv4:
    case kLinkIpv6:
      ip = data;
      break;
    case kLinkNull:
    case kLinkLoop: {
      // 4-byte address family in the capturing host's order; AF_INET is 2,
      // AF_INET6 is 24, 28 or 30 depending on the BSD.
      if (!r.Skip(4)) return RecordError(n, "truncated loopback header");
      ip = r.rest();
      break;
    }
    case kLinkEthernet: {
      std::uint16_t type = 0;
      if (!r.Skip(12) || !r.U16(type)) return RecordError(n, "truncated Ethernet header");
      for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; ++tags) {
        if (!r.Skip(2) || !r.U16(type)) return RecordError(n, "truncated VLAN tag");
      }
      if (type != 0x0800 && type != 0x86dd) {
        return RecordError(n, "Ethernet type " + Hex(type) + " is not IP");
      }
      ip = r.rest();
      break;
    }
    case kLinkLinuxSll: {
      std::uint16_t proto = 0;
      if (!r.Skip(14) || !r.U16(proto)) return RecordError(n, "truncated cooked header");
      if (proto != 0x0800 && proto != 0x86dd) return RecordError(n, "cooked protocol is not IP");
      ip = r.rest();
      break;
    }
    default:
      return Status(Code::kUnimplemented, "pcap link type " + std::to_string(link) +
                                              " is not supported (raw IP, Ethernet, loopback, "
                                              "Linux cooked)");
  }
  if (!IsIp(ip)) return RecordError(n, "payload is not an IPv4/IPv6 packet");
  return Status::Ok();
}

}  // namespace

Result<std::vector<PcapPacket>> ParsePcap(std::span<const std::uint8_t> file) {
  ByteReader r(file);
  std::uint32_t magic = 0;
  if (!r.U32Le(magic)) return Status(Code::kParseError, "pcap: file shorter than its magic");
  bool big = false, nanos = false;
  switch (magic) {
    case kMagicUs:
      break;
    case kMagicNs:
      nanos = true;
      break;
    case kMagicUsSwapped:
      big = true;
      break;
    case kMagicNsSwapped:
      big = true, nanos = true;
      break;
    default:
      return Status(Code::kParseError,
                    "pcap: bad magic " + Hex(magic) +
                        " (pcapng is not supported: convert with editcap -F pcap)");
  }
  Fields f(r, big);
  std::uint16_t major = 0, minor = 0;
  std::uint32_t zone = 0, sigfigs = 0, snaplen = 0, link = 0;
  if (!f.U16(major) || !f.U16(minor) || !f.U32(zone) || !f.U32(sigfigs) || !f.U32(snaplen) ||
      !f.U32(link)) {
    return Status(Code::kParseError, "pcap: truncated global header");
  }
  if (major != 2) return Status(Code::kParseError, "pcap: version " + std::to_string(major));
  link &= 0x0fffffff;  // upper bits may carry FCS information
  std::vector<PcapPacket> out;
  for (std::size_t n = 0; !r.empty(); ++n) {
    std::uint32_t sec = 0, frac = 0, incl = 0, orig = 0;
    if (!f.U32(sec) || !f.U32(frac) || !f.U32(incl) || !f.U32(orig)) {
      return RecordError(n, "truncated record header");
    }
    if (incl > kPcapMaxSnap) return RecordError(n, "captured length " + std::to_string(incl));
    std::span<const std::uint8_t> data;
    if (!r.Bytes(incl, data)) return RecordError(n, "truncated packet data");
    if (incl < orig) return RecordError(n, "packet was cut by the capture's snap length");
    std::span<const std::uint8_t> ip;
    INLINESEC_RETURN_IF_ERROR(StripLink(link, data, n, ip));
    PcapPacket p;
    p.ts_ns = std::uint64_t(sec) * 1'000'000'000ull + (nanos ? frac : std::uint64_t(frac) * 1000);
    p.orig_len = orig;
    p.ip.assign(ip.begin(), ip.end());
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::uint8_t> WritePcap(std::span<const PcapPacket> packets) {
  std::vector<std::uint8_t> out;
  auto le32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  auto le16 = [&](std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
  };
  le32(kMagicUs);
  le16(2);
  le16(4);
  le32(0);
  le32(0);
  le32(kPcapMaxSnap);
  le32(kLinkRaw);
  for (const auto& p : packets) {
    le32(static_cast<std::uint32_t>(p.ts_ns / 1'000'000'000ull));
    le32(static_cast<std::uint32_t>((p.ts_ns % 1'000'000'000ull) / 1000));
    le32(static_cast<std::uint32_t>(p.ip.size()));
    le32(static_cast<std::uint32_t>(p.ip.size()));
    out.insert(out.end(), p.ip.begin(), p.ip.end());
  }
  return out;
}

}  // namespace inlinesec::tools
