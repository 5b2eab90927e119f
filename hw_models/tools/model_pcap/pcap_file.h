// Classic pcap files (the libpcap "savefile" format: a 24-byte global header
// with magic 0xa1b2c3d4 (microseconds) or 0xa1b23c4d (nanoseconds) in either
// byte order, then 16-byte record headers). The reader parses untrusted bytes
// with bounds: a truncated header or record, an impossible length or an
// unsupported link type is an error naming the record, never a crash. Link
// layers are stripped to the IP packet: raw IP (101, 228, 229), Ethernet (1,
// with up to two 802.1Q/802.1ad tags), BSD loopback (0, 108) and Linux
// cooked capture (113). The writer emits LINKTYPE_RAW (101), microseconds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "inlinesec/common/status.h"

namespace inlinesec::tools {

struct PcapPacket {
  std::uint64_t ts_ns = 0;
  std::uint32_t orig_len = 0;    // length on the wire as recorded
  std::vector<std::uint8_t> ip;  // the IP packet (link layer stripped)
};

inline constexpr std::uint32_t kLinkNull = 0;
inline constexpr std::uint32_t kLinkEthernet = 1;
inline constexpr std::uint32_t kLinkRaw = 101;
inline constexpr std::uint32_t kLinkLoop = 108;
inline constexpr std::uint32_t kLinkLinuxSll = 113;
inline constexpr std::uint32_t kLinkIpv4 = 228;
inline constexpr std::uint32_t kLinkIpv6 = 229;
inline constexpr std::uint32_t kPcapMaxSnap = 262144;

// Parses a whole pcap image. Records whose link layer carries something other
// than IPv4/IPv6 are an error too (the tool processes IP only).
Result<std::vector<PcapPacket>> ParsePcap(std::span<const std::uint8_t> file);

// Serialises packets as a LINKTYPE_RAW pcap image.
std::vector<std::uint8_t> WritePcap(std::span<const PcapPacket> packets);

}  // namespace inlinesec::tools
