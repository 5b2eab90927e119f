// Unit tests of the gateway configuration parser: a full example, defaults,
// and errors that name the line or the key's path (and never echo a key).
#include <gtest/gtest.h>

#include <string>

#include "inlinesec/gateway/config.h"

namespace inlinesec::gateway {
namespace {

const char* kGood = R"({
  "device": "model:capacity=4096",
  "control_socket": "/tmp/isec-a.sock",
  "allow_faults": true,
  "local_address": "192.168.77.1",
  "raw_esp": true,
  "tun": {"name": "isec0", "address": "10.0.1.254/24", "mtu": 1400},
  "connections": [{
    "name": "site-b",
    "peer": "192.168.77.2",
    "static_peer": true,
    "local_ts": ["10.0.1.0/24"],
    "remote_ts": ["10.0.2.0/24", "10.0.3.0/24"],
    "encap": "udp",
    "manual": {
      "algo": "aes-gcm-128",
      "spi_in": "0x00010101",
      "spi_out": 66050,
      "key_in":  "000102030405060708090a0b0c0d0e0f10111213",
      "key_out": "101112131415161718191a1b1c1d1e1f20212223"
    }
  }],
  "recovery": {"notify_per_peer": {"count": 2, "per_ms": 500, "burst": 3},
               "hold_down_ms": 1500, "unprotected_notify": false},
  "housekeeping_ms": 50
})";

TEST(GatewayConfig, ParsesAFullExample) {
  Result<GatewayConfig> c = ParseConfig(kGood);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->device, "model:capacity=4096");
  EXPECT_TRUE(c->allow_faults);
  EXPECT_TRUE(c->raw_esp);
  EXPECT_EQ(c->local_address.ToString(), "192.168.77.1");
  EXPECT_EQ(c->udp_port, 4500);
  EXPECT_EQ(c->tun.name, "isec0");
  ASSERT_TRUE(c->tun.address.has_value());
  EXPECT_EQ(c->tun.address->ToString(), "10.0.1.254/24");
  ASSERT_EQ(c->connections.size(), 1u);
  const ConnectionConfig& cc = c->connections[0];
  EXPECT_EQ(cc.name, "site-b");
  EXPECT_TRUE(cc.static_peer);
  ASSERT_EQ(cc.remote_ts.size(), 2u);
  EXPECT_TRUE(cc.remote_ts[1].Contains(0x0A000309));
  EXPECT_FALSE(cc.remote_ts[0].Contains(0x0A000109));
  ASSERT_TRUE(cc.manual.has_value());
  EXPECT_EQ(cc.manual->spi_in, 0x00010101u);
  EXPECT_EQ(cc.manual->spi_out, 66050u);
  EXPECT_EQ(cc.manual->algo, sdk::AeadAlgo::kAesGcm128);
  ASSERT_EQ(cc.manual->key_in.size(), 20u);
  EXPECT_EQ(cc.manual->key_in.data()[19], 0x13);
  EXPECT_EQ(c->recovery.notify_per_peer.count, 2u);
  EXPECT_EQ(c->recovery.notify_per_peer.per, std::chrono::milliseconds(500));
  EXPECT_EQ(c->recovery.notify_per_peer.burst, 3u);
  EXPECT_EQ(c->recovery.hold_down, std::chrono::milliseconds(1500));
  EXPECT_EQ(c->housekeeping_interval, std::chrono::milliseconds(50));
}

TEST(GatewayConfig, DefaultsAreTheDocumentedOnes) {
  Result<GatewayConfig> c = ParseConfig(R"({"local_address": "192.0.2.1"})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->device, "model:");
  EXPECT_EQ(c->control_socket, "/run/inlinesec/inlinesecd.sock");
  EXPECT_FALSE(c->allow_faults);
  EXPECT_FALSE(c->raw_esp);
  EXPECT_EQ(c->tun.name, "isec0");
  EXPECT_TRUE(c->connections.empty());
  EXPECT_FALSE(c->recovery.unprotected_notify);
}

TEST(GatewayConfig, SyntaxErrorNamesLineAndColumn) {
  Result<GatewayConfig> c = ParseConfig("{\n  \"device\": \"model:\",\n  \"udp_port\": ,\n}");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kParseError);
  EXPECT_NE(c.status().message().find("line 3"), std::string::npos) << c.status().message();
}

struct BadCase {
  const char* text;
  const char* must_name;
};

class GatewayConfigBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(GatewayConfigBad, ErrorNamesTheKey) {
  Result<GatewayConfig> c = ParseConfig(GetParam().text);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(GetParam().must_name), std::string::npos)
      << c.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Keys, GatewayConfigBad,
    ::testing::Values(
        BadCase{R"({})", "config.local_address: missing"},
        BadCase{R"({"local_address": "10.0.0.1", "devic": "model:"})", "config.devic: unknown"},
        BadCase{R"({"local_address": "2001:db8::1"})", "config.local_address"},
        BadCase{R"({"local_address": "10.0.0.1", "udp_port": 70000})", "config.udp_port"},
        BadCase{R"({"local_address": "10.0.0.1", "tun": {"name": "a-very-long-tun-name0"}})",
                "config.tun.name"},
        BadCase{R"({"local_address": "10.0.0.1", "connections": [{"name": "x",
                   "peer": "10.0.0.2", "local_ts": ["10.1.0.0/33"], "remote_ts": ["10.2.0.0/24"]}]})",
                "connections[0].local_ts[0]"},
        BadCase{R"({"local_address": "10.0.0.1", "connections": [{"name": "x",
                   "peer": "10.0.0.2", "local_ts": ["10.1.0.0/24"], "remote_ts": ["10.2.0.0/24"],
                   "encap": "tcp"}]})",
                "connections[0].encap"},
        BadCase{R"({"local_address": "10.0.0.1", "connections": [{"name": "x",
                   "peer": "10.0.0.2", "local_ts": ["10.1.0.0/24"], "remote_ts": ["10.2.0.0/24"],
                   "manual": {"spi_in": 100, "spi_out": 300, "key_in": "", "key_out": ""}}]})",
                "connections[0].manual.spi_in"},
        BadCase{R"({"local_address": "10.0.0.1", "connections": [{"name": "x",
                   "peer": "10.0.0.2", "local_ts": ["10.1.0.0/24"], "remote_ts": ["10.2.0.0/24"],
                   "manual": {"spi_in": 300, "spi_out": 300, "key_in": "00", "key_out": ""}}]})",
                "connections[0].manual.key_in"},
        BadCase{R"({"local_address": "10.0.0.1", "connections": [
                   {"name": "x", "peer": "10.0.0.2", "local_ts": ["10.1.0.0/24"],
                    "remote_ts": ["10.2.0.0/24"]},
                   {"name": "x", "peer": "10.0.0.3", "local_ts": ["10.1.0.0/24"],
                    "remote_ts": ["10.3.0.0/24"]}]})",
                "connections[1].name"},
        BadCase{R"({"local_address": "10.0.0.1", "recovery": {"hold_down_ms": 0}})",
                "recovery.hold_down_ms"},
        BadCase{R"({"local_address": "10.0.0.1", "recovery": {"notify_global": {"rate": 1}}})",
                "recovery.notify_global.rate"}));

TEST(GatewayConfig, KeyErrorsNeverQuoteTheKey) {
  // 39 hex digits of a 40-digit key: the message must not contain them.
  const std::string secret = "deadbeefdeadbeefdeadbeefdeadbeefdeadbee";
  const std::string text =
      R"({"local_address": "10.0.0.1", "connections": [{"name": "x", "peer": "10.0.0.2",
         "local_ts": ["10.1.0.0/24"], "remote_ts": ["10.2.0.0/24"],
         "manual": {"algo": "aes-gcm-128", "spi_in": 300, "spi_out": 300, "key_in": ")" +
      secret + R"(", "key_out": ""}}]})";
  Result<GatewayConfig> c = ParseConfig(text);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("deadbeef"), std::string::npos) << c.status().message();
}

TEST(GatewayConfig, IkeKeyedConnection) {
  Result<GatewayConfig> c = ParseConfig(R"({
    "local_address": "10.0.0.1", "ike_config": "/etc/inlinesec/ike.json", "ike_port": 1500,
    "connections": [{"name": "sw", "peer": "10.0.0.2", "initiate": true,
                     "local_ts": ["10.1.0.0/24"], "remote_ts": ["10.2.0.0/24"]}]})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ike_config, "/etc/inlinesec/ike.json");
  EXPECT_EQ(c->ike_port, 1500);
  ASSERT_EQ(c->connections.size(), 1u);
  EXPECT_TRUE(c->connections[0].initiate);
  EXPECT_FALSE(c->connections[0].manual.has_value());
  Result<GatewayConfig> bad = ParseConfig(R"({"local_address": "10.0.0.1", "ike_port": 0})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("config.ike_port"), std::string::npos);
}

TEST(GatewayConfig, PrefixParsing) {
  Result<Ipv4Prefix> p = ParseIpv4Prefix("10.0.2.7/24");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->Contains(0x0A0002FF));
  EXPECT_FALSE(p->Contains(0x0A000300));
  Result<Ipv4Prefix> host = ParseIpv4Prefix("10.0.2.7");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->len, 32);
  Result<Ipv4Prefix> any = ParseIpv4Prefix("0.0.0.0/0");
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(any->Contains(0xC0000201));
  EXPECT_FALSE(ParseIpv4Prefix("10.0.2/24").ok());
  EXPECT_FALSE(ParseIpv4Prefix("10.0.2.0/").ok());
  EXPECT_FALSE(ParseIpv4Prefix("10.0.2.0/2x").ok());
}

TEST(GatewayConfig, MissingFileIsNamed) {
  Result<GatewayConfig> c = LoadConfigFile("/nonexistent/inlinesecd.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/inlinesecd.json"), std::string::npos);
}

}  // namespace
}  // namespace inlinesec::gateway
