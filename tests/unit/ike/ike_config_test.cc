// Tests for the connection file (stack/config.cc), proposal strings,
// proposal selection and the retransmission backoff function.
#include <gtest/gtest.h>

#include "inlinesec/ike/config_file.h"
#include "inlinesec/ike/sa/proposal.h"

namespace inlinesec::ike {
namespace {

using std::chrono::seconds;

constexpr const char* kGood = R"({
  "connections": [
    {
      "name": "site-b",
      "local": "192.0.2.1",
      "remote": "192.0.2.2",
      "remote_port": 4500,
      "local_id": "gw-a.example.org",
      "remote_id": "gw-b.example.org",
      "psk": "s3cret",
      "ike_proposals": ["aes256gcm16-prfsha384-ecp256", "aes128-sha256-modp2048"],
      "ike_lifetime": "4h",
      "ike_rekey_margin": "10m",
      "dpd_interval": 30,
      "static_peer": true,
      "retransmit": {"initial": "2s", "base": 2, "tries": 3},
      "children": [
        {"name": "lan", "local_ts": ["10.1.0.0/16"], "remote_ts": ["10.2.0.0/16", "10.3.0.0/16[6/443]"],
         "esp_proposals": ["aes256gcm16-esn"], "mode": "transport", "lifetime": "1h",
         "rekey_margin": "5m", "life_bytes": 1000000}
      ]
    },
    {"name": "road", "local": "2001:db8::1", "remote": "%any", "psk_hex": "00ff10"}
  ]
})";

TEST(ConfigTest, ParsesEveryField) {
  auto r = ParseConfig(kGood);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  const ConnectionConfig& c = (*r)[0];
  EXPECT_EQ(c.name, "site-b");
  EXPECT_EQ(c.remote.port, 4500);
  EXPECT_EQ(c.local.port, 500);
  EXPECT_EQ(c.local_id.type, IdType::kFqdn);
  EXPECT_TRUE(c.psk.Equals(std::vector<std::uint8_t>{'s', '3', 'c', 'r', 'e', 't'}));
  ASSERT_EQ(c.ike_proposals.size(), 2u);
  EXPECT_EQ(IkeAlgorithmsOf(c.ike_proposals[0]).prf, kPrfHmacSha384);
  EXPECT_EQ(IkeAlgorithmsOf(c.ike_proposals[1]).prf, kPrfHmacSha256);  // from sha256
  EXPECT_EQ(c.ike_lifetime, std::chrono::hours(4));
  EXPECT_EQ(c.dpd_interval, seconds(30));
  EXPECT_TRUE(c.static_peer);
  EXPECT_EQ(c.retransmit.tries, 3);
  ASSERT_EQ(c.children.size(), 1u);
  EXPECT_EQ(c.children[0].mode, IpsecMode::kTransport);
  EXPECT_EQ(c.children[0].remote_ts[1].ip_protocol, 6);
  EXPECT_EQ(c.children[0].life_bytes, 1000000u);
  EXPECT_TRUE((*r)[1].remote_any);
  EXPECT_EQ((*r)[1].local_id.type, IdType::kIpv6Addr);
  EXPECT_EQ((*r)[1].psk.size(), 3u);
}

void ExpectError(const std::string& text, const std::string& fragment) {
  auto r = ParseConfig(text);
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
}

TEST(ConfigTest, ErrorsNameTheLineOrKey) {
  ExpectError("{\n  \"connections\": [\n    {\"name\": \"x\",,}\n  ]\n}", "line 3");
  const std::string base =
      R"({"connections": [{"name": "a", "local": "192.0.2.1", "remote": "192.0.2.2", "psk": "k")";
  ExpectError(base + R"(, "colour": 1}]})", "connections[0].colour: unknown key");
  ExpectError(base + R"(, "ike_proposals": ["aes256-md5"]}]})", "connections[0].ike_proposals[0]");
  ExpectError(
      base +
          R"(, "children": [{"name": "c", "local_ts": ["10.0.0.0/33"], "remote_ts": ["::/0"]}]}]})",
      "connections[0].children[0].local_ts[0]: not a traffic selector");
  ExpectError(base + R"(, "dpd_interval": "soon"}]})", "connections[0].dpd_interval: bad duration");
  ExpectError(base + R"(, "static_peer": "yes"}]})", "connections[0].static_peer");
  ExpectError(
      R"({"connections": [{"name": "a", "local": "192.0.2.1", "remote": "nowhere", "psk": "k"}]})",
      "connections[0].remote: not an IP address");
  ExpectError(R"({"connections": [{"name": "a", "local": "192.0.2.1", "remote": "192.0.2.2"}]})",
              "exactly one of psk");
  ExpectError(
      base + R"(}, {"name": "a", "local": "192.0.2.1", "remote": "192.0.2.3", "psk": "k"}]})",
      "connections[1].name: duplicate");
  EXPECT_FALSE(LoadConfigFile("/nonexistent/ike.json").ok());
}

TEST(ConfigTest, Durations) {
  EXPECT_EQ(ParseDuration("90").value(), seconds(90));
  EXPECT_EQ(ParseDuration("250ms").value(), std::chrono::milliseconds(250));
  EXPECT_EQ(ParseDuration("2d").value(), std::chrono::hours(48));
  EXPECT_FALSE(ParseDuration("5 parsecs").ok());
  EXPECT_FALSE(ParseDuration("").ok());
}

TEST(ProposalTest, SelectionPrefersLocalOrder) {
  std::vector<Proposal> offered = {
      ParseProposal("aes128-sha256-modp2048", ProtocolId::kIke).value(),
      ParseProposal("aes256gcm16-prfsha256-x25519", ProtocolId::kIke).value()};
  offered[1].number = 2;
  std::vector<Proposal> local = {
      ParseProposal("aes256gcm16-prfsha256-x25519", ProtocolId::kIke).value(),
      ParseProposal("aes128-sha256-modp2048", ProtocolId::kIke).value()};
  auto sel = SelectProposal(offered, local);
  ASSERT_TRUE(sel);
  EXPECT_EQ(sel->number, 2);
  EXPECT_EQ(IkeAlgorithmsOf(*sel).dh, kDhCurve25519);
  EXPECT_TRUE(ProposalAcceptable(*sel, offered));
  // A transform with an unknown attribute is never chosen (RFC 7296 §3.3.6).
  offered[1].transforms[0].unknown_attribute = true;
  local.pop_back();
  EXPECT_FALSE(SelectProposal(offered, local));
  // Key lengths must match.
  EXPECT_FALSE(
      SelectProposal({ParseProposal("aes128gcm16-prfsha256-x25519", ProtocolId::kIke).value()},
                     {ParseProposal("aes256gcm16-prfsha256-x25519", ProtocolId::kIke).value()}));
  // ESP: ESN choice negotiated; a proposal with both ESN values matches either.
  Proposal both = ParseProposal("aes128gcm16-esn", ProtocolId::kEsp).value();
  both.transforms.push_back({TransformType::kEsn, kEsnNo});
  auto esp = SelectProposal({both}, {ParseProposal("aes128gcm16-noesn", ProtocolId::kEsp).value()});
  ASSERT_TRUE(esp);
  EXPECT_FALSE(ChildAlgorithmsOf(*esp).esn);
  EXPECT_FALSE(ParseProposal("aes128gcm16", ProtocolId::kIke).ok());    // no prf, no DH
  EXPECT_FALSE(ParseProposal("aes128-x25519", ProtocolId::kIke).ok());  // CBC without integrity
  EXPECT_EQ(ProposalToString(ParseProposal("aes128-sha256-modp2048", ProtocolId::kIke).value()),
            "aes128-prfsha256-sha256-modp2048");
}

TEST(RetransmitTest, BackoffIsExponentialAndCapped) {
  RetransmitPolicy p;
  EXPECT_EQ(RetransmitDelay(p, 0), seconds(4));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(RetransmitDelay(p, 1)).count(),
            7200);
  EXPECT_EQ(RetransmitDelay(p, 10), std::chrono::minutes(10));
  Duration total{0};
  for (int i = 0; i <= p.tries; ++i) total += RetransmitDelay(p, i);
  // strongSwan's default schedule gives up after ~165 s (DESIGN.md).
  EXPECT_NEAR(std::chrono::duration<double>(total).count(), 165.0, 1.0);
}

}  // namespace
}  // namespace inlinesec::ike
