// Cross-check of the model's ESP against DPDK lib/ipsec (librte_ipsec with
// the crypto_openssl vdev, lookaside-none), in process and in both
// directions, over tunnel and transport mode, IPv4 and IPv6, ESN and NAT-T:
//  - model -> DPDK: DPDK's inbound SA decrypts what Engine::Transmit made;
//  - DPDK -> model: Engine::Receive decrypts what DPDK's outbound SA made,
//    and, since both derive the IV from the sequence number, DPDK's ESP
//    bytes (SPI .. ICV) must equal the model's for the same packet.
// Known DPDK 22.11 behaviours the test lives with, each stated where used:
// lib/ipsec supports NAT-T in tunnel mode only (transport NAT-T combos are
// skipped with that reason); its inbound SAs cannot carry the NAT-T flag, so
// the peer skips the UDP header by counting it in the mbuf's l3_len; it
// leaves the outer IPv4 header checksum to the NIC or application
// (ipsec-secgw offloads it), so the test fills it in before handing DPDK's
// packet to the model, and it takes the outer protocol (UDP for NAT-T) from
// the application's header template.
#include <gtest/gtest.h>

#include "esp_dpdk_peer.h"
#include "esp_harness.h"
#include "esp_interop_util.h"

namespace inlinesec::esp_interop {
namespace {

using esp_test::Bytes;
using esp_test::ToHex;

std::size_t EspOffset(const Combo& c) {
  std::size_t off = c.mode == abi::Mode::kTunnel ? (c.outer_v6 ? 40 : 20) : (c.inner_v6 ? 40 : 20);
  return off + (c.udp ? 8 : 0);
}

// What an application does after DPDK (or a NIC would): the IPv4 checksum.
void FixIpv4Checksum(Bytes& p) {
  if (p.size() < 20 || (p[0] >> 4) != 4) return;
  const std::size_t l3 = std::size_t{p[0] & 0x0Fu} * 4;
  p[10] = 0;
  p[11] = 0;
  StoreBe16(&p[10], esp_test::Checksum({p.data(), l3}));
}

class EspDpdkInterop : public ::testing::TestWithParam<Combo> {
 protected:
  void SetUp() override {
    std::string why;
    if (!DpdkUp(why)) GTEST_SKIP() << "DPDK unavailable: " << why;
    const Combo& c = GetParam();
    if (c.udp && c.mode == abi::Mode::kTransport)
      GTEST_SKIP() << "DPDK 22.11 lib/ipsec supports NAT-T (UDP encapsulation) in tunnel mode only";
    if (!DpdkSupports(c.algo))
      GTEST_SKIP() << "the crypto_openssl cryptodev does not offer this AEAD";
  }
};

TEST_P(EspDpdkInterop, BothDirections) {
  const Combo c = GetParam();
  esp_test::ModelHarness h;
  const esp_test::SaSpec spec =
      SpecFor(c, 0x00040000 + static_cast<std::uint32_t>(c.Name().size()));
  h.Install(spec, 1);
  h.Install(esp_test::Inbound(spec));
  DpdkSa dpdk_in, dpdk_out;
  std::string err;
  ASSERT_TRUE(dpdk_in.Init(esp_test::Inbound(spec), c.inner_v6, err)) << err;
  ASSERT_TRUE(dpdk_out.Init(spec, c.inner_v6, err)) << err;

  std::uint64_t seq = spec.seq;
  for (std::size_t size : {0u, 1u, 61u, 1000u}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const Bytes inner = InnerFor(c, size);
    ++seq;
    // model -> DPDK
    esp_test::PacketBuf b(inner);
    ASSERT_EQ(h.engine().Transmit(esp_test::TxFor(1), b.frame), abi::ExqReason::kNone);
    const Bytes model_wire = b.bytes();
    Bytes dpdk_plain;
    ASSERT_TRUE(dpdk_in.Process(model_wire, dpdk_plain, err)) << err;
    FixIpv4Checksum(dpdk_plain);  // transport: DPDK leaves the checksum
    EXPECT_EQ(ToHex(dpdk_plain), ToHex(inner));

    // DPDK -> model
    Bytes dpdk_wire;
    ASSERT_TRUE(dpdk_out.Process(inner, dpdk_wire, err)) << err;
    ASSERT_GT(dpdk_wire.size(), EspOffset(c));
    EXPECT_EQ(ToHex({dpdk_wire.data() + EspOffset(c), dpdk_wire.size() - EspOffset(c)}),
              ToHex({model_wire.data() + EspOffset(c), model_wire.size() - EspOffset(c)}))
        << "DPDK and the model disagree on the ESP bytes of seq " << seq;
    FixIpv4Checksum(dpdk_wire);
    esp_test::PacketBuf rx(dpdk_wire);
    const abi::RxMeta m = h.engine().Receive(rx.frame);
    ASSERT_EQ(esp_test::StatusOf(m), abi::RxStatus::kDecrypted)
        << "reason " << int(esp_test::ReasonOf(m)) << " wire " << ToHex(dpdk_wire);
    EXPECT_EQ(m.seq.get(), seq);
    EXPECT_EQ(ToHex(rx.bytes()), ToHex(inner));
  }
  EXPECT_TRUE(h.DrainExq().empty());
}

INSTANTIATE_TEST_SUITE_P(All, EspDpdkInterop, ::testing::ValuesIn(Combos()),
                         [](const auto& p) { return p.param.Name(); });

}  // namespace
}  // namespace inlinesec::esp_interop
