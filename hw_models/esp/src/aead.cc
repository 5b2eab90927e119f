// Aead: the per-SA AEAD context of the engine model. The cipher is fetched once
// per algorithm by the owner's CipherCache and the key scheduled once per SA,
// in Create(); each packet only sets the 12-byte nonce
// (salt || explicit IV), feeds the AAD and the payload, and reads or sets the
// 16-byte tag, on the same provider context, so the datapath never
// allocates. The provider's cipher functions are called directly (cipher.h
// says why).
// AES-GCM follows RFC 4106 and ChaCha20-Poly1305 follows RFC 7634; both use
// the same nonce layout and tag size, so one code path serves them.
#include "inlinesec/model/esp/aead.h"

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <strings.h>

#include <array>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "esp_fast.h"

namespace inlinesec::model::esp {

Aead::State::~State() {
  if (ctx != nullptr) cipher->freectx(ctx);  // the provider cleanses the key schedule
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

// True if `name` is one of the colon-separated names of `names` (OpenSSL's
// algorithm names are case-insensitive).
bool HasName(const char* names, const char* name) {
  const std::size_t len = std::strlen(name);
  for (const char* p = names; p != nullptr && *p != '\0';) {
    const char* end = std::strchr(p, ':');
    const std::size_t n = end != nullptr ? static_cast<std::size_t>(end - p) : std::strlen(p);
    if (n == len && strncasecmp(p, name, n) == 0) return true;
    p = end != nullptr ? end + 1 : nullptr;
  }
  return false;
}

// Copies the functions of the provider's implementation named `name` into
// c; false if the provider has no such implementation or it lacks one the
// engine calls.
bool TakeFunctions(const OSSL_PROVIDER* prov, const char* name, Cipher& c) {
  int no_store = 0;
  const OSSL_ALGORITHM* algs = OSSL_PROVIDER_query_operation(prov, OSSL_OP_CIPHER, &no_store);
  if (algs == nullptr) return false;
  for (const OSSL_ALGORITHM* a = algs; a->algorithm_names != nullptr; ++a) {
    if (!HasName(a->algorithm_names, name)) continue;
    for (const OSSL_DISPATCH* f = a->implementation; f->function_id != 0; ++f) {
      switch (f->function_id) {
        case OSSL_FUNC_CIPHER_NEWCTX:
          c.newctx = OSSL_FUNC_cipher_newctx(f);
          break;
        case OSSL_FUNC_CIPHER_FREECTX:
          c.freectx = OSSL_FUNC_cipher_freectx(f);
          break;
        case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
          c.einit = OSSL_FUNC_cipher_encrypt_init(f);
          break;
        case OSSL_FUNC_CIPHER_DECRYPT_INIT:
          c.dinit = OSSL_FUNC_cipher_decrypt_init(f);
          break;
        case OSSL_FUNC_CIPHER_UPDATE:
          c.update = OSSL_FUNC_cipher_update(f);
          break;
        case OSSL_FUNC_CIPHER_FINAL:
          c.final = OSSL_FUNC_cipher_final(f);
          break;
        case OSSL_FUNC_CIPHER_GET_CTX_PARAMS:
          c.get_ctx_params = OSSL_FUNC_cipher_get_ctx_params(f);
          break;
        case OSSL_FUNC_CIPHER_SET_CTX_PARAMS:
          c.set_ctx_params = OSSL_FUNC_cipher_set_ctx_params(f);
          break;
        default:
          break;
      }
    }
    break;
  }
  OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_CIPHER, algs);
  return c.newctx != nullptr && c.freectx != nullptr && c.einit != nullptr && c.dinit != nullptr &&
         c.update != nullptr && c.final != nullptr && c.get_ctx_params != nullptr &&
         c.set_ctx_params != nullptr;
}

}  // namespace

Result<std::shared_ptr<const Cipher>> FetchCipher(const char* name, std::size_t key_len) {
  auto c = std::make_shared<Cipher>();
  c->evp = EVP_CIPHER_fetch(nullptr, name, nullptr);
  if (c->evp == nullptr)
    return Status(Code::kInternal, std::string("OpenSSL cannot fetch ") + name);
  const OSSL_PROVIDER* prov = EVP_CIPHER_get0_provider(c->evp);
  if (prov == nullptr || !TakeFunctions(prov, name, *c))
    return Status(Code::kInternal, std::string("the OpenSSL provider of ") + name +
                                       " lacks a cipher function the engine calls");
  c->provctx = OSSL_PROVIDER_get0_provider_ctx(prov);
  c->key_len = key_len;
  return std::shared_ptr<const Cipher>(std::move(c));
}

CipherCache::~CipherCache() = default;

Result<std::shared_ptr<const Cipher>> CipherCache::Get(abi::Algo algo, std::size_t key_len) {
  CipherId id{};
  if (!Lookup(algo, key_len, id))
    return Status(Code::kInvalidArgument, "unsupported algorithm or key length");
  std::shared_ptr<const Cipher>& c = ciphers_[id.slot];
  if (c == nullptr) {
    auto fetched = FetchCipher(id.name, key_len);
    if (!fetched.ok()) return fetched.status();
    c = std::move(fetched).value();
  }
  return c;
}

Result<Aead> Aead::Create(abi::Algo algo, std::span<const std::uint8_t> key,
                          std::span<const std::uint8_t, kSaltBytes> salt) {
  CipherCache ciphers;
  return Create(ciphers, algo, key, salt);
}

Result<Aead> Aead::Create(CipherCache& ciphers, abi::Algo algo, std::span<const std::uint8_t> key,
                          std::span<const std::uint8_t, kSaltBytes> salt) {
  auto cipher = ciphers.Get(algo, key.size());
  if (!cipher.ok()) return cipher.status();
  auto s = std::make_unique<State>();
  s->cipher = std::move(cipher).value();
  s->algo = algo;
  s->ctx = s->cipher->newctx(s->cipher->provctx);
  // Every supported cipher has a 12-byte nonce (the cipher's default IV
  // length), set per packet.
  if (s->ctx == nullptr ||
      s->cipher->einit(s->ctx, key.data(), key.size(), nullptr, 0, nullptr) != 1)
    return Status(Code::kInternal, "OpenSSL AEAD key setup failed");
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
  if (!s_ || key.size() != s_->cipher->key_len) return false;
  // The same provider context: only the key is scheduled again (as each
  // packet sets only the nonce).
  if (s_->cipher->einit(s_->ctx, key.data(), key.size(), nullptr, 0, nullptr) != 1) return false;
  std::memcpy(s_->nonce.data(), salt.data(), kSaltBytes);
  return true;
}

void Aead::Scrub() {
  if (!s_) return;
  const std::array<std::uint8_t, 32> zero_key{};  // the longest key: 32 bytes
  if (s_->cipher->einit(s_->ctx, zero_key.data(), s_->cipher->key_len, nullptr, 0, nullptr) != 1) {
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
