// pcap reader: byte orders, time units, link layers, and bounded failures
// that name the record; writer: golden bytes of a raw-IP file.
#include "pcap_file.h"

#include <gtest/gtest.h>

#include <vector>

namespace inlinesec::tools {
namespace {

std::vector<std::uint8_t> Ip4(std::uint8_t tag) {
  std::vector<std::uint8_t> p(20, 0);
  p[0] = 0x45;
  p[3] = 20;
  p[19] = tag;
  return p;
}

void Le32(std::vector<std::uint8_t>& o, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) o.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void Be32(std::vector<std::uint8_t>& o, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) o.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::vector<std::uint8_t> Header(bool big, std::uint32_t magic, std::uint32_t link) {
  std::vector<std::uint8_t> o;
  auto w32 = [&](std::uint32_t v) { big ? Be32(o, v) : Le32(o, v); };
  w32(magic);
  if (big) {
    o.insert(o.end(), {0, 2, 0, 4});
  } else {
    o.insert(o.end(), {2, 0, 4, 0});
  }
  w32(0);
  w32(0);
  w32(65535);
  w32(link);
  return o;
}

void Record(std::vector<std::uint8_t>& o, bool big, std::uint32_t sec, std::uint32_t frac,
            const std::vector<std::uint8_t>& data) {
  auto w32 = [&](std::uint32_t v) { big ? Be32(o, v) : Le32(o, v); };
  w32(sec);
  w32(frac);
  w32(static_cast<std::uint32_t>(data.size()));
  w32(static_cast<std::uint32_t>(data.size()));
  o.insert(o.end(), data.begin(), data.end());
}

TEST(PcapFile, ReadsLittleEndianMicrosRawIp) {
  auto f = Header(false, 0xa1b2c3d4, kLinkRaw);
  Record(f, false, 3, 250000, Ip4(1));
  Record(f, false, 4, 0, Ip4(2));
  auto r = ParsePcap(f);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].ts_ns, 3'250'000'000ull);
  EXPECT_EQ((*r)[1].ip, Ip4(2));
}

TEST(PcapFile, ReadsBigEndianNanosEthernetWithVlan) {
  auto f = Header(true, 0xa1b23c4d, kLinkEthernet);
  std::vector<std::uint8_t> eth(12, 0xee);
  eth.insert(eth.end(), {0x81, 0x00, 0x00, 0x05, 0x08, 0x00});
  const auto ip = Ip4(9);
  eth.insert(eth.end(), ip.begin(), ip.end());
  Record(f, true, 1, 7, eth);
  auto r = ParsePcap(f);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].ts_ns, 1'000'000'007ull);
  EXPECT_EQ((*r)[0].ip, ip);
}

TEST(PcapFile, ErrorsNameTheRecordAndNeverReadPastTheEnd) {
  auto f = Header(false, 0xa1b2c3d4, kLinkRaw);
  Record(f, false, 1, 0, Ip4(1));
  Record(f, false, 1, 0, Ip4(2));
  f.resize(f.size() - 5);  // cut the second record's data
  auto r = ParsePcap(f);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("record 1"), std::string::npos) << r.status().message();

  auto g = Header(false, 0xa1b2c3d4, 147);  // a user DLT
  Record(g, false, 1, 0, Ip4(1));
  auto rg = ParsePcap(g);
  ASSERT_FALSE(rg.ok());
  EXPECT_NE(rg.status().message().find("link type 147"), std::string::npos);

  std::vector<std::uint8_t> ng{0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0};
  auto rn = ParsePcap(ng);
  ASSERT_FALSE(rn.ok());
  EXPECT_NE(rn.status().message().find("pcapng"), std::string::npos);

  auto h = Header(false, 0xa1b2c3d4, kLinkRaw);
  Record(h, false, 1, 0, std::vector<std::uint8_t>(20, 0x11));  // not IP
  EXPECT_FALSE(ParsePcap(h).ok());
  EXPECT_FALSE(ParsePcap(std::vector<std::uint8_t>(10, 0xd4)).ok());
}

TEST(PcapFile, WriterGoldenBytesAndRoundTrip) {
  PcapPacket p;
  p.ts_ns = 5'000'001'000ull;
  p.ip = Ip4(3);
  const std::vector<PcapPacket> in{p};
  const auto bytes = WritePcap(in);
  const std::vector<std::uint8_t> head{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0, 0, 4, 0, 101, 0, 0, 0,
                                       // record: 5 s, 1 us, 20, 20
                                       5, 0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 20, 0, 0, 0};
  ASSERT_GE(bytes.size(), head.size());
  EXPECT_EQ(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + head.size()), head);
  auto back = ParsePcap(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0].ip, p.ip);
  EXPECT_EQ((*back)[0].ts_ns, p.ts_ns);
}

}  // namespace
}  // namespace inlinesec::tools
