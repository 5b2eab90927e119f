// Aead: one ready AEAD context per SA (cipher fetched and key scheduled once,
// at SA write), used for every packet of that SA without allocation.
// AES-GCM per RFC 4106 and ChaCha20-Poly1305 per RFC 7634: nonce = salt (4
// bytes) || explicit IV (8 bytes), 16-byte tag.
#pragma once

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

class Aead {
 public:
  // key must be 16 or 32 bytes for AES-GCM-128/256, 32 for ChaCha20-Poly1305.
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

  abi::Algo algo() const;

 private:
  struct State;
  explicit Aead(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace inlinesec::model::esp
