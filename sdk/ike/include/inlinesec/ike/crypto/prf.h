// IKEv2 pseudo-random functions through OpenSSL 3 EVP_MAC: PRF_HMAC_SHA2_256,
// _384 and _512 (RFC 4868 §2.1) and prf+ (RFC 7296 §2.13). Outputs that are
// key material come back as SecureBytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/common/status.h"

namespace inlinesec::ike {

// Output (and preferred key) size of a PRF transform; 0 if unsupported.
std::size_t PrfSize(std::uint16_t prf_id);

// prf(key, data) (RFC 7296 §2.13); HMAC accepts keys of any length.
[[nodiscard]] Result<SecureBytes> Prf(std::uint16_t prf_id, std::span<const std::uint8_t> key,
                                      std::span<const std::uint8_t> data);

// prf+(K, S) = T1 | T2 | ..., Tn = prf(K, Tn-1 | S | n), truncated to
// `length` bytes; at most 255 blocks (RFC 7296 §2.13).
[[nodiscard]] Result<SecureBytes> PrfPlus(std::uint16_t prf_id, std::span<const std::uint8_t> key,
                                          std::span<const std::uint8_t> seed, std::size_t length);

// Plain HMAC for integrity transforms: full output, caller truncates.
[[nodiscard]] Result<SecureBytes> Hmac(const char* digest, std::span<const std::uint8_t> key,
                                       std::span<const std::uint8_t> data);

// SHA-1 / SHA-256 digests (NAT detection, cookies).
std::array<std::uint8_t, 20> Sha1(std::span<const std::uint8_t> data);
std::array<std::uint8_t, 32> Sha256(std::span<const std::uint8_t> data);

}  // namespace inlinesec::ike
