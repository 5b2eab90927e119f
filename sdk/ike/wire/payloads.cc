// Message builders and lookups, and the printable names of protocol numbers
// (for logs and error messages).
#include "inlinesec/ike/wire/payloads.h"

namespace inlinesec::ike {

void Message::Add(PayloadType type, PayloadBody body, bool critical) {
  Payload p;
  p.type = type;
  p.critical = critical;
  p.encrypted = header.exchange != ExchangeType::kIkeSaInit;
  p.body = std::move(body);
  payloads.push_back(std::move(p));
}

void Message::AddNotify(NotifyType type, Bytes data, ProtocolId proto, Bytes spi) {
  Add(PayloadType::kNotify,
      NotifyPayload{proto, std::move(spi), static_cast<std::uint16_t>(type), std::move(data)});
}

const NotifyPayload* Message::FindNotify(NotifyType type) const {
  for (const auto& p : payloads) {
    if (p.type != PayloadType::kNotify) continue;
    const auto* n = std::get_if<NotifyPayload>(&p.body);
    if (n != nullptr && n->type == static_cast<std::uint16_t>(type)) return n;
  }
  return nullptr;
}

std::vector<const NotifyPayload*> Message::Notifies() const {
  std::vector<const NotifyPayload*> out;
  for (const auto& p : payloads)
    if (const auto* n = std::get_if<NotifyPayload>(&p.body); n && p.type == PayloadType::kNotify)
      out.push_back(n);
  return out;
}

const NotifyPayload* Message::FirstError() const {
  for (const auto* n : Notifies())
    if (IsErrorNotify(n->type)) return n;
  return nullptr;
}

int Message::Count(PayloadType type) const {
  int n = 0;
  for (const auto& p : payloads) n += p.type == type;
  return n;
}

bool Message::HasEncrypted() const {
  for (const auto& p : payloads)
    if (p.encrypted) return true;
  return false;
}

std::string_view ExchangeName(ExchangeType e) {
  switch (e) {
    case ExchangeType::kIkeSaInit:
      return "IKE_SA_INIT";
    case ExchangeType::kIkeAuth:
      return "IKE_AUTH";
    case ExchangeType::kCreateChildSa:
      return "CREATE_CHILD_SA";
    case ExchangeType::kInformational:
      return "INFORMATIONAL";
  }
  return "UNKNOWN_EXCHANGE";
}

std::string_view PayloadName(PayloadType p) {
  switch (p) {
    case PayloadType::kNone:
      return "NONE";
    case PayloadType::kSa:
      return "SA";
    case PayloadType::kKe:
      return "KE";
    case PayloadType::kIdi:
      return "IDi";
    case PayloadType::kIdr:
      return "IDr";
    case PayloadType::kCert:
      return "CERT";
    case PayloadType::kCertReq:
      return "CERTREQ";
    case PayloadType::kAuth:
      return "AUTH";
    case PayloadType::kNonce:
      return "Nonce";
    case PayloadType::kNotify:
      return "N";
    case PayloadType::kDelete:
      return "D";
    case PayloadType::kVendorId:
      return "V";
    case PayloadType::kTsi:
      return "TSi";
    case PayloadType::kTsr:
      return "TSr";
    case PayloadType::kSk:
      return "SK";
    case PayloadType::kCp:
      return "CP";
    case PayloadType::kEap:
      return "EAP";
    case PayloadType::kSkf:
      return "SKF";
  }
  return "UNKNOWN_PAYLOAD";
}

std::string_view NotifyName(std::uint16_t type) {
  switch (static_cast<NotifyType>(type)) {
    case NotifyType::kUnsupportedCriticalPayload:
      return "UNSUPPORTED_CRITICAL_PAYLOAD";
    case NotifyType::kInvalidIkeSpi:
      return "INVALID_IKE_SPI";
    case NotifyType::kInvalidMajorVersion:
      return "INVALID_MAJOR_VERSION";
    case NotifyType::kInvalidSyntax:
      return "INVALID_SYNTAX";
    case NotifyType::kInvalidMessageId:
      return "INVALID_MESSAGE_ID";
    case NotifyType::kInvalidSpi:
      return "INVALID_SPI";
    case NotifyType::kNoProposalChosen:
      return "NO_PROPOSAL_CHOSEN";
    case NotifyType::kInvalidKePayload:
      return "INVALID_KE_PAYLOAD";
    case NotifyType::kAuthenticationFailed:
      return "AUTHENTICATION_FAILED";
    case NotifyType::kTsUnacceptable:
      return "TS_UNACCEPTABLE";
    case NotifyType::kTemporaryFailure:
      return "TEMPORARY_FAILURE";
    case NotifyType::kChildSaNotFound:
      return "CHILD_SA_NOT_FOUND";
    case NotifyType::kInitialContact:
      return "INITIAL_CONTACT";
    case NotifyType::kCookie:
      return "COOKIE";
    case NotifyType::kUseTransportMode:
      return "USE_TRANSPORT_MODE";
    case NotifyType::kRekeySa:
      return "REKEY_SA";
    case NotifyType::kNatDetectionSourceIp:
      return "NAT_DETECTION_SOURCE_IP";
    case NotifyType::kNatDetectionDestinationIp:
      return "NAT_DETECTION_DESTINATION_IP";
    case NotifyType::kIkev2FragmentationSupported:
      return "IKEV2_FRAGMENTATION_SUPPORTED";
    default:
      return "NOTIFY";
  }
}

}  // namespace inlinesec::ike
