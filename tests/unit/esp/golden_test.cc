// Golden output of the model's ESP datapath: for a few fixed SAs and inner
// packets, the exact bytes Engine::Transmit produces, pinned in
// tests/vectors/esp_model_golden.txt. The model is deterministic (IV = seq,
// IPv4 ID = low 16 bits of seq), so these are the vectors an RTL test bench
// checks the silicon against; any change to an output byte must be a
// deliberate change to this file. Each vector also decrypts back through
// Engine::Receive.
#include <gtest/gtest.h>

#include "esp_harness.h"

namespace inlinesec::model {
namespace {

using esp_test::Bytes;
using esp_test::SaSpec;
using esp_test::ToHex;

struct Case {
  const char* name;
  SaSpec spec;
  bool inner_v6;
  std::size_t payload;
  std::uint8_t tos;
};

std::vector<Case> Cases() {
  std::vector<Case> v;
  SaSpec a;
  a.spi = 0x00010001;
  a.seq = 41;
  v.push_back({"tunnel4_in4_gcm256", a, false, 30, (10 << 2) | 2});
  SaSpec b;
  b.spi = 0x00010002;
  b.outer_v6 = true;
  b.esn = true;
  b.udp = true;
  b.sport = 62000;  // a NAT-mapped source port; inbound ESP-in-UDP goes to 4500
  b.dport = 4500;
  b.ttl = 17;
  b.seq = 0x00000001FFFFFFFFull;
  v.push_back({"tunnel6_in6_esn_natt_gcm256", b, true, 17, 0});
  SaSpec c;
  c.spi = 0x00010003;
  c.mode = abi::Mode::kTransport;
  c.algo = abi::Algo::kAesGcm128;
  c.seq = 7;
  v.push_back({"transport4_gcm128", c, false, 5, 0});
  SaSpec d;
  d.spi = 0x00010004;
  d.mode = abi::Mode::kTransport;
  d.outer_v6 = true;
  d.algo = abi::Algo::kChaCha20Poly1305;
  v.push_back({"transport6_chacha", d, true, 12, 0});
  SaSpec e;
  e.spi = 0x00010005;
  e.df = abi::DfMode::kSet;
  e.dscp_mode = abi::DscpMode::kSet;
  e.dscp = 46;
  e.ttl = 5;
  e.udp = true;
  e.sport = 4500;
  e.dport = 4500;
  v.push_back({"tunnel4_in4_natt_df_dscp", e, false, 0, 3});
  return v;
}

TEST(EspGolden, TransmitMatchesPinnedBytes) {
  const auto recs =
      esp_test::ReadVectorFile(std::string(INLINESEC_VECTORS_DIR) + "/esp_model_golden.txt");
  std::map<std::string, std::string> want;
  for (const auto& r : recs) want[r.at("name")] = r.at("out");
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    esp_test::ModelHarness h;
    h.Install(c.spec, 2048);  // inbound twins sit at spi mod 4096 = 1..5
    h.Install(esp_test::Inbound(c.spec));
    const Bytes inner =
        c.inner_v6 ? esp_test::Ipv6Udp(c.payload, c.tos) : esp_test::Ipv4Udp(c.payload, c.tos);
    esp_test::PacketBuf b(inner);
    ASSERT_EQ(h.engine().Transmit(esp_test::TxFor(2048), b.frame), abi::ExqReason::kNone);
    const std::string got = ToHex(b.bytes());
    if (want.count(c.name) == 0) {
      ADD_FAILURE() << "no golden vector; model output:\nname = " << c.name << "\nout = " << got;
    } else {
      EXPECT_EQ(got, want[c.name]);
    }
    esp_test::PacketBuf rx(b.bytes());
    ASSERT_EQ(esp_test::StatusOf(h.engine().Receive(rx.frame)), abi::RxStatus::kDecrypted);
    EXPECT_EQ(rx.bytes(), inner);
  }
}

}  // namespace
}  // namespace inlinesec::model
