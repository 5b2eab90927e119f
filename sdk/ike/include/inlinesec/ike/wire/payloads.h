// Typed IKEv2 payload bodies (RFC 7296 §3.3-§3.13, RFC 7383 §2.5) and the
// Message that carries them. A Message is the decoded, decrypted view of one
// datagram: header fields plus payloads in wire order, each marked with
// whether it travelled inside the SK/SKF payload. The codec (codec.h) turns
// bytes into Messages and back.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "inlinesec/ike/wire/address.h"
#include "inlinesec/ike/wire/constants.h"

namespace inlinesec::ike {

using Bytes = std::vector<std::uint8_t>;

// RFC 7296 §3.3.2 / §3.3.5.
struct Transform {
  TransformType type = TransformType::kEncr;
  std::uint16_t id = 0;
  std::uint16_t key_length = 0;    // Key Length attribute in bits; 0 = absent
  bool unknown_attribute = false;  // RFC 7296 §3.3.6: such a transform is not selectable
  Bytes other_attributes{};        // raw bytes of attributes other than Key Length
  friend bool operator==(const Transform&, const Transform&) = default;
};

// RFC 7296 §3.3.1.
struct Proposal {
  std::uint8_t number = 1;
  ProtocolId protocol = ProtocolId::kIke;
  Bytes spi;  // empty (IKE_SA_INIT), 8 (IKE rekey) or 4 (ESP/AH) bytes
  std::vector<Transform> transforms;
  friend bool operator==(const Proposal&, const Proposal&) = default;
};

struct SaPayload {  // RFC 7296 §3.3
  std::vector<Proposal> proposals;
  friend bool operator==(const SaPayload&, const SaPayload&) = default;
};
struct KePayload {  // RFC 7296 §3.4
  std::uint16_t group = 0;
  Bytes data;
  friend bool operator==(const KePayload&, const KePayload&) = default;
};
struct IdPayload {  // RFC 7296 §3.5 (IDi and IDr)
  IdType type = IdType::kFqdn;
  Bytes data;
  friend bool operator==(const IdPayload&, const IdPayload&) = default;
};
struct AuthPayload {  // RFC 7296 §3.8
  std::uint8_t method = kAuthSharedKeyMic;
  Bytes data;
  friend bool operator==(const AuthPayload&, const AuthPayload&) = default;
};
struct NoncePayload {  // RFC 7296 §3.9
  Bytes nonce;
  friend bool operator==(const NoncePayload&, const NoncePayload&) = default;
};
struct NotifyPayload {  // RFC 7296 §3.10
  ProtocolId protocol = ProtocolId::kNone;
  Bytes spi;
  std::uint16_t type = 0;
  Bytes data;
  friend bool operator==(const NotifyPayload&, const NotifyPayload&) = default;
};
struct DeletePayload {  // RFC 7296 §3.11
  ProtocolId protocol = ProtocolId::kEsp;
  std::vector<std::uint32_t> spis;  // empty for IKE
  friend bool operator==(const DeletePayload&, const DeletePayload&) = default;
};
struct VendorIdPayload {  // RFC 7296 §3.12
  Bytes data;
  friend bool operator==(const VendorIdPayload&, const VendorIdPayload&) = default;
};
struct TsPayload {  // RFC 7296 §3.13 (TSi and TSr)
  std::vector<TrafficSelector> selectors;
  friend bool operator==(const TsPayload&, const TsPayload&) = default;
};
// A payload inlinesec does not interpret (CERT, CERTREQ, CP, EAP, unknown
// non-critical types): kept as raw body bytes.
struct OpaquePayload {
  Bytes body;
  friend bool operator==(const OpaquePayload&, const OpaquePayload&) = default;
};

using PayloadBody =
    std::variant<SaPayload, KePayload, IdPayload, AuthPayload, NoncePayload, NotifyPayload,
                 DeletePayload, VendorIdPayload, TsPayload, OpaquePayload>;

struct Payload {
  PayloadType type = PayloadType::kNone;
  bool critical = false;
  bool encrypted = false;  // inside SK/SKF
  PayloadBody body;
  friend bool operator==(const Payload&, const Payload&) = default;
};

// RFC 7296 §3.1: the header fields that are not derived from the body.
struct Header {
  std::uint64_t spi_i = 0;
  std::uint64_t spi_r = 0;
  std::uint8_t major = kIkeMajorVersion;
  std::uint8_t minor = kIkeMinorVersion;
  ExchangeType exchange = ExchangeType::kIkeSaInit;
  bool initiator = false;  // I flag: sent by the original initiator
  bool response = false;   // R flag
  std::uint32_t message_id = 0;
  friend bool operator==(const Header&, const Header&) = default;
};

struct Message {
  Header header;
  std::vector<Payload> payloads;
  friend bool operator==(const Message&, const Message&) = default;

  // Builders; `encrypted` defaults to true except in IKE_SA_INIT.
  void Add(PayloadType type, PayloadBody body, bool critical = false);
  void AddNotify(NotifyType type, Bytes data = {}, ProtocolId proto = ProtocolId::kNone,
                 Bytes spi = {});

  // Lookups.
  template <typename T>
  const T* Find(PayloadType type) const {
    for (const auto& p : payloads)
      if (p.type == type) return std::get_if<T>(&p.body);
    return nullptr;
  }
  const NotifyPayload* FindNotify(NotifyType type) const;
  std::vector<const NotifyPayload*> Notifies() const;
  // The first error notify (type < 16384), if any.
  const NotifyPayload* FirstError() const;
  int Count(PayloadType type) const;
  bool HasEncrypted() const;
};

}  // namespace inlinesec::ike
