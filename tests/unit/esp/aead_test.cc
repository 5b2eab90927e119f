// Known-answer tests for the per-SA AEAD core (esp::Aead): NIST CAVP
// AES-GCM vectors (tests/vectors/aes_gcm_nist.txt) and the RFC 7634
// ChaCha20-Poly1305 ESP example, sealed and opened through one context each,
// plus tag and AAD tampering and the key-length rules of Create().
#include "inlinesec/model/esp/aead.h"

#include <gtest/gtest.h>

#include <string>

#include "esp_harness.h"

namespace inlinesec::model::esp {
namespace {

using esp_test::Bytes;
using esp_test::FromHex;
using esp_test::ToHex;

abi::Algo AlgoForKey(const std::string& file, std::size_t key_len) {
  if (file.find("chacha") != std::string::npos) return abi::Algo::kChaCha20Poly1305;
  return key_len == 16 ? abi::Algo::kAesGcm128 : abi::Algo::kAesGcm256;
}

void RunFile(const std::string& name) {
  const auto recs = esp_test::ReadVectorFile(std::string(INLINESEC_VECTORS_DIR) + "/" + name);
  ASSERT_FALSE(recs.empty()) << name;
  for (const auto& r : recs) {
    SCOPED_TRACE(r.at("name"));
    const Bytes key = FromHex(r.at("key")), nonce = FromHex(r.at("nonce")),
                aad = FromHex(r.at("aad")), pt = FromHex(r.at("pt")), ct = FromHex(r.at("ct")),
                tag = FromHex(r.at("tag"));
    ASSERT_EQ(nonce.size(), 12u);
    auto aead = Aead::Create(AlgoForKey(name, key.size()), key,
                             std::span<const std::uint8_t, kSaltBytes>(nonce.data(), 4));
    ASSERT_TRUE(aead.ok()) << aead.status().ToString();
    const std::span<const std::uint8_t, kIvBytes> iv(nonce.data() + 4, kIvBytes);
    // Twice on the same context: per-packet state must not leak between calls.
    for (int round = 0; round < 2; ++round) {
      Bytes data = pt;
      std::array<std::uint8_t, kIcvBytes> out_tag{};
      ASSERT_TRUE(aead->Seal(iv, aad, data, out_tag));
      EXPECT_EQ(ToHex(data), ToHex(ct));
      EXPECT_EQ(ToHex(out_tag), ToHex(tag));
      ASSERT_TRUE(
          aead->Open(iv, aad, data, std::span<const std::uint8_t, kIcvBytes>(tag.data(), 16)));
      EXPECT_EQ(ToHex(data), ToHex(pt));
    }
    // A flipped tag bit, a flipped AAD bit, a flipped ciphertext bit: refused.
    Bytes bad_tag = tag;
    bad_tag[5] ^= 0x20;
    Bytes data = ct;
    EXPECT_FALSE(
        aead->Open(iv, aad, data, std::span<const std::uint8_t, kIcvBytes>(bad_tag.data(), 16)));
    if (!aad.empty()) {
      Bytes bad_aad = aad;
      bad_aad[0] ^= 1;
      data = ct;
      EXPECT_FALSE(
          aead->Open(iv, bad_aad, data, std::span<const std::uint8_t, kIcvBytes>(tag.data(), 16)));
    }
    if (!ct.empty()) {
      data = ct;
      data.back() ^= 0x80;
      EXPECT_FALSE(
          aead->Open(iv, aad, data, std::span<const std::uint8_t, kIcvBytes>(tag.data(), 16)));
    }
    // And the good packet still opens afterwards (a failure leaves no state).
    data = ct;
    EXPECT_TRUE(
        aead->Open(iv, aad, data, std::span<const std::uint8_t, kIcvBytes>(tag.data(), 16)));
  }
}

TEST(AeadKat, NistAesGcm) { RunFile("aes_gcm_nist.txt"); }
TEST(AeadKat, Rfc7634ChaCha20Poly1305) { RunFile("esp_chacha_rfc7634.txt"); }
TEST(AeadKat, McGrewEspPayloads) { RunFile("esp_gcm_mcgrew.txt"); }

TEST(Aead, CreateChecksKeyLength) {
  const std::array<std::uint8_t, 4> salt{};
  const Bytes k16(16, 1), k32(32, 1), k24(24, 1);
  EXPECT_TRUE(Aead::Create(abi::Algo::kAesGcm128, k16, salt).ok());
  EXPECT_FALSE(Aead::Create(abi::Algo::kAesGcm128, k32, salt).ok());
  EXPECT_TRUE(Aead::Create(abi::Algo::kAesGcm256, k32, salt).ok());
  EXPECT_FALSE(Aead::Create(abi::Algo::kAesGcm256, k24, salt).ok());
  EXPECT_TRUE(Aead::Create(abi::Algo::kChaCha20Poly1305, k32, salt).ok());
  EXPECT_FALSE(Aead::Create(abi::Algo::kChaCha20Poly1305, k16, salt).ok());
  EXPECT_FALSE(Aead::Create(abi::Algo::kAesCbc128HmacSha256, k16, salt).ok());
  EXPECT_FALSE(Aead::Create(abi::Algo::kNone, k16, salt).ok());
}

TEST(Aead, MovedContextStillWorks) {
  const std::array<std::uint8_t, 4> salt{1, 2, 3, 4};
  const Bytes key(32, 7);
  auto a = Aead::Create(abi::Algo::kAesGcm256, key, salt);
  ASSERT_TRUE(a.ok());
  Aead b = std::move(a).value();
  EXPECT_EQ(b.algo(), abi::Algo::kAesGcm256);
  const std::array<std::uint8_t, 8> iv{};
  Bytes data(100, 0x55);
  std::array<std::uint8_t, 16> tag{};
  ASSERT_TRUE(b.Seal(iv, {}, data, tag));
  ASSERT_TRUE(b.Open(iv, {}, data, tag));
  EXPECT_EQ(data, Bytes(100, 0x55));
}

}  // namespace
}  // namespace inlinesec::model::esp
