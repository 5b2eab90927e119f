// IKEv2 protocol numbers: exchange types, payload types, transform IDs,
// notify message types, ID and TS types, as assigned by IANA for RFC 7296
// (§3.1-§3.15), RFC 4868, RFC 5282, RFC 5903, RFC 8031 and RFC 7383. Only the
// numbers inlinesec uses or must recognise are named; everything else is
// carried as a raw integer.
#pragma once

#include <cstdint>
#include <string_view>

namespace inlinesec::ike {

// RFC 7296 §3.1: Exchange Type.
enum class ExchangeType : std::uint8_t {
  kIkeSaInit = 34,
  kIkeAuth = 35,
  kCreateChildSa = 36,
  kInformational = 37,
};

// RFC 7296 §3.2: Next Payload / payload type.
enum class PayloadType : std::uint8_t {
  kNone = 0,
  kSa = 33,
  kKe = 34,
  kIdi = 35,
  kIdr = 36,
  kCert = 37,
  kCertReq = 38,
  kAuth = 39,
  kNonce = 40,
  kNotify = 41,
  kDelete = 42,
  kVendorId = 43,
  kTsi = 44,
  kTsr = 45,
  kSk = 46,
  kCp = 47,
  kEap = 48,
  kSkf = 53,  // RFC 7383 §2.5
};

// RFC 7296 §3.3.1: Protocol ID.
enum class ProtocolId : std::uint8_t { kNone = 0, kIke = 1, kAh = 2, kEsp = 3 };

// RFC 7296 §3.3.2: Transform Type.
enum class TransformType : std::uint8_t {
  kEncr = 1,
  kPrf = 2,
  kInteg = 3,
  kDh = 4,
  kEsn = 5,
};

// Transform Type 1 IDs (RFC 7296 §3.3.2, RFC 5282).
inline constexpr std::uint16_t kEncrAesCbc = 12;
inline constexpr std::uint16_t kEncrAesGcm16 = 20;
// Transform Type 2 IDs (RFC 4868).
inline constexpr std::uint16_t kPrfHmacSha256 = 5;
inline constexpr std::uint16_t kPrfHmacSha384 = 6;
inline constexpr std::uint16_t kPrfHmacSha512 = 7;
// Transform Type 3 IDs (RFC 4868).
inline constexpr std::uint16_t kIntegNone = 0;
inline constexpr std::uint16_t kIntegHmacSha256_128 = 12;
inline constexpr std::uint16_t kIntegHmacSha384_192 = 13;
inline constexpr std::uint16_t kIntegHmacSha512_256 = 14;
// Transform Type 4 IDs (RFC 3526, RFC 5903, RFC 8031).
inline constexpr std::uint16_t kDhNone = 0;
inline constexpr std::uint16_t kDhModp2048 = 14;
inline constexpr std::uint16_t kDhEcp256 = 19;
inline constexpr std::uint16_t kDhCurve25519 = 31;
// Transform Type 5 IDs.
inline constexpr std::uint16_t kEsnNo = 0;
inline constexpr std::uint16_t kEsnYes = 1;
// RFC 7296 §3.3.5: the one transform attribute, Key Length, TV format.
inline constexpr std::uint16_t kAttrKeyLength = 14;

// RFC 7296 §3.10.1: Notify Message Types. Values below 16384 are errors.
enum class NotifyType : std::uint16_t {
  kUnsupportedCriticalPayload = 1,
  kInvalidIkeSpi = 4,
  kInvalidMajorVersion = 5,
  kInvalidSyntax = 7,
  kInvalidMessageId = 9,
  kInvalidSpi = 11,
  kNoProposalChosen = 14,
  kInvalidKePayload = 17,
  kAuthenticationFailed = 24,
  kSinglePairRequired = 34,
  kNoAdditionalSas = 35,
  kInternalAddressFailure = 36,
  kFailedCpRequired = 37,
  kTsUnacceptable = 38,
  kInvalidSelectors = 39,
  kTemporaryFailure = 43,
  kChildSaNotFound = 44,
  kInitialContact = 16384,
  kSetWindowSize = 16385,
  kAdditionalTsPossible = 16386,
  kIpcompSupported = 16387,
  kNatDetectionSourceIp = 16388,
  kNatDetectionDestinationIp = 16389,
  kCookie = 16390,
  kUseTransportMode = 16391,
  kHttpCertLookupSupported = 16392,
  kRekeySa = 16393,
  kEspTfcPaddingNotSupported = 16394,
  kNonFirstFragmentsAlso = 16395,
  kIkev2FragmentationSupported = 16430,  // RFC 7383 §2.3
  kSignatureHashAlgorithms = 16431,      // RFC 7427
};
inline constexpr bool IsErrorNotify(std::uint16_t type) { return type < 16384; }

// RFC 7296 §3.5: ID Type.
enum class IdType : std::uint8_t {
  kIpv4Addr = 1,
  kFqdn = 2,
  kRfc822Addr = 3,
  kIpv6Addr = 5,
  kDerAsn1Dn = 9,
  kKeyId = 11,
};

// RFC 7296 §3.8: Auth Method.
inline constexpr std::uint8_t kAuthSharedKeyMic = 2;

// RFC 7296 §3.13.1: TS Type.
inline constexpr std::uint8_t kTsIpv4AddrRange = 7;
inline constexpr std::uint8_t kTsIpv6AddrRange = 8;

// RFC 7296 §3.1: header size and version.
inline constexpr std::size_t kIkeHeaderSize = 28;
inline constexpr std::uint8_t kIkeMajorVersion = 2;
inline constexpr std::uint8_t kIkeMinorVersion = 0;
// RFC 7296 §3.1 flags.
inline constexpr std::uint8_t kFlagInitiator = 0x08;
inline constexpr std::uint8_t kFlagVersion = 0x10;
inline constexpr std::uint8_t kFlagResponse = 0x20;

// RFC 7296 §2.11 / RFC 3948: UDP ports.
inline constexpr std::uint16_t kIkePort = 500;
inline constexpr std::uint16_t kNatTPort = 4500;

std::string_view ExchangeName(ExchangeType e);
std::string_view PayloadName(PayloadType p);
std::string_view NotifyName(std::uint16_t type);

}  // namespace inlinesec::ike
