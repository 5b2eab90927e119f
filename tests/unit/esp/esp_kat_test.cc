// ESP packet known answers at the esp-function level: every ESP packet of
// draft-mcgrew-gcm-test-01 and RFC 7634 Appendix A is (1) parsed and
// decapsulated from its wire image behind an IPv4 header, giving back the
// vector's payload, pad and next header, and (2) rebuilt by Encapsulate()
// with the vector's explicit IV (the test-only IV override) and compared
// byte for byte, whenever the vector's padding is the minimal RFC 4303 §2.4
// padding the model emits. Tunnel-mode vectors (next header 4 with a
// complete inner packet) are also rebuilt as tunnel packets.
#include <gtest/gtest.h>

#include <string>

#include "esp_harness.h"
#include "inlinesec/model/esp/esp.h"

namespace inlinesec::model::esp {
namespace {

using esp_test::Bytes;
using esp_test::FromHex;
using esp_test::ToHex;

struct EspVector {
  std::string name;
  abi::Algo algo;
  Bytes key, salt, iv, pt, ct, tag;
  std::uint32_t spi;
  std::uint64_t seq;
  bool esn;
};

std::vector<EspVector> Load(const std::string& file, bool chacha) {
  std::vector<EspVector> out;
  for (const auto& r : esp_test::ReadVectorFile(std::string(INLINESEC_VECTORS_DIR) + "/" + file)) {
    EspVector v;
    v.name = r.at("name");
    v.key = FromHex(r.at("key"));
    const Bytes nonce = FromHex(r.at("nonce"));
    v.salt.assign(nonce.begin(), nonce.begin() + 4);
    v.iv.assign(nonce.begin() + 4, nonce.end());
    v.pt = FromHex(r.at("pt"));
    v.ct = FromHex(r.at("ct"));
    v.tag = FromHex(r.at("tag"));
    const Bytes aad = FromHex(r.at("aad"));
    v.spi = LoadBe32(aad.data());
    v.esn = aad.size() == 12;
    v.seq =
        v.esn ? (std::uint64_t{LoadBe32(&aad[4])} << 32) | LoadBe32(&aad[8]) : LoadBe32(&aad[4]);
    v.algo = chacha ? abi::Algo::kChaCha20Poly1305
                    : (v.key.size() == 16 ? abi::Algo::kAesGcm128 : abi::Algo::kAesGcm256);
    out.push_back(v);
  }
  return out;
}

abi::SaEntry SaFor(const EspVector& v, abi::Dir dir, abi::Mode mode) {
  esp_test::SaSpec s;
  s.spi = v.spi;
  s.dir = dir;
  s.mode = mode;
  s.algo = v.algo;
  s.esn = v.esn;
  s.key = v.key;
  std::copy(v.salt.begin(), v.salt.end(), s.salt.begin());
  return esp_test::MakeSa(s);
}

// A 20-byte IPv4 header for `payload_len` bytes of protocol `proto`.
Bytes Ipv4Header(std::uint8_t proto, std::size_t payload_len) {
  Bytes h(20);
  h[0] = 0x45;
  StoreBe16(&h[2], static_cast<std::uint16_t>(20 + payload_len));
  h[8] = 64;
  h[9] = proto;
  h[12] = 198, h[13] = 51, h[14] = 100, h[15] = 1;
  h[16] = 198, h[17] = 51, h[18] = 100, h[19] = 2;
  StoreBe16(&h[10], esp_test::Checksum(h));
  return h;
}

Bytes EspWire(const EspVector& v) {
  Bytes w(8);
  StoreBe32(&w[0], v.spi);
  StoreBe32(&w[4], static_cast<std::uint32_t>(v.seq));
  w.insert(w.end(), v.iv.begin(), v.iv.end());
  w.insert(w.end(), v.ct.begin(), v.ct.end());
  w.insert(w.end(), v.tag.begin(), v.tag.end());
  return w;
}

void CheckVector(const EspVector& v) {
  SCOPED_TRACE(v.name);
  const std::uint8_t nh = v.pt.back();
  const std::size_t pad = v.pt[v.pt.size() - 2];
  const std::size_t payload_len = v.pt.size() - 2 - pad;
  const Bytes payload(v.pt.begin(), v.pt.begin() + static_cast<std::ptrdiff_t>(payload_len));

  // (1) Inbound: IPv4 header + the ESP wire image -> header + payload.
  {
    const abi::SaEntry sa = SaFor(v, abi::Dir::kInbound, abi::Mode::kTransport);
    auto aead = Aead::Create(v.algo, v.key, std::span<const std::uint8_t, 4>(v.salt.data(), 4));
    ASSERT_TRUE(aead.ok());
    const Bytes esp = EspWire(v);
    Bytes pkt = Ipv4Header(kProtoEsp, esp.size());
    pkt.insert(pkt.end(), esp.begin(), esp.end());
    esp_test::PacketBuf buf(pkt);
    const RxParse p = ParseInbound(buf.frame.bytes());
    ASSERT_EQ(p.cls, RxClass::kEsp);
    EXPECT_EQ(p.spi, v.spi);
    EXPECT_EQ(p.seq_low, static_cast<std::uint32_t>(v.seq));
    const RxResult r = Decapsulate(sa, *aead, p, v.seq, buf.frame);
    ASSERT_EQ(r.reason, abi::ExqReason::kNone);
    EXPECT_EQ(r.next_header, nh);
    const Bytes out = buf.bytes();
    ASSERT_EQ(out.size(), 20 + payload_len);
    EXPECT_EQ(out[9], nh);
    EXPECT_EQ(LoadBe16(&out[2]), 20 + payload_len);
    EXPECT_EQ(esp_test::Checksum({out.data(), 20}), 0);
    EXPECT_EQ(ToHex({out.data() + 20, payload_len}), ToHex(payload));

    // The wrong sequence number (as a replayed ESN guess would give) fails.
    esp_test::PacketBuf buf2(pkt);
    const RxParse p2 = ParseInbound(buf2.frame.bytes());
    EXPECT_EQ(Decapsulate(sa, *aead, p2, v.seq ^ (1ull << 32), buf2.frame).reason,
              v.esn ? abi::ExqReason::kIcvFail : abi::ExqReason::kNone);
  }

  // (2) Outbound, transport: rebuild the ESP packet with the vector's IV.
  const bool minimal_pad = pad == ((4 - ((payload_len + 2) & 3)) & 3);
  if (!minimal_pad) return;
  {
    const abi::SaEntry sa = SaFor(v, abi::Dir::kOutbound, abi::Mode::kTransport);
    auto aead = Aead::Create(v.algo, v.key, std::span<const std::uint8_t, 4>(v.salt.data(), 4));
    ASSERT_TRUE(aead.ok());
    Bytes pkt = Ipv4Header(nh, payload_len);
    pkt.insert(pkt.end(), payload.begin(), payload.end());
    esp_test::PacketBuf buf(pkt);
    std::array<std::uint8_t, kIvBytes> iv;
    std::copy(v.iv.begin(), v.iv.end(), iv.begin());
    const TxResult r = Encapsulate(sa, *aead, v.seq, buf.frame, &iv);
    ASSERT_EQ(r.reason, abi::ExqReason::kNone);
    const Bytes out = buf.bytes();
    ASSERT_GT(out.size(), 20u);
    EXPECT_EQ(out[9], kProtoEsp);
    EXPECT_EQ(ToHex({out.data() + 20, out.size() - 20}), ToHex(EspWire(v)));
  }
  // (3) Tunnel: when the payload is exactly one IPv4 packet and nh is 4.
  if (nh == kProtoIpv4 && payload_len >= 20 && (payload[0] >> 4) == 4 &&
      LoadBe16(&payload[2]) == payload_len) {
    const abi::SaEntry sa = SaFor(v, abi::Dir::kOutbound, abi::Mode::kTunnel);
    auto aead = Aead::Create(v.algo, v.key, std::span<const std::uint8_t, 4>(v.salt.data(), 4));
    ASSERT_TRUE(aead.ok());
    esp_test::PacketBuf buf(payload);
    std::array<std::uint8_t, kIvBytes> iv;
    std::copy(v.iv.begin(), v.iv.end(), iv.begin());
    ASSERT_EQ(Encapsulate(sa, *aead, v.seq, buf.frame, &iv).reason, abi::ExqReason::kNone);
    const Bytes out = buf.bytes();
    EXPECT_EQ(ToHex({out.data() + 20, out.size() - 20}), ToHex(EspWire(v)));
  }
}

TEST(EspKat, DraftMcGrewGcmTest01) {
  const auto vs = Load("esp_gcm_mcgrew.txt", false);
  ASSERT_EQ(vs.size(), 13u);
  for (const auto& v : vs) CheckVector(v);
}

TEST(EspKat, Rfc7634AppendixA) {
  const auto vs = Load("esp_chacha_rfc7634.txt", true);
  ASSERT_EQ(vs.size(), 1u);
  CheckVector(vs[0]);
}

}  // namespace
}  // namespace inlinesec::model::esp
