// Diffie-Hellman for IKEv2 KE payloads through OpenSSL 3 EVP_PKEY: group 14
// (2048-bit MODP, RFC 3526), 19 (ECP-256, RFC 5903) and 31 (Curve25519,
// RFC 8031). Public values and shared secrets use the encodings RFC 7296
// §3.4 / RFC 5903 §7 / RFC 8031 §2 require: MODP left-padded to the prime
// size, ECP as x|y without a point-format octet and the secret as x only,
// X25519 as the raw 32 bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/common/status.h"
#include "inlinesec/ike/crypto/random.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace inlinesec::ike {

bool DhGroupSupported(std::uint16_t group);
// Length of the KE payload data for a group; 0 if unsupported.
std::size_t DhPublicSize(std::uint16_t group);

class DhKeyExchange {
 public:
  // A fresh key pair. X25519 draws its private key from `random`; MODP and
  // ECP use OpenSSL's key generation (which draws from its own DRBG).
  [[nodiscard]] static Result<DhKeyExchange> Generate(std::uint16_t group, Random& random);
  // A known key pair (for known-answer tests). `pub` is needed for ECP and
  // MODP, ignored for X25519.
  [[nodiscard]] static Result<DhKeyExchange> FromPrivate(std::uint16_t group,
                                                         std::span<const std::uint8_t> priv,
                                                         std::span<const std::uint8_t> pub);
  DhKeyExchange(DhKeyExchange&&) noexcept;
  DhKeyExchange& operator=(DhKeyExchange&&) noexcept;
  ~DhKeyExchange();

  std::uint16_t group() const { return group_; }
  const std::vector<std::uint8_t>& public_value() const { return public_; }
  // g^ir from the peer's KE data; kInvalidArgument if the value is malformed
  // or not on the curve (RFC 7296 §2.12 / RFC 5903 checks).
  [[nodiscard]] Result<SecureBytes> Agree(std::span<const std::uint8_t> peer) const;

 private:
  DhKeyExchange(std::uint16_t group, EVP_PKEY* key);
  [[nodiscard]] Status ExportPublic();
  std::uint16_t group_ = 0;
  EVP_PKEY* key_ = nullptr;
  std::vector<std::uint8_t> public_;
};

}  // namespace inlinesec::ike
