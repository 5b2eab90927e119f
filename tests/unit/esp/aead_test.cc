// Known-answer tests for the per-SA AEAD core (esp::Aead): NIST CAVP
// AES-GCM vectors (tests/vectors/aes_gcm_nist.txt) and the RFC 7634
// ChaCha20-Poly1305 ESP example, sealed and opened through one context each
// (fresh, or a context of another key re-keyed in place after Scrub, as the
// engine reuses the contexts of deleted SAs), plus tag and AAD tampering, the
// key-length rules of Create() and Rekey(), and Scrub() overwriting the key.
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

// How a vector's context is made: fresh, or reused from another SA.
enum class Context { kFresh, kReused };

Result<Aead> MakeContext(Context how, abi::Algo algo, const Bytes& key,
                         std::span<const std::uint8_t, kSaltBytes> salt) {
  if (how == Context::kFresh) return Aead::Create(algo, key, salt);
  // Another SA's context: other key and salt, used for a packet, scrubbed
  // when that SA died, then re-keyed for this one.
  Bytes other_key(key.size(), 0xC3);
  const std::array<std::uint8_t, kSaltBytes> other_salt{9, 8, 7, 6};
  auto a = Aead::Create(algo, other_key, other_salt);
  if (!a.ok()) return a;
  const std::array<std::uint8_t, kIvBytes> iv{1};
  const Bytes aad(8, 0x22);
  Bytes data(64, 0x11);
  std::array<std::uint8_t, kIcvBytes> tag{};
  if (!a->Seal(iv, aad, data, tag)) return Status(Code::kInternal, "seal failed");
  a->Scrub();
  if (!a->Rekey(key, salt)) return Status(Code::kInternal, "rekey failed");
  return a;
}

void RunFile(const std::string& name, Context how = Context::kFresh) {
  const auto recs = esp_test::ReadVectorFile(std::string(INLINESEC_VECTORS_DIR) + "/" + name);
  ASSERT_FALSE(recs.empty()) << name;
  for (const auto& r : recs) {
    SCOPED_TRACE(r.at("name"));
    const Bytes key = FromHex(r.at("key")), nonce = FromHex(r.at("nonce")),
                aad = FromHex(r.at("aad")), pt = FromHex(r.at("pt")), ct = FromHex(r.at("ct")),
                tag = FromHex(r.at("tag"));
    ASSERT_EQ(nonce.size(), 12u);
    auto aead = MakeContext(how, AlgoForKey(name, key.size()), key,
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
TEST(AeadKat, NistAesGcmOnReusedContexts) { RunFile("aes_gcm_nist.txt", Context::kReused); }
TEST(AeadKat, Rfc7634ChaCha20Poly1305OnReusedContexts) {
  RunFile("esp_chacha_rfc7634.txt", Context::kReused);
}
TEST(AeadKat, McGrewEspPayloadsOnReusedContexts) {
  RunFile("esp_gcm_mcgrew.txt", Context::kReused);
}

TEST(Aead, RekeyChecksKeyLength) {
  const std::array<std::uint8_t, 4> salt{};
  const Bytes k16(16, 1), k32(32, 1);
  auto a = Aead::Create(abi::Algo::kAesGcm128, k16, salt);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->Rekey(k32, salt));
  EXPECT_TRUE(a->Rekey(k16, salt));
  auto c = Aead::Create(abi::Algo::kChaCha20Poly1305, k32, salt);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->Rekey(k16, salt));
  EXPECT_TRUE(c->Rekey(k32, salt));
}

// After Scrub the context holds the schedule of the all-zero key and a zero
// salt: it seals exactly like a fresh context of that key, and no longer
// like one of the dead SA's key.
TEST(Aead, ScrubOverwritesTheKey) {
  for (abi::Algo algo :
       {abi::Algo::kAesGcm128, abi::Algo::kAesGcm256, abi::Algo::kChaCha20Poly1305}) {
    SCOPED_TRACE(static_cast<int>(algo));
    const std::size_t len = algo == abi::Algo::kAesGcm128 ? 16 : 32;
    const std::array<std::uint8_t, 4> salt{1, 2, 3, 4}, zero_salt{};
    const Bytes key(len, 0x5A), zero_key(len, 0);
    auto used = Aead::Create(algo, key, salt);
    auto zero = Aead::Create(algo, zero_key, zero_salt);
    auto same = Aead::Create(algo, key, salt);
    ASSERT_TRUE(used.ok() && zero.ok() && same.ok());
    const std::array<std::uint8_t, 8> iv{3};
    const Bytes aad(8, 0x22);
    auto seal = [&](Aead& a) {
      Bytes data(48, 0x77);
      std::array<std::uint8_t, 16> tag{};
      EXPECT_TRUE(a.Seal(iv, aad, data, tag));
      data.insert(data.end(), tag.begin(), tag.end());
      return data;
    };
    const Bytes before = seal(*used);
    EXPECT_EQ(before, seal(*same));
    used->Scrub();
    const Bytes after = seal(*used);
    EXPECT_EQ(after, seal(*zero));
    EXPECT_NE(after, before);
  }
}

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
