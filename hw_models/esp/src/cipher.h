// Internal to the engine model and its benchmarks (not installed): an AEAD
// cipher as the OpenSSL provider that serves it implements it, for calling
// the provider's cipher functions (provider-cipher(7)) directly, as EVP
// would. Why: OpenSSL 3.0's EVP_CipherInit_ex2 asks the provider for the key
// length on every keyed init and for the IV length on every nonce, each a
// parameter lookup by name (a strcmp over the provider's parameter list),
// and EVP_CTRL_AEAD_GET_TAG/SET_TAG are translated into the same kind of
// lookup; the engine knows every length, and keys and nonces are its hot
// paths (an SA write, a packet).
#pragma once

#include <openssl/core_dispatch.h>
#include <openssl/evp.h>

#include <cstddef>
#include <memory>

#include "inlinesec/common/status.h"

namespace inlinesec::model::esp {

// The fetched cipher and its provider's functions. `evp` holds the cipher,
// and with it the provider, for as long as any context uses the functions.
struct Cipher {
  EVP_CIPHER* evp = nullptr;
  void* provctx = nullptr;  // the provider's context, for newctx
  OSSL_FUNC_cipher_newctx_fn* newctx = nullptr;
  OSSL_FUNC_cipher_freectx_fn* freectx = nullptr;
  OSSL_FUNC_cipher_encrypt_init_fn* einit = nullptr;
  OSSL_FUNC_cipher_decrypt_init_fn* dinit = nullptr;
  OSSL_FUNC_cipher_update_fn* update = nullptr;
  OSSL_FUNC_cipher_final_fn* final = nullptr;
  OSSL_FUNC_cipher_get_ctx_params_fn* get_ctx_params = nullptr;
  OSSL_FUNC_cipher_set_ctx_params_fn* set_ctx_params = nullptr;
  std::size_t key_len = 0;

  Cipher() = default;
  Cipher(const Cipher&) = delete;
  Cipher& operator=(const Cipher&) = delete;
  ~Cipher() { EVP_CIPHER_free(evp); }
};

// Fetches the cipher `name` (an OpenSSL name such as "AES-256-GCM") through
// EVP, so that the library context's configuration picks the provider, and
// takes that provider's functions for it. key_len: the cipher's key length
// in bytes (recorded, not checked: the provider checks it at each keying).
// An error that says why if OpenSSL cannot fetch the cipher or its provider
// lacks a function the engine calls.
[[nodiscard]] Result<std::shared_ptr<const Cipher>> FetchCipher(const char* name,
                                                                std::size_t key_len);

}  // namespace inlinesec::model::esp
