// SA file parsing: fields land in the ABI entry; every mistake is reported
// with the record and field it concerns.
#include "sa_config.h"

#include <gtest/gtest.h>

#include <string>

namespace inlinesec::tools {
namespace {

const char* kGood = R"({
  "capacity": 4096,
  "sas": [
    {"name": "to-b", "index": 2048, "dir": "out", "spi": "0x01000101", "mode": "tunnel",
     "algo": "aes-gcm-256",
     "key": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "salt": "cafebabe", "esn": true, "seq": 41, "src": "192.168.77.1", "dst": "192.168.77.2",
     "udp_encap": {"sport": 4500, "dport": 4501}, "ttl": 32, "df": "set", "dscp_mode": "set",
     "dscp": 46, "lifetime": {"hard_packets": 100}, "cookie": 7, "match": "10.2.0.0/16"},
    {"index": 257, "dir": "in", "spi": 257, "mode": "transport", "algo": "aes-gcm-128",
     "key": "00112233445566778899aabbccddeeff", "salt": "01020304", "replay_window": 64}
  ]
})";

TEST(SaConfig, FieldsLandInTheAbiEntry) {
  auto f = ParseSaFile(kGood);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->capacity, 4096u);
  ASSERT_EQ(f->sas.size(), 2u);
  const abi::SaEntry& e = f->sas[0].record.entry;
  EXPECT_EQ(f->sas[0].record.index.get(), 2048u);
  EXPECT_EQ(e.spi.get(), 0x01000101u);
  const std::uint32_t ctl = e.ctl.get();
  EXPECT_EQ(abi::sa_ctl::Valid::Get(ctl), 1u);
  EXPECT_EQ(abi::sa_ctl::Dir::Get(ctl), 1u);
  EXPECT_EQ(abi::sa_ctl::Mode::Get(ctl), 1u);
  EXPECT_EQ(abi::sa_ctl::Esn::Get(ctl), 1u);
  EXPECT_EQ(abi::sa_ctl::UdpEncap::Get(ctl), 1u);
  EXPECT_EQ(abi::sa_ctl::DfMode::Get(ctl), 1u);
  EXPECT_EQ(abi::sa_ctl::DscpMode::Get(ctl), 1u);
  EXPECT_EQ(abi::sa_crypto::Algo::Get(e.crypto.get()), 2u);
  EXPECT_EQ(abi::sa_crypto::KeyLen::Get(e.crypto.get()), 32u);
  EXPECT_EQ(abi::sa_outer::Ttl::Get(e.outer.get()), 32u);
  EXPECT_EQ(abi::sa_outer::Dscp::Get(e.outer.get()), 46u);
  EXPECT_EQ(e.salt, (std::array<std::uint8_t, 4>{0xca, 0xfe, 0xba, 0xbe}));
  EXPECT_EQ(e.key[31], 0x1f);
  EXPECT_EQ(e.seq.get(), 41u);
  EXPECT_EQ(e.udp_dport.get(), 4501);
  EXPECT_EQ(e.hard_packets.get(), 100u);
  EXPECT_EQ(e.dst[3], 2);
  ASSERT_TRUE(f->sas[0].match.has_value());
  abi::IpAddr in{10, 2, 9, 9};
  abi::IpAddr out{10, 3, 0, 1};
  EXPECT_TRUE(f->sas[0].match->Contains(in, false));
  EXPECT_FALSE(f->sas[0].match->Contains(out, false));
  EXPECT_EQ(abi::sa_replay::Window::Get(f->sas[1].record.entry.replay.get()), 64u);
  EXPECT_EQ(abi::sa_ctl::Mode::Get(f->sas[1].record.entry.ctl.get()), 0u);
}

void ExpectError(const std::string& text, const std::string& needle) {
  auto f = ParseSaFile(text);
  ASSERT_FALSE(f.ok()) << "accepted: " << text;
  EXPECT_NE(f.status().message().find(needle), std::string::npos)
      << "message: " << f.status().message() << "\nwanted: " << needle;
}

TEST(SaConfig, ErrorsNameTheRecordAndField) {
  ExpectError("{\"sas\": [", "not valid JSON");
  ExpectError(R"({"sas": [{"name": "x", "index": 1, "dir": "in", "spi": 1, "algo": "aes-gcm-256",
    "key": "00112233445566778899aabbccddeeff", "salt": "01020304"}]})",
              "sas[0] (x).key: aes-gcm-256 needs 32 bytes, got 16");
  ExpectError(R"({"sas": [{"index": 1, "dir": "sideways", "spi": 1, "algo": "aes-gcm-128",
    "key": "00112233445566778899aabbccddeeff", "salt": "01020304"}]})",
              "sas[0].dir");
  ExpectError(R"({"sas": [{"index": 1, "dir": "in", "spi": 1, "algo": "aes-gcm-128",
    "key": "00112233445566778899aabbccddeeff", "salt": "01020304", "colour": "red"}]})",
              "sas[0].colour: unknown field");
  ExpectError(R"({"sas": [{"index": 1, "dir": "in", "spi": 1, "algo": "des",
    "key": "00", "salt": "01020304"}]})",
              "sas[0].algo");
  ExpectError(R"({"sas": [{"index": 1, "dir": "in", "spi": -4, "algo": "aes-gcm-128",
    "key": "00112233445566778899aabbccddeeff", "salt": "01020304"}]})",
              "sas[0].spi");
  ExpectError(R"({"sas": [{"index": 1, "dir": "out", "spi": 1, "algo": "aes-gcm-128",
    "key": "00112233445566778899aabbccddeeff", "salt": "01020304"}]})",
              "sas[0].src: tunnel mode needs both endpoints");
  ExpectError(R"({"sas": {}})", "\"sas\" must be an array");
}

}  // namespace
}  // namespace inlinesec::tools
