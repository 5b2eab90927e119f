// Known-answer and property tests for sdk/ike/crypto: RFC 4231 HMAC-SHA2
// PRFs, prf+ and the IKEv2 key schedule against tests/vectors/ike_*.txt,
// RFC 7748 X25519 and RFC 5903 ECP-256 agreement vectors, MODP-2048
// agreement, and SK payload protection (round trip and tamper detection).
#include <gtest/gtest.h>

#include "inlinesec/ike/crypto/dh.h"
#include "inlinesec/ike/crypto/keys.h"
#include "inlinesec/ike/crypto/prf.h"
#include "inlinesec/ike/crypto/random.h"
#include "inlinesec/ike/crypto/sk_crypter.h"
#include "inlinesec/ike/wire/constants.h"
#include "test_util.h"

namespace inlinesec::ike {
namespace {

using testing::Hex;
using testing::ReadVectors;
using testing::ToHex;

TEST(PrfTest, Rfc4231Vectors) {
  auto recs = ReadVectors("ike_hmac_rfc4231.txt");
  ASSERT_EQ(recs.size(), 3u);
  for (auto& r : recs) {
    const auto key = Hex(r["key"]);
    const auto data = Hex(r["data"]);
    for (auto [prf, name] :
         {std::pair{kPrfHmacSha256, "sha256"}, std::pair{kPrfHmacSha384, "sha384"},
          std::pair{kPrfHmacSha512, "sha512"}}) {
      auto out = Prf(prf, key, data);
      ASSERT_TRUE(out.ok());
      EXPECT_EQ(ToHex(out->span()), r[name]) << name;
    }
  }
}

TEST(PrfTest, UnsupportedPrf) { EXPECT_FALSE(Prf(99, {}, {}).ok()); }

TEST(PrfTest, PrfPlusVectors) {
  auto recs = ReadVectors("ike_prf_plus.txt");
  ASSERT_EQ(recs.size(), 9u);
  for (auto& r : recs) {
    auto out = PrfPlus(static_cast<std::uint16_t>(std::stoi(r["prf"])), Hex(r["key"]),
                       Hex(r["seed"]), std::stoul(r["length"]));
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(ToHex(out->span()), r["out"]);
  }
}

TEST(PrfTest, PrfPlusLimit) {
  EXPECT_FALSE(PrfPlus(kPrfHmacSha256, Hex("00"), {}, 255 * 32 + 1).ok());
  EXPECT_TRUE(PrfPlus(kPrfHmacSha256, Hex("00"), {}, 255 * 32).ok());
}

std::uint64_t Be64(const std::vector<std::uint8_t>& b) {
  std::uint64_t v = 0;
  for (auto x : b) v = (v << 8) | x;
  return v;
}

TEST(KeysTest, IkeKeyScheduleVectors) {
  auto recs = ReadVectors("ike_keys.txt");
  ASSERT_EQ(recs.size(), 2u);
  for (auto& r : recs) {
    IkeAlgorithms alg;
    alg.prf = static_cast<std::uint16_t>(std::stoi(r["prf"]));
    alg.encr = static_cast<std::uint16_t>(std::stoi(r["encr"]));
    alg.encr_key_bits = static_cast<std::uint16_t>(std::stoi(r["key_bits"]));
    alg.integ = static_cast<std::uint16_t>(std::stoi(r["integ"]));
    const auto ni = Hex(r["ni"]), nr = Hex(r["nr"]);
    auto keys =
        DeriveIkeKeys(alg, ni, nr, Hex(r["g_ir"]), Be64(Hex(r["spi_i"])), Be64(Hex(r["spi_r"])));
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    EXPECT_EQ(ToHex(keys->sk_d.span()), r["sk_d"]);
    EXPECT_EQ(ToHex(keys->sk_ai.span()), r["sk_ai"]);
    EXPECT_EQ(ToHex(keys->sk_ar.span()), r["sk_ar"]);
    EXPECT_EQ(ToHex(keys->sk_ei.span()), r["sk_ei"]);
    EXPECT_EQ(ToHex(keys->sk_er.span()), r["sk_er"]);
    EXPECT_EQ(ToHex(keys->sk_pi.span()), r["sk_pi"]);
    EXPECT_EQ(ToHex(keys->sk_pr.span()), r["sk_pr"]);

    const std::size_t ek = EncrKeymatSize(alg.encr, alg.encr_key_bits);
    const std::size_t ik = IsAead(alg.encr) ? 0 : IntegKeySize(alg.integ);
    auto child = DeriveChildKeys(alg.prf, keys->sk_d.span(), {}, ni, nr, ek, ik);
    ASSERT_TRUE(child.ok());
    EXPECT_EQ(ToHex(child->encr_i.span()) + ToHex(child->integ_i.span()) +
                  ToHex(child->encr_r.span()) + ToHex(child->integ_r.span()),
              r["child_keymat"]);
    auto pfs = DeriveChildKeys(alg.prf, keys->sk_d.span(), Hex(r["g_ir_new"]), ni, nr, ek, ik);
    ASSERT_TRUE(pfs.ok());
    EXPECT_EQ(ToHex(pfs->encr_i.span()) + ToHex(pfs->integ_i.span()) + ToHex(pfs->encr_r.span()) +
                  ToHex(pfs->integ_r.span()),
              r["child_keymat_pfs"]);

    auto rekeyed = DeriveRekeyedIkeKeys(alg.prf, keys->sk_d.span(), alg, ni, nr, Hex(r["g_ir_new"]),
                                        Be64(Hex(r["spi_i"])), Be64(Hex(r["spi_r"])));
    ASSERT_TRUE(rekeyed.ok());
    EXPECT_EQ(ToHex(rekeyed->sk_d.span()), r["rekey_sk_d"]);

    auto octets =
        SignedOctets(alg.prf, Hex(r["auth_msg"]), nr, keys->sk_pi.span(), Hex(r["auth_id_body"]));
    ASSERT_TRUE(octets.ok());
    auto auth = PskAuth(alg.prf, Hex(r["auth_psk"]), octets->span());
    ASSERT_TRUE(auth.ok());
    EXPECT_EQ(ToHex(auth->span()), r["auth_i"]);
  }
}

// RFC 7748 §6.1.
TEST(DhTest, X25519Rfc7748) {
  auto alice = DhKeyExchange::FromPrivate(
      kDhCurve25519, Hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"), {});
  auto bob = DhKeyExchange::FromPrivate(
      kDhCurve25519, Hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"), {});
  ASSERT_TRUE(alice.ok() && bob.ok());
  EXPECT_EQ(ToHex(alice->public_value()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(ToHex(bob->public_value()),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  auto k1 = alice->Agree(bob->public_value());
  auto k2 = bob->Agree(alice->public_value());
  ASSERT_TRUE(k1.ok() && k2.ok());
  EXPECT_EQ(ToHex(k1->span()), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(ToHex(k2->span()), ToHex(k1->span()));
}

// RFC 5903 §8.1.
TEST(DhTest, Ecp256Rfc5903) {
  const auto gi =
      Hex("dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180"
          "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3");
  const auto gr =
      Hex("d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63"
          "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab");
  auto i = DhKeyExchange::FromPrivate(
      kDhEcp256, Hex("c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433"), gi);
  auto r = DhKeyExchange::FromPrivate(
      kDhEcp256, Hex("c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53"), gr);
  ASSERT_TRUE(i.ok() && r.ok());
  EXPECT_EQ(i->public_value(), gi);
  auto k1 = i->Agree(gr);
  auto k2 = r->Agree(gi);
  ASSERT_TRUE(k1.ok() && k2.ok()) << k1.status().ToString();
  EXPECT_EQ(ToHex(k1->span()), "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de");
  EXPECT_EQ(ToHex(k2->span()), ToHex(k1->span()));
  // A point not on the curve is refused (RFC 5903 §9).
  auto bad = gr;
  bad[63] ^= 1;
  EXPECT_FALSE(i->Agree(bad).ok());
}

TEST(DhTest, GeneratedPairsAgree) {
  DeterministicRandom rnd(7);
  for (std::uint16_t g : {kDhModp2048, kDhEcp256, kDhCurve25519}) {
    auto a = DhKeyExchange::Generate(g, rnd);
    auto b = DhKeyExchange::Generate(g, rnd);
    ASSERT_TRUE(a.ok() && b.ok()) << g;
    EXPECT_EQ(a->public_value().size(), DhPublicSize(g));
    auto k1 = a->Agree(b->public_value());
    auto k2 = b->Agree(a->public_value());
    ASSERT_TRUE(k1.ok() && k2.ok()) << g;
    EXPECT_TRUE(k1->Equals(k2->span()));
    EXPECT_FALSE(a->Agree(std::vector<std::uint8_t>(3, 1)).ok());
  }
  // MODP: 1 and p-1 are refused.
  auto a = DhKeyExchange::Generate(kDhModp2048, rnd);
  std::vector<std::uint8_t> one(256, 0);
  one[255] = 1;
  EXPECT_FALSE(a->Agree(one).ok());
}

struct SkCase {
  std::uint16_t encr, bits, integ;
};

class SkCrypterTest : public ::testing::TestWithParam<SkCase> {};

TEST_P(SkCrypterTest, RoundTripAndTamper) {
  const SkCase c = GetParam();
  DeterministicRandom rnd(1);
  IkeAlgorithms alg{c.encr, c.bits, kPrfHmacSha256, c.integ, kDhCurve25519};
  auto keys = DeriveIkeKeys(alg, rnd.Bytes(32), rnd.Bytes(32), rnd.Bytes(32), 1, 2);
  ASSERT_TRUE(keys.ok());
  auto init = MakeSkCrypter(alg, *keys, true, rnd);
  auto resp = MakeSkCrypter(alg, *keys, false, rnd);
  ASSERT_TRUE(init.ok() && resp.ok());
  // header(28) + SK header(4) + IV + 32 bytes plaintext + ICV
  const std::size_t iv_off = 32;
  std::vector<std::uint8_t> msg(iv_off + init->IvSize() + 32 + init->IcvSize(), 0);
  for (std::size_t i = 0; i < 32; ++i)
    msg[iv_off + init->IvSize() + i] = static_cast<std::uint8_t>(i);
  const auto plain = msg;
  ASSERT_TRUE(init->Seal(msg, iv_off, iv_off).ok());
  EXPECT_NE(msg, plain);
  auto copy = msg;
  ASSERT_TRUE(resp->Open(copy, iv_off, iv_off).ok());
  EXPECT_TRUE(std::equal(copy.begin() + static_cast<long>(iv_off + init->IvSize()),
                         copy.end() - static_cast<long>(init->IcvSize()),
                         plain.begin() + static_cast<long>(iv_off + init->IvSize())));
  // The initiator cannot open its own message (directional keys).
  copy = msg;
  EXPECT_FALSE(init->Open(copy, iv_off, iv_off).ok());
  // Any flipped bit -- header (AAD), IV, ciphertext or ICV -- is refused.
  for (std::size_t at :
       {std::size_t{0}, std::size_t{27}, iv_off, iv_off + init->IvSize() + 3, msg.size() - 1}) {
    copy = msg;
    copy[at] ^= 0x40;
    EXPECT_EQ(resp->Open(copy, iv_off, iv_off).code(), Code::kAuthFailed) << at;
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, SkCrypterTest,
                         ::testing::Values(SkCase{kEncrAesGcm16, 128, kIntegNone},
                                           SkCase{kEncrAesGcm16, 256, kIntegNone},
                                           SkCase{kEncrAesCbc, 128, kIntegHmacSha256_128},
                                           SkCase{kEncrAesCbc, 256, kIntegHmacSha256_128},
                                           SkCase{kEncrAesCbc, 256, kIntegHmacSha512_256}));

TEST(NatDetectionTest, HashMatchesDefinition) {
  Endpoint ep{*IpAddress::Parse("192.0.2.1"), 500};
  // SHA-1(0102030405060708 | 0000000000000000 | c0000201 | 01f4), checked with
  // python3 hashlib.
  EXPECT_EQ(ToHex(NatDetectionHash(0x0102030405060708ull, 0, ep)),
            "644b4575455bd6fcc1efe2be8162a9218e448e5f");
}

}  // namespace
}  // namespace inlinesec::ike
