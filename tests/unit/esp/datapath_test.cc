// Engine::Transmit / Engine::Receive through the model's public interface:
// round trips over every mode, family, ESN and NAT-T combination; what each
// outer header field becomes; sequence numbers, ESN and exhaustion; replay,
// ICV, SPI-miss, padding and lifetime outcomes with their exception entries,
// per-SA state and global counters; IKE passthrough and bypass.
#include <gtest/gtest.h>

#include <tuple>

#include "esp_harness.h"
#include "inlinesec/model/esp/aead.h"
#include "inlinesec/model/esp/esp.h"

namespace inlinesec::model {
namespace {

using abi::ExqReason;
using abi::RxStatus;
using esp_test::Bytes;
using esp_test::ModelHarness;
using esp_test::PacketBuf;
using esp_test::SaSpec;

constexpr std::uint32_t kSpi = 0x00012345;  // index 0x345 in a 4096-entry table

// ------------------------------------------------------------ round trips

struct Combo {
  abi::Mode mode;
  bool outer_v6;
  bool inner_v6;
  bool esn;
  bool udp;
  abi::Algo algo;
};

class RoundTrip : public ::testing::TestWithParam<Combo> {};

TEST_P(RoundTrip, TransmitThenReceive) {
  const Combo c = GetParam();
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.mode = c.mode;
  s.outer_v6 = c.outer_v6;
  s.esn = c.esn;
  s.udp = c.udp;
  s.algo = c.algo;
  s.sport = 41000;
  s.seq = c.esn ? 0xFFFFFFFEull : 0;  // ESN: cross 2^32 on the way
  const std::uint32_t out = h.Install(s, 7);
  SaSpec in = esp_test::Inbound(s);
  const std::uint32_t in_index = h.Install(in);
  for (std::size_t size : {0u, 1u, 2u, 3u, 4u, 57u, 1400u}) {
    const Bytes pkt = c.inner_v6 ? esp_test::Ipv6Udp(size) : esp_test::Ipv4Udp(size);
    PacketBuf buf(pkt);
    ASSERT_EQ(h.engine().Transmit(esp_test::TxFor(out), buf.frame), ExqReason::kNone) << size;
    const Bytes wire = buf.bytes();
    // The ESP payload is 4-byte aligned (RFC 4303 §2.4).
    const std::size_t l3 = c.outer_v6 ? 40 : 20;
    const std::size_t hdr =
        (c.mode == abi::Mode::kTunnel ? l3 : (c.inner_v6 ? 40 : 20)) + (c.udp ? 8 : 0);
    ASSERT_EQ((wire.size() - hdr - 16 - 16) % 4, 0u);
    PacketBuf rx(wire);
    const abi::RxMeta m = h.engine().Receive(rx.frame);
    ASSERT_EQ(esp_test::StatusOf(m), RxStatus::kDecrypted)
        << "size " << size << " reason " << int(esp_test::ReasonOf(m));
    EXPECT_EQ(rx.bytes(), pkt);
    EXPECT_EQ(m.spi.get(), kSpi);
    EXPECT_EQ(m.sa_index.get(), in_index);
    EXPECT_EQ(m.cookie.get(), in.cookie);
    EXPECT_EQ(abi::rx_ctl::UdpEncap::Get(m.ctl.get()), c.udp ? 1u : 0u);
    EXPECT_EQ(abi::rx_ctl::Tunnel::Get(m.ctl.get()), c.mode == abi::Mode::kTunnel ? 1u : 0u);
    EXPECT_EQ(abi::rx_ctl::NextHeader::Get(m.ctl.get()),
              c.mode == abi::Mode::kTunnel ? (c.inner_v6 ? 41u : 4u) : 17u);
  }
  abi::SaState st{};
  ASSERT_TRUE(h.ReadSa(out, st));
  EXPECT_EQ(st.packets.get(), 7u);
  EXPECT_EQ(st.seq.get(), s.seq + 7);
  ASSERT_TRUE(h.ReadSa(in_index, st));
  EXPECT_EQ(st.packets.get(), 7u);
  EXPECT_EQ(st.seq.get(), s.seq + 7);
  EXPECT_TRUE(h.DrainExq().empty());
}

std::vector<Combo> AllCombos() {
  std::vector<Combo> v;
  for (abi::Mode mode : {abi::Mode::kTunnel, abi::Mode::kTransport})
    for (bool outer_v6 : {false, true})
      for (bool inner_v6 : {false, true})
        for (bool esn : {false, true})
          for (bool udp : {false, true}) {
            if (mode == abi::Mode::kTransport && inner_v6 != outer_v6) continue;
            v.push_back({mode, outer_v6, inner_v6, esn, udp, abi::Algo::kAesGcm256});
          }
  v.push_back({abi::Mode::kTunnel, false, false, false, false, abi::Algo::kAesGcm128});
  v.push_back({abi::Mode::kTunnel, true, false, true, true, abi::Algo::kChaCha20Poly1305});
  v.push_back({abi::Mode::kTransport, false, false, false, false, abi::Algo::kChaCha20Poly1305});
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, RoundTrip, ::testing::ValuesIn(AllCombos()));

// ------------------------------------------------------------ header fields

Bytes Send(ModelHarness& h, std::uint32_t index, const Bytes& pkt,
           ExqReason want = ExqReason::kNone) {
  PacketBuf buf(pkt);
  EXPECT_EQ(h.engine().Transmit(esp_test::TxFor(index), buf.frame), want);
  return buf.bytes();
}

TEST(EspHeaders, TunnelIpv4Outer) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.seq = 0x1233;
  h.Install(s, 1);
  // tos: DSCP 46 (EF), ECN ECT(0); DF set on the inner packet.
  const Bytes inner = esp_test::Ipv4Udp(100, (46 << 2) | 2, true);
  const Bytes w = Send(h, 1, inner);
  ASSERT_GE(w.size(), 36u);
  EXPECT_EQ(w[0], 0x45);
  EXPECT_EQ(w[1], (46 << 2) | 2);  // DSCP copied, ECN copied (RFC 6040 normal mode)
  EXPECT_EQ(LoadBe16(&w[2]), w.size());
  EXPECT_EQ(LoadBe16(&w[4]), 0x1234);  // ID = low 16 bits of seq
  EXPECT_EQ(LoadBe16(&w[6]), 0x4000);  // DF copied
  EXPECT_EQ(w[8], 64);                 // TTL 0 in the SA => 64
  EXPECT_EQ(w[9], 50);
  EXPECT_EQ(esp_test::Checksum({w.data(), 20}), 0);
  EXPECT_EQ(Bytes(w.begin() + 12, w.begin() + 16), Bytes({192, 0, 2, 1}));
  EXPECT_EQ(Bytes(w.begin() + 16, w.begin() + 20), Bytes({192, 0, 2, 2}));
  EXPECT_EQ(LoadBe32(&w[20]), kSpi);
  EXPECT_EQ(LoadBe32(&w[24]), 0x1234u);
  // Explicit IV = the 64-bit sequence number.
  EXPECT_EQ(Bytes(w.begin() + 28, w.begin() + 36), Bytes({0, 0, 0, 0, 0, 0, 0x12, 0x34}));
  // Payload + pad + 2 is a multiple of 4; total = 20 + 16 + ct + 16.
  const std::size_t ct = w.size() - 20 - 16 - 16;
  EXPECT_EQ(ct % 4, 0u);
  EXPECT_EQ(ct - inner.size(), 2u + ((4 - (inner.size() + 2) % 4) % 4));
}

TEST(EspHeaders, TunnelIpv4DfDscpTtlControls) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.ttl = 7;
  s.df = abi::DfMode::kSet;
  s.dscp_mode = abi::DscpMode::kSet;
  s.dscp = 10;
  h.Install(s, 1);
  s.df = abi::DfMode::kClear;
  h.Install(s, 2);
  const Bytes w1 = Send(h, 1, esp_test::Ipv4Udp(10, 3, false));  // inner CE, no DF
  EXPECT_EQ(w1[8], 7);
  EXPECT_EQ(LoadBe16(&w1[6]), 0x4000);
  EXPECT_EQ(w1[1], (10 << 2) | 3);  // DSCP from the SA, ECN copied
  const Bytes w2 = Send(h, 2, esp_test::Ipv4Udp(10, 0, true));
  EXPECT_EQ(LoadBe16(&w2[6]), 0);
  // Copy mode with an inner IPv6 packet: DF set (IPv6 is never fragmented on path).
  SaSpec c;
  c.spi = kSpi;
  h.Install(c, 3);
  const Bytes w3 = Send(h, 3, esp_test::Ipv6Udp(10, (12 << 2) | 1));
  EXPECT_EQ(LoadBe16(&w3[6]), 0x4000);
  EXPECT_EQ(w3[1], (12 << 2) | 1);
  EXPECT_EQ(w3[9], 50);
}

TEST(EspHeaders, TunnelIpv6OuterWithNatT) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.outer_v6 = true;
  s.udp = true;
  s.sport = 4500;
  s.dport = 31000;
  s.ttl = 9;
  h.Install(s, 1);
  const Bytes inner = esp_test::Ipv4Udp(33, (8 << 2) | 1);
  const Bytes w = Send(h, 1, inner);
  EXPECT_EQ(w[0] >> 4, 6);
  const std::uint8_t tc = static_cast<std::uint8_t>(((w[0] & 15) << 4) | (w[1] >> 4));
  EXPECT_EQ(tc, (8 << 2) | 1);
  EXPECT_EQ(w[1] & 15, 0);  // flow label 0
  EXPECT_EQ(w[2], 0);
  EXPECT_EQ(w[3], 0);
  EXPECT_EQ(LoadBe16(&w[4]), w.size() - 40);
  EXPECT_EQ(w[6], 17);
  EXPECT_EQ(w[7], 9);
  EXPECT_EQ(LoadBe16(&w[40]), 4500);
  EXPECT_EQ(LoadBe16(&w[42]), 31000);
  EXPECT_EQ(LoadBe16(&w[44]), w.size() - 40);
  // IPv6 UDP checksum is computed (RFC 8200 §8.1) and verifies to zero.
  ASSERT_NE(LoadBe16(&w[46]), 0);
  Bytes pseudo(w.begin() + 8, w.begin() + 40);
  pseudo.push_back(0);
  pseudo.push_back(0);
  pseudo.push_back(static_cast<std::uint8_t>((w.size() - 40) >> 8));
  pseudo.push_back(static_cast<std::uint8_t>(w.size() - 40));
  pseudo.insert(pseudo.end(), {0, 0, 0, 17});
  pseudo.insert(pseudo.end(), w.begin() + 40, w.end());
  EXPECT_EQ(esp_test::Checksum(pseudo), 0);
}

TEST(EspHeaders, NatTIpv4ChecksumZeroAndTransportKeepsHeader) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.udp = true;
  s.sport = 4500;
  s.dport = 4500;
  s.mode = abi::Mode::kTransport;
  h.Install(s, 1);
  const Bytes inner = esp_test::Ipv4Udp(50, 0x20, true, 33);
  const Bytes w = Send(h, 1, inner);
  EXPECT_EQ(w[9], 17);
  EXPECT_EQ(w[8], 33);  // transport mode leaves TTL, TOS, DF, ID, addresses
  EXPECT_EQ(w[1], 0x20);
  EXPECT_EQ(LoadBe16(&w[6]), 0x4000);
  EXPECT_EQ(Bytes(w.begin() + 12, w.begin() + 20), Bytes(inner.begin() + 12, inner.begin() + 20));
  EXPECT_EQ(LoadBe16(&w[2]), w.size());
  EXPECT_EQ(esp_test::Checksum({w.data(), 20}), 0);
  EXPECT_EQ(LoadBe16(&w[24]), w.size() - 20);
  EXPECT_EQ(LoadBe16(&w[26]), 0);  // RFC 3948 §2.1: zero checksum over IPv4
}

TEST(EspHeaders, TransportRejectsWhatItCannotCarry) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.mode = abi::Mode::kTransport;
  h.Install(s, 1);
  s.outer_v6 = true;
  h.Install(s, 2);
  Bytes frag = esp_test::Ipv4Udp(20);
  StoreBe16(&frag[6], 0x2000);  // MF
  Send(h, 1, frag, ExqReason::kMalformed);
  Send(h, 1, esp_test::Ipv6Udp(20), ExqReason::kMalformed);  // family mismatch
  Bytes ext = esp_test::Ipv6Udp(20);
  ext[6] = 0;  // hop-by-hop options next
  Send(h, 2, ext, ExqReason::kMalformed);
  Bytes trunc = esp_test::Ipv4Udp(20);
  trunc.resize(30);
  Send(h, 1, trunc, ExqReason::kMalformed);
  // Protocol 59 would go out as an ESP dummy packet (found by libFuzzer).
  Bytes no_next = esp_test::Ipv4Udp(20);
  no_next[9] = 59;
  no_next[10] = no_next[11] = 0;
  StoreBe16(&no_next[10], esp_test::Checksum({no_next.data(), 20}));
  Send(h, 1, no_next, ExqReason::kMalformed);
  const auto x = h.DrainExq();
  ASSERT_EQ(x.size(), 5u);
  for (const auto& e : x) {
    EXPECT_EQ(esp_test::ReasonOf(e), ExqReason::kMalformed);
    EXPECT_EQ(abi::exq_ctl::Outbound::Get(e.ctl.get()), 1u);
    EXPECT_EQ(e.spi.get(), kSpi);
  }
  abi::SaState st{};
  ASSERT_TRUE(h.ReadSa(1, st));
  EXPECT_EQ(st.seq.get(), 0u);  // a refused packet uses no sequence number
}

// --------------------------------------------------------- sequence numbers

TEST(EspSeq, ExhaustionWithoutEsnStopsTheSa) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.seq = 0xFFFFFFFEull;
  h.Install(s, 1);
  const Bytes w = Send(h, 1, esp_test::Ipv4Udp(10));
  EXPECT_EQ(LoadBe32(&w[24]), 0xFFFFFFFFu);  // the last number is sent
  Send(h, 1, esp_test::Ipv4Udp(10), ExqReason::kSeqOverflow);
  Send(h, 1, esp_test::Ipv4Udp(10), ExqReason::kSeqOverflow);
  abi::SaState st{};
  ASSERT_TRUE(h.ReadSa(1, st));
  EXPECT_NE(abi::sa_state::SeqOverflow::Get(st.state.get()), 0u);
  EXPECT_EQ(st.seq.get(), 0xFFFFFFFFull);
  EXPECT_EQ(st.packets.get(), 1u);
  const auto x = h.DrainExq();
  ASSERT_EQ(x.size(), 2u);
  EXPECT_EQ(esp_test::ReasonOf(x[0]), ExqReason::kSeqOverflow);
  EXPECT_EQ(x[0].sa_index.get(), 1u);
  abi::GlobalStats g{};
  ASSERT_TRUE(h.ReadStats(g));
  EXPECT_EQ(g.seq_overflows.get(), 2u);
  EXPECT_EQ(g.tx_packets.get(), 1u);
}

TEST(EspSeq, EsnCarriesHighBitsInIvAndAadOnly) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.esn = true;
  s.seq = 0x00000003FFFFFFFFull;
  h.Install(s, 1);
  h.Install(esp_test::Inbound(s));
  const Bytes w = Send(h, 1, esp_test::Ipv4Udp(10));
  EXPECT_EQ(LoadBe32(&w[24]), 0u);  // low 32 bits of 0x4_00000000
  EXPECT_EQ(Bytes(w.begin() + 28, w.begin() + 36), Bytes({0, 0, 0, 4, 0, 0, 0, 0}));
  PacketBuf rx(w);
  const abi::RxMeta m = h.engine().Receive(rx.frame);
  ASSERT_EQ(esp_test::StatusOf(m), RxStatus::kDecrypted);
  EXPECT_EQ(m.seq.get(), 0x400000000ull);
}

// ------------------------------------------------------------ inbound errors

struct InboundFixture : ::testing::Test {
  ModelHarness h;
  SaSpec s;
  std::uint32_t in_index = 0;
  void SetUp() override {
    s.spi = kSpi;
    s.udp = true;
    s.sport = 4500;
    s.dport = 4500;
    h.Install(s, 1);
    in_index = h.Install(esp_test::Inbound(s));
  }
  Bytes Make(std::size_t size = 40) { return Send(h, 1, esp_test::Ipv4Udp(size)); }
  abi::RxMeta Recv(const Bytes& w, Bytes* out = nullptr) {
    PacketBuf b(w);
    abi::RxMeta m = h.engine().Receive(b.frame);
    if (out) *out = b.bytes();
    return m;
  }
};

TEST_F(InboundFixture, ReplayIsRefusedAndReported) {
  const Bytes w = Make();
  ASSERT_EQ(esp_test::StatusOf(Recv(w)), RxStatus::kDecrypted);
  h.clock().Advance(std::chrono::microseconds(5));
  const abi::RxMeta m = Recv(w);
  EXPECT_EQ(esp_test::StatusOf(m), RxStatus::kFailed);
  EXPECT_EQ(esp_test::ReasonOf(m), ExqReason::kReplay);
  EXPECT_EQ(m.sa_index.get(), in_index);
  const auto x = h.DrainExq();
  ASSERT_EQ(x.size(), 1u);
  const abi::ExqEntry& e = x[0];
  EXPECT_EQ(esp_test::ReasonOf(e), ExqReason::kReplay);
  EXPECT_EQ(e.spi.get(), kSpi);
  EXPECT_EQ(e.sa_index.get(), in_index);
  EXPECT_EQ(e.seq.get(), 1u);
  EXPECT_EQ(e.orig_len.get(), w.size());
  EXPECT_EQ(abi::exq_ctl::UdpEncap::Get(e.ctl.get()), 1u);
  EXPECT_EQ(abi::exq_ctl::Outbound::Get(e.ctl.get()), 0u);
  EXPECT_EQ(e.sport.get(), 4500);
  EXPECT_EQ(e.dport.get(), 4500);
  EXPECT_EQ(Bytes(e.src.begin(), e.src.begin() + 4), Bytes({192, 0, 2, 1}));
  EXPECT_EQ(abi::exq_ctl::SnapLen::Get(e.ctl.get()), 60u);
  EXPECT_EQ(Bytes(e.snap.begin(), e.snap.end()), Bytes(w.begin(), w.begin() + 60));
  abi::SaState st{};
  ASSERT_TRUE(h.ReadSa(in_index, st));
  EXPECT_EQ(st.replay_drops.get(), 1u);
  EXPECT_EQ(st.packets.get(), 1u);
}

TEST_F(InboundFixture, IcvFailureChangesNoSaState) {
  const Bytes w1 = Make();
  const Bytes w2 = Make();
  Bytes bad = w2;
  bad[bad.size() - 20] ^= 0x01;
  Bytes snap_src = bad;
  const abi::RxMeta m = Recv(bad);
  EXPECT_EQ(esp_test::ReasonOf(m), ExqReason::kIcvFail);
  const auto x = h.DrainExq();
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(esp_test::ReasonOf(x[0]), ExqReason::kIcvFail);
  EXPECT_EQ(x[0].seq.get(), 2u);
  // The snapshot is the packet as received, not the decrypted bytes.
  EXPECT_EQ(Bytes(x[0].snap.begin(), x[0].snap.end()),
            Bytes(snap_src.begin(), snap_src.begin() + 60));
  abi::SaState st{};
  ASSERT_TRUE(h.ReadSa(in_index, st));
  EXPECT_EQ(st.seq.get(), 0u);  // the window did not move
  EXPECT_EQ(st.auth_fails.get(), 1u);
  EXPECT_EQ(st.packets.get(), 0u);
  // Both genuine packets still pass, in any order.
  EXPECT_EQ(esp_test::StatusOf(Recv(w2)), RxStatus::kDecrypted);
  EXPECT_EQ(esp_test::StatusOf(Recv(w1)), RxStatus::kDecrypted);
}

TEST_F(InboundFixture, SpiMissReportsEverything) {
  Bytes w = Make();
  StoreBe32(&w[28], kSpi + 0x1000);  // same index, other SPI: an older generation
  h.clock().Advance(std::chrono::seconds(3));
  const abi::RxMeta m = Recv(w);
  EXPECT_EQ(esp_test::ReasonOf(m), ExqReason::kSpiMiss);
  EXPECT_EQ(m.sa_index.get(), abi::kExqNoSa);
  const auto x = h.DrainExq();
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(esp_test::ReasonOf(x[0]), ExqReason::kSpiMiss);
  EXPECT_EQ(x[0].spi.get(), kSpi + 0x1000);
  EXPECT_EQ(x[0].sa_index.get(), abi::kExqNoSa);
  EXPECT_EQ(x[0].seq.get(), 1u);
  EXPECT_EQ(x[0].orig_len.get(), w.size());
  EXPECT_EQ(x[0].sport.get(), 4500);
  EXPECT_EQ(Bytes(x[0].dst.begin(), x[0].dst.begin() + 4), Bytes({192, 0, 2, 2}));
  EXPECT_EQ(x[0].timestamp.get(), static_cast<std::uint64_t>(h.clock().Now().since_epoch.count()));
  abi::GlobalStats g{};
  ASSERT_TRUE(h.ReadStats(g));
  EXPECT_EQ(g.spi_miss.get(), 1u);
  EXPECT_EQ(g.rx_packets.get(), 1u);
}

TEST_F(InboundFixture, IkeAndKeepaliveGoToHostUntouched) {
  Bytes ike = esp_test::Ipv4Udp(40);
  StoreBe16(&ike[20], 4500);
  StoreBe16(&ike[22], 4500);
  for (int i = 0; i < 4; ++i) ike[28 + i] = 0;
  Bytes out;
  EXPECT_EQ(esp_test::StatusOf(Recv(ike, &out)), RxStatus::kIkeToHost);
  EXPECT_EQ(out, ike);
  Bytes ka = esp_test::Ipv4Udp(1);
  StoreBe16(&ka[22], 4500);
  ka[28] = 0xFF;
  EXPECT_EQ(esp_test::StatusOf(Recv(ka, &out)), RxStatus::kIkeToHost);
  EXPECT_EQ(out, ka);
  const Bytes plain = esp_test::Ipv4Udp(40);
  EXPECT_EQ(esp_test::StatusOf(Recv(plain, &out)), RxStatus::kBypass);
  EXPECT_EQ(out, plain);
  EXPECT_TRUE(h.DrainExq().empty());
  abi::GlobalStats g{};
  ASSERT_TRUE(h.ReadStats(g));
  EXPECT_EQ(g.ike_passthrough.get(), 2u);
  EXPECT_EQ(g.rx_packets.get(), 0u);
}

// An ESP packet with a chosen trailer, sealed with the SA's own key.
Bytes Craft(const SaSpec& s, std::uint64_t seq, const Bytes& plaintext_with_trailer) {
  const abi::SaEntry e = esp_test::MakeSa(s);
  auto aead = esp::Aead::Create(s.algo, std::span(e.key.data(), esp_test::KeyLen(s.algo)), e.salt);
  EXPECT_TRUE(aead.ok());
  Bytes w = esp_test::Ipv4Udp(0);
  w.resize(20);
  w[9] = 50;
  const std::size_t esp_off = w.size();
  w.resize(esp_off + 16 + plaintext_with_trailer.size() + 16);
  StoreBe32(&w[esp_off], s.spi);
  StoreBe32(&w[esp_off + 4], static_cast<std::uint32_t>(seq));
  const auto iv = esp::IvForSeq(seq);
  std::copy(iv.begin(), iv.end(), w.begin() + static_cast<std::ptrdiff_t>(esp_off + 8));
  std::copy(plaintext_with_trailer.begin(), plaintext_with_trailer.end(),
            w.begin() + static_cast<std::ptrdiff_t>(esp_off + 16));
  std::uint8_t aad[8];
  StoreBe32(aad, s.spi);
  StoreBe32(aad + 4, static_cast<std::uint32_t>(seq));
  std::span<std::uint8_t> ct(&w[esp_off + 16], plaintext_with_trailer.size());
  EXPECT_TRUE(
      aead->Seal(iv, aad, ct, std::span<std::uint8_t, 16>(&w[esp_off + 16 + ct.size()], 16)));
  StoreBe16(&w[2], static_cast<std::uint16_t>(w.size()));
  w[10] = w[11] = 0;
  StoreBe16(&w[10], esp_test::Checksum({w.data(), 20}));
  return w;
}

TEST(EspInbound, PaddingAndNextHeaderAreChecked) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.dir = abi::Dir::kInbound;
  const std::uint32_t index = h.Install(s);
  Bytes inner = esp_test::Ipv4Udp(6);  // 34 bytes: pad 0
  Bytes good = inner;
  good.insert(good.end(), {0, 4});
  Bytes bad_pad = esp_test::Ipv4Udp(4);  // 32 bytes: pad 2
  bad_pad.insert(bad_pad.end(), {1, 3, 2, 4});
  Bytes bad_nh = inner;
  bad_nh.insert(bad_nh.end(), {0, 41});  // says IPv6, holds IPv4
  Bytes dummy = inner;
  dummy.insert(dummy.end(), {0, 59});
  Bytes pad_too_long = esp_test::Ipv4Udp(6);
  pad_too_long.insert(pad_too_long.end(), {200, 4});
  std::uint64_t seq = 1;
  for (const Bytes& pt : {bad_pad, bad_nh, dummy, pad_too_long}) {
    PacketBuf b(Craft(s, seq, pt));
    const abi::RxMeta m = h.engine().Receive(b.frame);
    EXPECT_EQ(esp_test::ReasonOf(m), ExqReason::kMalformed) << seq;
    ++seq;
  }
  PacketBuf ok(Craft(s, seq, good));
  EXPECT_EQ(esp_test::StatusOf(h.engine().Receive(ok.frame)), RxStatus::kDecrypted);
  EXPECT_EQ(ok.bytes(), inner);
  // An authentic packet with bad padding still used its sequence number.
  PacketBuf again(Craft(s, 1, good));
  EXPECT_EQ(esp_test::ReasonOf(h.engine().Receive(again.frame)), ExqReason::kReplay);
  abi::GlobalStats g{};
  ASSERT_TRUE(h.ReadStats(g));
  EXPECT_EQ(g.malformed.get(), 4u);
  EXPECT_EQ(g.replay_drops.get(), 1u);
  abi::SaState st{};
  ASSERT_TRUE(h.ReadSa(index, st));
  EXPECT_EQ(st.packets.get(), 1u);
}

TEST(EspInbound, TruncatedEspIsMalformed) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  h.Install(s, 1);
  h.Install(esp_test::Inbound(s));
  const Bytes w = Send(h, 1, esp_test::Ipv4Udp(10));
  Bytes cut(w.begin(), w.begin() + 40);
  StoreBe16(&cut[2], 40);
  cut[10] = cut[11] = 0;
  StoreBe16(&cut[10], esp_test::Checksum({cut.data(), 20}));
  PacketBuf b(cut);
  const abi::RxMeta m = h.engine().Receive(b.frame);
  EXPECT_EQ(esp_test::ReasonOf(m), ExqReason::kMalformed);
  // A total length beyond the buffer: malformed, never read past the end.
  Bytes lie = w;
  StoreBe16(&lie[2], static_cast<std::uint16_t>(w.size() + 100));
  PacketBuf b2(lie);
  EXPECT_EQ(esp_test::ReasonOf(h.engine().Receive(b2.frame)), ExqReason::kMalformed);
  // A bad IPv4 header checksum on ESP: malformed.
  Bytes sum = w;
  sum[10] ^= 1;
  PacketBuf b3(sum);
  EXPECT_EQ(esp_test::ReasonOf(h.engine().Receive(b3.frame)), ExqReason::kMalformed);
}

TEST(EspInbound, TunnelEcnIsPropagatedPerRfc6040) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  h.Install(s, 1);
  h.Install(esp_test::Inbound(s));
  Bytes w = Send(h, 1, esp_test::Ipv4Udp(10, 2));  // inner ECT(0)
  w[1] |= 3;                                       // congestion on the path: outer CE
  w[10] = w[11] = 0;
  StoreBe16(&w[10], esp_test::Checksum({w.data(), 20}));
  PacketBuf b(w);
  ASSERT_EQ(esp_test::StatusOf(h.engine().Receive(b.frame)), RxStatus::kDecrypted);
  const Bytes inner = b.bytes();
  EXPECT_EQ(inner[1] & 3, 3);
  EXPECT_EQ(esp_test::Checksum({inner.data(), 20}), 0);
}

// The same rules under an IPv6 outer header, whose ECN bits sit in the
// traffic class (the low nibble of byte 1's high half): CE marks the inner
// ECT(0) packet CE, ECT(1) turns it into ECT(1), ECT(0) leaves it alone.
TEST(EspInbound, TunnelEcnUnderIpv6OuterHeader) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.outer_v6 = true;
  h.Install(s, 1);
  h.Install(esp_test::Inbound(s));
  for (const auto& [outer_ecn, inner_ecn] :
       {std::pair<int, int>{3, 3}, std::pair<int, int>{1, 1}, std::pair<int, int>{2, 2}}) {
    Bytes w = Send(h, 1, esp_test::Ipv4Udp(10, 2));  // inner ECT(0)
    ASSERT_EQ(w[0] >> 4, 6);
    w[1] = static_cast<std::uint8_t>((w[1] & 0xCF) | (outer_ecn << 4));
    PacketBuf b(w);
    ASSERT_EQ(esp_test::StatusOf(h.engine().Receive(b.frame)), RxStatus::kDecrypted) << outer_ecn;
    const Bytes inner = b.bytes();
    EXPECT_EQ(inner[1] & 3, inner_ecn) << outer_ecn;
    EXPECT_EQ(esp_test::Checksum({inner.data(), 20}), 0);
  }
}

// ---------------------------------------------------------------- lifetimes

TEST(EspLifetime, PacketLimitsSoftOnceThenHardStops) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  s.soft_packets = 2;
  s.hard_packets = 3;
  h.Install(s, 1);
  for (int i = 0; i < 3; ++i) Send(h, 1, esp_test::Ipv4Udp(10));
  Send(h, 1, esp_test::Ipv4Udp(10), ExqReason::kHardLifetime);
  const auto x = h.DrainExq();
  ASSERT_EQ(x.size(), 3u);
  EXPECT_EQ(esp_test::ReasonOf(x[0]), ExqReason::kSoftLifetime);
  EXPECT_EQ(x[0].seq.get(), 2u);
  EXPECT_EQ(esp_test::ReasonOf(x[1]), ExqReason::kHardLifetime);
  EXPECT_EQ(x[1].seq.get(), 3u);
  EXPECT_EQ(esp_test::ReasonOf(x[2]), ExqReason::kHardLifetime);
  EXPECT_EQ(abi::exq_ctl::Outbound::Get(x[2].ctl.get()), 1u);
  abi::SaState st{};
  ASSERT_TRUE(h.ReadSa(1, st));
  EXPECT_NE(abi::sa_state::SoftExpired::Get(st.state.get()), 0u);
  EXPECT_NE(abi::sa_state::HardExpired::Get(st.state.get()), 0u);
  EXPECT_EQ(st.packets.get(), 3u);
  abi::GlobalStats g{};
  ASSERT_TRUE(h.ReadStats(g));
  EXPECT_EQ(g.lifetime_drops.get(), 1u);
}

TEST(EspLifetime, InboundByteLimitsCountInnerBytes) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  h.Install(s, 1);
  SaSpec in = esp_test::Inbound(s);
  const std::size_t inner = esp_test::Ipv4Udp(72).size();  // 100 bytes
  in.soft_bytes = 150;
  in.hard_bytes = 300;
  const std::uint32_t index = h.Install(in);
  std::vector<abi::ExqReason> got;
  for (int i = 0; i < 4; ++i) {
    PacketBuf b(Send(h, 1, esp_test::Ipv4Udp(72)));
    got.push_back(esp_test::ReasonOf(h.engine().Receive(b.frame)));
  }
  EXPECT_EQ(got, (std::vector<ExqReason>{ExqReason::kNone, ExqReason::kNone, ExqReason::kNone,
                                         ExqReason::kHardLifetime}));
  abi::SaState st{};
  ASSERT_TRUE(h.ReadSa(index, st));
  EXPECT_EQ(st.bytes.get(), 3 * inner);
  const auto x = h.DrainExq();
  ASSERT_EQ(x.size(), 3u);
  EXPECT_EQ(esp_test::ReasonOf(x[0]), ExqReason::kSoftLifetime);
  EXPECT_EQ(esp_test::ReasonOf(x[1]), ExqReason::kHardLifetime);
  EXPECT_EQ(esp_test::ReasonOf(x[2]), ExqReason::kHardLifetime);
}

// ------------------------------------------------------------ metadata rules

TEST(EspTx, MetadataRules) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  h.Install(s, 1);
  const std::uint32_t in_index = h.Install(esp_test::Inbound(s));
  const Bytes pkt = esp_test::Ipv4Udp(10);
  PacketBuf a(pkt);
  EXPECT_EQ(h.engine().Transmit(esp_test::TxFor(1, false), a.frame), ExqReason::kNone);
  EXPECT_EQ(a.bytes(), pkt);  // bypass: untouched
  PacketBuf b(pkt);
  EXPECT_EQ(h.engine().Transmit(esp_test::TxFor(2), b.frame), ExqReason::kTxNoSa);
  PacketBuf c(pkt);
  EXPECT_EQ(h.engine().Transmit(esp_test::TxFor(in_index), c.frame), ExqReason::kTxNoSa);
  PacketBuf d(pkt);
  EXPECT_EQ(h.engine().Transmit(esp_test::TxFor(0xFFFFFFFF), d.frame), ExqReason::kTxNoSa);
  abi::TxMeta bad = esp_test::TxFor(1);
  bad.rsvd_0x08[3] = 1;
  PacketBuf e(pkt);
  EXPECT_EQ(h.engine().Transmit(bad, e.frame), ExqReason::kMalformed);
  const auto x = h.DrainExq();
  ASSERT_EQ(x.size(), 4u);
  EXPECT_EQ(x[0].sa_index.get(), abi::kExqNoSa);
  EXPECT_EQ(x[1].sa_index.get(), in_index);
  EXPECT_EQ(Bytes(x[0].src.begin(), x[0].src.begin() + 4), Bytes({10, 1, 0, 1}));
  abi::GlobalStats g{};
  ASSERT_TRUE(h.ReadStats(g));
  EXPECT_EQ(g.tx_no_sa.get(), 3u);
}

TEST(EspTx, DisabledEngineProcessesNothing) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  h.Install(s, 1);
  h.Install(esp_test::Inbound(s));
  const Bytes w = Send(h, 1, esp_test::Ipv4Udp(10));
  h.engine().Write32(abi::Off(abi::Reg::kCtrl), 0);
  PacketBuf rx(w);
  EXPECT_EQ(esp_test::StatusOf(h.engine().Receive(rx.frame)), RxStatus::kBypass);
  EXPECT_EQ(rx.bytes(), w);
  PacketBuf tx(esp_test::Ipv4Udp(10));
  EXPECT_EQ(h.engine().Transmit(esp_test::TxFor(1), tx.frame), ExqReason::kTxNoSa);
}

TEST(EspTx, NoHeadroomIsMalformedNotACrash) {
  ModelHarness h;
  SaSpec s;
  s.spi = kSpi;
  h.Install(s, 1);
  PacketBuf b(esp_test::Ipv4Udp(10), 8, 0);
  EXPECT_EQ(h.engine().Transmit(esp_test::TxFor(1), b.frame), ExqReason::kMalformed);
}

}  // namespace
}  // namespace inlinesec::model
