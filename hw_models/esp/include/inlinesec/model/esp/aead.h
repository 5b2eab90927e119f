// Aead: one ready AEAD context per SA (cipher fetched and key scheduled once,
// at SA write), used for every packet of that SA without allocation.
// AES-GCM per RFC 4106 and ChaCha20-Poly1305 per RFC 7634: nonce = salt (4
// bytes) || explicit IV (8 bytes), 16-byte tag. CipherCache holds the fetched
// OpenSSL cipher of each algorithm (and the provider functions that serve
// it) for one owner (the engine), so that an SA write only allocates and
// keys a context.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "inlinesec/abi/regs.h"
#include "inlinesec/common/status.h"

namespace inlinesec::model::esp {

inline constexpr std::size_t kIvBytes = 8;
inline constexpr std::size_t kSaltBytes = 4;
inline constexpr std::size_t kIcvBytes = 16;

// One supported cipher as OpenSSL provides it (defined in the internal
// cipher.h): the fetched EVP_CIPHER and its provider's functions.
struct Cipher;

// The Cipher of each supported algorithm, fetched on first use and released
// when neither the cache nor any Aead made from it holds it. Owned by whoever
// creates Aeads in bulk (the engine has one); not shared between threads.
class CipherCache {
 public:
  CipherCache() = default;
  CipherCache(const CipherCache&) = delete;
  CipherCache& operator=(const CipherCache&) = delete;
  ~CipherCache();

  // The cipher for `algo` with a key of `key_len` bytes: an error that says
  // why if the pair is unsupported or OpenSSL cannot provide it.
  [[nodiscard]] Result<std::shared_ptr<const Cipher>> Get(abi::Algo algo, std::size_t key_len);

 private:
  static constexpr std::size_t kSlots = 3;  // AES-GCM-128, AES-GCM-256, ChaCha20-Poly1305
  std::array<std::shared_ptr<const Cipher>, kSlots> ciphers_{};
};

class Aead {
 public:
  // key must be 16 or 32 bytes for AES-GCM-128/256, 32 for ChaCha20-Poly1305.
  // The cipher comes from `ciphers` (fetched there once per algorithm).
  [[nodiscard]] static Result<Aead> Create(CipherCache& ciphers, abi::Algo algo,
                                           std::span<const std::uint8_t> key,
                                           std::span<const std::uint8_t, kSaltBytes> salt);
  // The same with a cache of its own (one fetch per call): for tests and
  // one-off contexts.
  [[nodiscard]] static Result<Aead> Create(abi::Algo algo, std::span<const std::uint8_t> key,
                                           std::span<const std::uint8_t, kSaltBytes> salt);
  Aead(Aead&&) noexcept;
  Aead& operator=(Aead&&) noexcept;
  ~Aead();  // frees the context; key schedule wiped by OpenSSL

  // Encrypts `data` in place and writes the 16-byte tag. aad: ESP header
  // (SPI || seq, or SPI || seq_hi || seq_lo with ESN, RFC 4106 §5).
  [[nodiscard]] bool Seal(std::span<const std::uint8_t, kIvBytes> iv,
                          std::span<const std::uint8_t> aad, std::span<std::uint8_t> data,
                          std::span<std::uint8_t, kIcvBytes> tag);
  // Decrypts in place; false (and `data` unspecified) if the tag is wrong.
  [[nodiscard]] bool Open(std::span<const std::uint8_t, kIvBytes> iv,
                          std::span<const std::uint8_t> aad, std::span<std::uint8_t> data,
                          std::span<const std::uint8_t, kIcvBytes> tag);

  // Re-keys this context in place for another SA of the same algorithm and
  // key length: the provider re-schedules the key inside the existing
  // context (no allocation), overwriting the old key schedule and GCM state. False
  // if the key length differs or OpenSSL fails; the Aead must then not be
  // used until a Rekey succeeds.
  [[nodiscard]] bool Rekey(std::span<const std::uint8_t> key,
                           std::span<const std::uint8_t, kSaltBytes> salt);
  // Overwrites the key schedule (and GCM state) with that of an all-zero key
  // and wipes the salt: for a context kept for reuse after its SA died, so
  // no key material of that SA stays behind. Rekey before the next use.
  void Scrub();

  abi::Algo algo() const;

 private:
  friend struct AeadFast;  // the inlined per-packet path (internal header)
  struct State;
  explicit Aead(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace inlinesec::model::esp
