// Aead: the per-SA AEAD context of the engine model. The cipher is fetched once
// per algorithm by the owner's CipherCache and the key scheduled once per SA,
// in Create(); each packet only sets the 12-byte nonce
// (salt || explicit IV), feeds the AAD and the payload, and reads or sets the
// 16-byte tag, on the same EVP_CIPHER_CTX, so the datapath never allocates.
// AES-GCM follows RFC 4106 and ChaCha20-Poly1305 follows RFC 7634; both use
// the same nonce layout and tag size, so one code path serves them.
#include "inlinesec/model/esp/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <climits>
#include <cstring>
#include <utility>

#include "esp_fast.h"

namespace inlinesec::model::esp {

Aead::State::~State() {
  EVP_CIPHER_CTX_free(ctx);  // cleanses the key schedule
  OPENSSL_cleanse(nonce.data(), nonce.size());
}

namespace {

// Slot of CipherCache and OpenSSL name per supported (algorithm, key length).
struct CipherId {
  std::size_t slot;
  const char* name;
};

bool Lookup(abi::Algo algo, std::size_t key_len, CipherId& id) {
  switch (algo) {
    case abi::Algo::kAesGcm128:
      id = {0, "AES-128-GCM"};
      return key_len == 16;
    case abi::Algo::kAesGcm256:
      id = {1, "AES-256-GCM"};
      return key_len == 32;
    case abi::Algo::kChaCha20Poly1305:
      id = {2, "ChaCha20-Poly1305"};
      return key_len == 32;
    default:
      return false;
  }
}

}  // namespace

CipherCache::~CipherCache() {
  for (EVP_CIPHER* c : fetched_) EVP_CIPHER_free(c);
}

EVP_CIPHER* CipherCache::Get(abi::Algo algo, std::size_t key_len) {
  CipherId id{};
  if (!Lookup(algo, key_len, id)) return nullptr;
  EVP_CIPHER*& c = fetched_[id.slot];
  if (c == nullptr) c = EVP_CIPHER_fetch(nullptr, id.name, nullptr);
  return c;
}

Result<Aead> Aead::Create(abi::Algo algo, std::span<const std::uint8_t> key,
                          std::span<const std::uint8_t, kSaltBytes> salt) {
  CipherCache ciphers;
  return Create(ciphers, algo, key, salt);
}

Result<Aead> Aead::Create(CipherCache& ciphers, abi::Algo algo, std::span<const std::uint8_t> key,
                          std::span<const std::uint8_t, kSaltBytes> salt) {
  CipherId id{};
  if (!Lookup(algo, key.size(), id))
    return Status(Code::kInvalidArgument, "unsupported algorithm or key length");
  EVP_CIPHER* cipher = ciphers.Get(algo, key.size());
  if (cipher == nullptr) return Status(Code::kInternal, "OpenSSL cannot fetch the AEAD cipher");
  auto s = std::make_unique<State>();
  s->algo = algo;
  s->ctx = EVP_CIPHER_CTX_new();
  // Every supported cipher has a 12-byte nonce (the cipher's default IV
  // length), so the length is not queried per SA.
  const bool ok =
      s->ctx != nullptr && EVP_CipherInit_ex2(s->ctx, cipher, key.data(), nullptr, 1, nullptr) == 1;
  if (!ok) return Status(Code::kInternal, "OpenSSL AEAD key setup failed");
  std::memcpy(s->nonce.data(), salt.data(), kSaltBytes);
  return Aead(std::move(s));
}

Aead::Aead(std::unique_ptr<State> s) : s_(std::move(s)) {}
Aead::Aead(Aead&&) noexcept = default;
Aead& Aead::operator=(Aead&&) noexcept = default;
Aead::~Aead() = default;

abi::Algo Aead::algo() const { return s_ ? s_->algo : abi::Algo::kNone; }

bool Aead::Rekey(std::span<const std::uint8_t> key,
                 std::span<const std::uint8_t, kSaltBytes> salt) {
  CipherId id{};
  if (!s_ || !Lookup(s_->algo, key.size(), id)) return false;
  // cipher == nullptr keeps the context's cipher and provider context; only
  // the key is scheduled again (as each packet sets only the nonce).
  if (EVP_CipherInit_ex2(s_->ctx, nullptr, key.data(), nullptr, 1, nullptr) != 1) return false;
  std::memcpy(s_->nonce.data(), salt.data(), kSaltBytes);
  return true;
}

void Aead::Scrub() {
  if (!s_) return;
  const std::array<std::uint8_t, 32> zero_key{};  // the longest key: 32 bytes
  if (EVP_CipherInit_ex2(s_->ctx, nullptr, zero_key.data(), nullptr, 1, nullptr) != 1) {
    // Cannot overwrite in place: drop the context (freeing cleanses it).
    s_.reset();
    return;
  }
  OPENSSL_cleanse(s_->nonce.data(), s_->nonce.size());
}

bool Aead::Seal(std::span<const std::uint8_t, kIvBytes> iv, std::span<const std::uint8_t> aad,
                std::span<std::uint8_t> data, std::span<std::uint8_t, kIcvBytes> tag) {
  if (data.size() > INT_MAX || aad.size() > INT_MAX) return false;
  return AeadFast::Seal(*this, iv.data(), aad, data, tag.data());
}

bool Aead::Open(std::span<const std::uint8_t, kIvBytes> iv, std::span<const std::uint8_t> aad,
                std::span<std::uint8_t> data, std::span<const std::uint8_t, kIcvBytes> tag) {
  if (data.size() > INT_MAX || aad.size() > INT_MAX) return false;
  return AeadFast::Open(*this, iv.data(), aad, data, tag.data());
}

}  // namespace inlinesec::model::esp
