// SK payload protection (RFC 7296 §3.14, RFC 5282 for AES-GCM, RFC 4868 for
// HMAC-SHA2 truncation) on OpenSSL 3 EVP.
#include "inlinesec/ike/crypto/sk_crypter.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

#include "inlinesec/common/byte_reader.h"
#include "inlinesec/ike/crypto/prf.h"
#include "inlinesec/ike/wire/constants.h"

namespace inlinesec::ike {

bool IsAead(std::uint16_t encr) { return encr == kEncrAesGcm16; }

std::size_t EncrKeymatSize(std::uint16_t encr, std::uint16_t key_bits) {
  if (key_bits != 128 && key_bits != 192 && key_bits != 256) return 0;
  if (encr == kEncrAesCbc) return key_bits / 8;
  if (encr == kEncrAesGcm16) return key_bits / 8 + 4;  // RFC 5282 §7.1: + salt
  return 0;
}

std::size_t IntegKeySize(std::uint16_t integ) {
  switch (integ) {
    case kIntegHmacSha256_128:
      return 32;
    case kIntegHmacSha384_192:
      return 48;
    case kIntegHmacSha512_256:
      return 64;
    default:
      return 0;
  }
}

std::size_t IntegIcvSize(std::uint16_t integ) { return IntegKeySize(integ) / 2; }

namespace {

const char* IntegDigest(std::uint16_t integ) {
  switch (integ) {
    case kIntegHmacSha256_128:
      return "SHA2-256";
    case kIntegHmacSha384_192:
      return "SHA2-384";
    case kIntegHmacSha512_256:
      return "SHA2-512";
    default:
      return nullptr;
  }
}

const EVP_CIPHER* Cipher(std::uint16_t encr, std::size_t key_bytes) {
  if (encr == kEncrAesGcm16) {
    if (key_bytes == 16) return EVP_aes_128_gcm();
    if (key_bytes == 24) return EVP_aes_192_gcm();
    if (key_bytes == 32) return EVP_aes_256_gcm();
  } else if (encr == kEncrAesCbc) {
    if (key_bytes == 16) return EVP_aes_128_cbc();
    if (key_bytes == 24) return EVP_aes_192_cbc();
    if (key_bytes == 32) return EVP_aes_256_cbc();
  }
  return nullptr;
}

// Runs AES (GCM or CBC) over data in place. For GCM, `tag` is written
// (encrypt) or checked (decrypt).
bool RunCipher(std::uint16_t encr, std::span<const std::uint8_t> key,
               std::span<const std::uint8_t> iv, std::span<const std::uint8_t> aad,
               std::span<std::uint8_t> data, std::span<std::uint8_t> tag, bool encrypt) {
  const EVP_CIPHER* cipher = Cipher(encr, key.size());
  if (cipher == nullptr) return false;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return false;
  const bool gcm = encr == kEncrAesGcm16;
  int len = 0;
  bool ok = EVP_CipherInit_ex2(ctx, cipher, nullptr, nullptr, encrypt ? 1 : 0, nullptr) == 1;
  if (ok && gcm)
    ok =
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr) == 1;
  if (ok) ok = EVP_CipherInit_ex2(ctx, nullptr, key.data(), iv.data(), -1, nullptr) == 1;
  if (ok) ok = EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
  if (ok && gcm && !aad.empty())
    ok = EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1;
  if (ok && !data.empty())
    ok = EVP_CipherUpdate(ctx, data.data(), &len, data.data(), static_cast<int>(data.size())) == 1;
  if (ok && gcm && !encrypt)
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()), tag.data()) ==
         1;
  std::uint8_t final_block[32];
  if (ok) ok = EVP_CipherFinal_ex(ctx, final_block, &len) == 1 && len == 0;
  if (ok && gcm && encrypt)
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag.size()), tag.data()) ==
         1;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

}  // namespace

Result<SkCrypter> SkCrypter::Create(const IkeAlgorithms& alg, SecureBytes out_encr,
                                    SecureBytes out_integ, SecureBytes in_encr,
                                    SecureBytes in_integ, Random& random) {
  const std::size_t ek = EncrKeymatSize(alg.encr, alg.encr_key_bits);
  if (ek == 0) return Status(Code::kUnimplemented, "unsupported IKE encryption");
  if (!IsAead(alg.encr) && IntegKeySize(alg.integ) == 0)
    return Status(Code::kUnimplemented, "unsupported IKE integrity");
  if (out_encr.size() != ek || in_encr.size() != ek)
    return Status(Code::kInvalidArgument, "encryption key size");
  if (!IsAead(alg.encr) &&
      (out_integ.size() != IntegKeySize(alg.integ) || in_integ.size() != IntegKeySize(alg.integ)))
    return Status(Code::kInvalidArgument, "integrity key size");
  SkCrypter c(alg, random);
  c.out_encr_ = std::move(out_encr);
  c.out_integ_ = std::move(out_integ);
  c.in_encr_ = std::move(in_encr);
  c.in_integ_ = std::move(in_integ);
  return c;
}

std::size_t SkCrypter::IvSize() const { return IsAead(alg_.encr) ? 8 : 16; }
std::size_t SkCrypter::IcvSize() const { return IsAead(alg_.encr) ? 16 : IntegIcvSize(alg_.integ); }
// RFC 5282 §3: GCM needs no alignment; CBC pads to the AES block.
std::size_t SkCrypter::BlockSize() const { return IsAead(alg_.encr) ? 1 : 16; }

Status SkCrypter::Seal(std::span<std::uint8_t> msg, std::size_t aad_len, std::size_t iv_off) {
  const std::size_t iv = IvSize(), icv = IcvSize();
  if (msg.size() < iv_off + iv + icv || aad_len > iv_off)
    return Status(Code::kInvalidArgument, "SK layout");
  std::span<std::uint8_t> iv_bytes = msg.subspan(iv_off, iv);
  std::span<std::uint8_t> ct = msg.subspan(iv_off + iv, msg.size() - iv_off - iv - icv);
  std::span<std::uint8_t> tag = msg.last(icv);
  if (IsAead(alg_.encr)) {
    // RFC 5282 §3.1: the 8-byte IV only has to be unique per key; a counter
    // guarantees that.
    StoreBe64(iv_bytes.data(), ++gcm_iv_counter_);
    const std::size_t key_len = out_encr_.size() - 4;
    std::uint8_t nonce[12];
    std::copy_n(out_encr_.data() + key_len, 4, nonce);
    std::copy_n(iv_bytes.data(), 8, nonce + 4);
    if (!RunCipher(alg_.encr, out_encr_.span().first(key_len), nonce, msg.first(aad_len), ct, tag,
                   true))
      return Status(Code::kInternal, "AES-GCM seal");
    return Status::Ok();
  }
  random_->Fill(iv_bytes);
  if (!RunCipher(alg_.encr, out_encr_.span(), iv_bytes, {}, ct, {}, true))
    return Status(Code::kInternal, "AES-CBC encrypt");
  Result<SecureBytes> mac =
      Hmac(IntegDigest(alg_.integ), out_integ_.span(), msg.first(msg.size() - icv));
  if (!mac.ok()) return mac.status();
  std::copy_n(mac->data(), icv, tag.data());
  return Status::Ok();
}

Status SkCrypter::Open(std::span<std::uint8_t> msg, std::size_t aad_len, std::size_t iv_off) {
  const std::size_t iv = IvSize(), icv = IcvSize();
  if (msg.size() < iv_off + iv + icv || aad_len > iv_off)
    return Status(Code::kInvalidArgument, "SK layout");
  std::span<std::uint8_t> iv_bytes = msg.subspan(iv_off, iv);
  std::span<std::uint8_t> ct = msg.subspan(iv_off + iv, msg.size() - iv_off - iv - icv);
  std::span<std::uint8_t> tag = msg.last(icv);
  if (IsAead(alg_.encr)) {
    const std::size_t key_len = in_encr_.size() - 4;
    std::uint8_t nonce[12];
    std::copy_n(in_encr_.data() + key_len, 4, nonce);
    std::copy_n(iv_bytes.data(), 8, nonce + 4);
    if (!RunCipher(alg_.encr, in_encr_.span().first(key_len), nonce, msg.first(aad_len), ct, tag,
                   false))
      return Status(Code::kAuthFailed, "AES-GCM ICV mismatch");
    return Status::Ok();
  }
  Result<SecureBytes> mac =
      Hmac(IntegDigest(alg_.integ), in_integ_.span(), msg.first(msg.size() - icv));
  if (!mac.ok()) return mac.status();
  if (CRYPTO_memcmp(mac->data(), tag.data(), icv) != 0)
    return Status(Code::kAuthFailed, "ICV mismatch");
  if (ct.size() % 16 != 0 || !RunCipher(alg_.encr, in_encr_.span(), iv_bytes, {}, ct, {}, false))
    return Status(Code::kAuthFailed, "AES-CBC decrypt");
  return Status::Ok();
}

}  // namespace inlinesec::ike
