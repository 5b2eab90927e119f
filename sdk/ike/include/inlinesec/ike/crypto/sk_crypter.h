// SkCrypter: protects and opens SK/SKF payloads for one IKE SA in one role.
// AES-GCM-16 with 128/256-bit keys (RFC 5282: 4-byte salt from the keymat,
// 8-byte explicit IV, 16-byte ICV, AAD = IKE header + SK header) and AES-CBC
// with HMAC-SHA2-256-128 / -384-192 / -512-256 (RFC 7296 §3.14, RFC 4868:
// 16-byte random IV, ICV over the whole message). Outgoing messages use the
// keys of our own direction (SK_ei/SK_ai for the original initiator).
#pragma once

#include <cstdint>

#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/ike/crypto/random.h"
#include "inlinesec/ike/wire/codec.h"

namespace inlinesec::ike {

// The negotiated IKE SA transforms.
struct IkeAlgorithms {
  std::uint16_t encr = 0;
  std::uint16_t encr_key_bits = 0;
  std::uint16_t prf = 0;
  std::uint16_t integ = 0;  // kIntegNone for AEAD
  std::uint16_t dh = 0;
  friend bool operator==(const IkeAlgorithms&, const IkeAlgorithms&) = default;
};

bool IsAead(std::uint16_t encr);
// Bytes of encryption keymat (incl. the 4-byte GCM salt); 0 if unsupported.
std::size_t EncrKeymatSize(std::uint16_t encr, std::uint16_t key_bits);
// Bytes of integrity key and of ICV; 0 if unsupported.
std::size_t IntegKeySize(std::uint16_t integ);
std::size_t IntegIcvSize(std::uint16_t integ);

class SkCrypter final : public SkProtection {
 public:
  // `out_*` protect what we send, `in_*` verify what we receive.
  [[nodiscard]] static Result<SkCrypter> Create(const IkeAlgorithms& alg, SecureBytes out_encr,
                                                SecureBytes out_integ, SecureBytes in_encr,
                                                SecureBytes in_integ, Random& random);
  SkCrypter(SkCrypter&&) noexcept = default;
  SkCrypter& operator=(SkCrypter&&) noexcept = default;

  std::size_t IvSize() const override;
  std::size_t IcvSize() const override;
  std::size_t BlockSize() const override;
  Status Seal(std::span<std::uint8_t> msg, std::size_t aad_len, std::size_t iv_off) override;
  Status Open(std::span<std::uint8_t> msg, std::size_t aad_len, std::size_t iv_off) override;

 private:
  SkCrypter(const IkeAlgorithms& alg, Random& random) : alg_(alg), random_(&random) {}
  IkeAlgorithms alg_;
  Random* random_;
  SecureBytes out_encr_, out_integ_, in_encr_, in_integ_;
  std::uint64_t gcm_iv_counter_ = 0;  // RFC 5282 §3.1: IVs must never repeat
};

}  // namespace inlinesec::ike
