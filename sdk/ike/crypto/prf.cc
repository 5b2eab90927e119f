// HMAC-based PRFs and prf+ (RFC 7296 §2.13, RFC 4868 §2.1) on OpenSSL 3
// EVP_MAC, plus the plain digests IKE needs.
#include "inlinesec/ike/crypto/prf.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <vector>

#include "inlinesec/ike/wire/constants.h"

namespace inlinesec::ike {
namespace {

const char* PrfDigest(std::uint16_t prf_id) {
  switch (prf_id) {
    case kPrfHmacSha256:
      return "SHA2-256";
    case kPrfHmacSha384:
      return "SHA2-384";
    case kPrfHmacSha512:
      return "SHA2-512";
    default:
      return nullptr;
  }
}

}  // namespace

std::size_t PrfSize(std::uint16_t prf_id) {
  switch (prf_id) {
    case kPrfHmacSha256:
      return 32;
    case kPrfHmacSha384:
      return 48;
    case kPrfHmacSha512:
      return 64;
    default:
      return 0;
  }
}

Result<SecureBytes> Hmac(const char* digest, std::span<const std::uint8_t> key,
                         std::span<const std::uint8_t> data) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return Status(Code::kInternal, "HMAC unavailable");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);
  if (ctx == nullptr) return Status(Code::kInternal, "EVP_MAC_CTX_new");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  static const std::uint8_t kEmpty = 0;
  SecureBytes out(EVP_MAX_MD_SIZE);
  std::size_t out_len = 0;
  const bool ok = EVP_MAC_init(ctx, key.empty() ? &kEmpty : key.data(), key.size(), params) == 1 &&
                  EVP_MAC_update(ctx, data.data(), data.size()) == 1 &&
                  EVP_MAC_final(ctx, out.data(), &out_len, out.size()) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!ok) return Status(Code::kInternal, "HMAC failed");
  return SecureBytes(out.span().first(out_len));
}

Result<SecureBytes> Prf(std::uint16_t prf_id, std::span<const std::uint8_t> key,
                        std::span<const std::uint8_t> data) {
  const char* digest = PrfDigest(prf_id);
  if (digest == nullptr) return Status(Code::kUnimplemented, "unsupported PRF");
  return Hmac(digest, key, data);
}

Result<SecureBytes> PrfPlus(std::uint16_t prf_id, std::span<const std::uint8_t> key,
                            std::span<const std::uint8_t> seed, std::size_t length) {
  const std::size_t block = PrfSize(prf_id);
  if (block == 0) return Status(Code::kUnimplemented, "unsupported PRF");
  if (length > 255 * block) return Status(Code::kOutOfRange, "prf+ output too long");
  SecureBytes out(length);
  SecureBytes t;  // T(n-1)
  std::size_t done = 0;
  for (unsigned n = 1; done < length; ++n) {
    SecureBytes input(t.size() + seed.size() + 1);
    std::copy(t.span().begin(), t.span().end(), input.data());
    std::copy(seed.begin(), seed.end(), input.data() + t.size());
    input.data()[input.size() - 1] = static_cast<std::uint8_t>(n);
    Result<SecureBytes> r = Prf(prf_id, key, input.span());
    if (!r.ok()) return r.status();
    t = std::move(r).value();
    const std::size_t take = std::min(block, length - done);
    std::copy_n(t.data(), take, out.data() + done);
    done += take;
  }
  return out;
}

std::array<std::uint8_t, 20> Sha1(std::span<const std::uint8_t> data) {
  std::array<std::uint8_t, 20> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha1(), nullptr);
  return out;
}

std::array<std::uint8_t, 32> Sha256(std::span<const std::uint8_t> data) {
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

}  // namespace inlinesec::ike
