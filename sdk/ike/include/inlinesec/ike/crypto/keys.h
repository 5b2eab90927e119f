// IKEv2 key schedule and authentication octets: SKEYSEED and the seven IKE SA
// keys (RFC 7296 §2.13, §2.14, rekeyed per §2.18), Child SA keymat (§2.17),
// shared-key AUTH (§2.15), NAT detection hashes (§2.23) and stateless cookies
// (§2.6). All key outputs are SecureBytes.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/common/status.h"
#include "inlinesec/ike/crypto/sk_crypter.h"
#include "inlinesec/ike/wire/address.h"

namespace inlinesec::ike {

struct IkeKeys {
  SecureBytes sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr;
};

// RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir) and
// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} =
//   prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
[[nodiscard]] Result<IkeKeys> DeriveIkeKeys(const IkeAlgorithms& alg,
                                            std::span<const std::uint8_t> ni,
                                            std::span<const std::uint8_t> nr,
                                            std::span<const std::uint8_t> shared,
                                            std::uint64_t spi_i, std::uint64_t spi_r);
// RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with the
// old SA's PRF, then the same prf+ with the new SA's PRF and SPIs.
[[nodiscard]] Result<IkeKeys> DeriveRekeyedIkeKeys(
    std::uint16_t old_prf, std::span<const std::uint8_t> old_sk_d, const IkeAlgorithms& alg,
    std::span<const std::uint8_t> ni, std::span<const std::uint8_t> nr,
    std::span<const std::uint8_t> shared, std::uint64_t spi_i, std::uint64_t spi_r);

// Creates the SkCrypter for our role (original initiator or responder).
[[nodiscard]] Result<SkCrypter> MakeSkCrypter(const IkeAlgorithms& alg, const IkeKeys& keys,
                                              bool original_initiator, Random& random);

// RFC 7296 §2.17: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr); taken as
// encr_i | integ_i | encr_r | integ_r (i = initiator-to-responder).
struct ChildKeys {
  SecureBytes encr_i, integ_i, encr_r, integ_r;
};
[[nodiscard]] Result<ChildKeys> DeriveChildKeys(std::uint16_t prf,
                                                std::span<const std::uint8_t> sk_d,
                                                std::span<const std::uint8_t> shared,
                                                std::span<const std::uint8_t> ni,
                                                std::span<const std::uint8_t> nr,
                                                std::size_t encr_bytes, std::size_t integ_bytes);

// RFC 7296 §2.15, shared key:
//   AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
//   SignedOctets = RealMessage | NoncePeerData | prf(SK_p, RestOfIDPayload)
// `real_message` is the IKE_SA_INIT message the signer sent, `peer_nonce`
// the nonce it received, `sk_p` its own SK_pi/SK_pr and `id_body` its own
// ID payload body (ID type, 3 reserved bytes, data).
[[nodiscard]] Result<SecureBytes> SignedOctets(std::uint16_t prf,
                                               std::span<const std::uint8_t> real_message,
                                               std::span<const std::uint8_t> peer_nonce,
                                               std::span<const std::uint8_t> sk_p,
                                               std::span<const std::uint8_t> id_body);
[[nodiscard]] Result<SecureBytes> PskAuth(std::uint16_t prf, std::span<const std::uint8_t> psk,
                                          std::span<const std::uint8_t> signed_octets);

// RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | Port).
std::array<std::uint8_t, 20> NatDetectionHash(std::uint64_t spi_i, std::uint64_t spi_r,
                                              const Endpoint& ep);

// RFC 7296 §2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>),
// here with a 4-byte version and SHA-256.
std::vector<std::uint8_t> MakeCookie(std::uint32_t version, std::span<const std::uint8_t> secret,
                                     std::span<const std::uint8_t> ni, const IpAddress& ip_i,
                                     std::uint64_t spi_i);

}  // namespace inlinesec::ike
