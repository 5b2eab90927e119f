// The IKEv2 message codec: bytes <-> Message. Parsing follows STYLE.md:
// every byte goes through a ByteReader (syntax), then each payload body is
// checked for meaning (semantics), then the message is checked against the
// per-exchange payload rule table ({payload, min, max, encrypted}). Each
// failure names what RFC 7296 §2.21 says to do with it: answer with an error
// notify (INVALID_SYNTAX, UNSUPPORTED_CRITICAL_PAYLOAD, INVALID_MAJOR_VERSION)
// or drop the datagram silently (integrity failure, garbage). Whether a
// notify is actually sent (only to requests) is the task manager's call.
//
// The SK payload (RFC 7296 §3.14) and the SKF payload (RFC 7383 §2.5) are
// sealed and opened through SkProtection, implemented by crypto::SkCrypter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "inlinesec/common/status.h"
#include "inlinesec/ike/wire/payloads.h"

namespace inlinesec::ike {

// One direction-pair of SK keys. Layout of the region handed to Seal/Open:
// `msg` is the whole datagram, ending with the SK/SKF payload; bytes
// [0, aad_len) are the authenticated header part (RFC 5282 §5.1 AAD; for
// non-AEAD ciphers the ICV covers everything before the ICV, RFC 7296 §3.14),
// the IV starts at iv_off, the ciphertext follows the IV and the ICV is the
// last IcvSize() bytes.
class SkProtection {
 public:
  virtual ~SkProtection() = default;
  virtual std::size_t IvSize() const = 0;
  virtual std::size_t IcvSize() const = 0;
  virtual std::size_t BlockSize() const = 0;  // padding alignment of the plaintext
  // Fills the IV, encrypts the plaintext in place and writes the ICV.
  [[nodiscard]] virtual Status Seal(std::span<std::uint8_t> msg, std::size_t aad_len,
                                    std::size_t iv_off) = 0;
  // Verifies the ICV, then decrypts in place. kAuthFailed on a bad ICV.
  [[nodiscard]] virtual Status Open(std::span<std::uint8_t> msg, std::size_t aad_len,
                                    std::size_t iv_off) = 0;
};

// What to do about a message that did not decode.
struct DecodeError {
  // 0: drop silently. Otherwise the notify to answer a request with.
  std::uint16_t notify = 0;
  Bytes notify_data;
  std::string reason;  // for logs; never contains key material
};

// RFC 7296 §3.1: the header of a datagram, read before anything is trusted,
// to find the IKE SA and check the message ID.
struct PeekedHeader {
  Header header;
  PayloadType first = PayloadType::kNone;
  std::uint16_t fragment_number = 0;  // nonzero if the first payload is SKF
  std::uint16_t fragment_total = 0;
};
// Fails (with the notify to send, e.g. INVALID_MAJOR_VERSION) if this is not
// an IKEv2 datagram whose length field matches `bytes`.
[[nodiscard]] bool PeekHeader(std::span<const std::uint8_t> bytes, PeekedHeader& out,
                              DecodeError& err);

// RFC 7383 §2.6: collects the decrypted fragments of one message.
class Reassembler {
 public:
  static constexpr std::uint16_t kMaxFragments = 64;
  static constexpr std::size_t kMaxBytes = 64 * 1024;
  // Returns true when the message is complete; `plaintext`/`first` then hold
  // the inner payload chain.
  bool Add(std::uint32_t message_id, std::uint16_t number, std::uint16_t total, PayloadType next,
           std::span<const std::uint8_t> plaintext, Bytes& plaintext_out, PayloadType& first_out);
  void Reset();
  bool active() const { return active_; }
  std::uint32_t message_id() const { return message_id_; }

 private:
  bool active_ = false;
  std::uint32_t message_id_ = 0;
  std::uint16_t total_ = 0;
  PayloadType first_ = PayloadType::kNone;
  std::size_t bytes_ = 0;
  std::map<std::uint16_t, Bytes> parts_;
};

enum class DecodeStatus { kOk, kFragmentPending, kError };

// Decodes one datagram. `sk` may be null before keys exist (IKE_SA_INIT);
// `reassembler` may be null if fragments are not accepted.
DecodeStatus Decode(std::span<const std::uint8_t> bytes, SkProtection* sk, Reassembler* reassembler,
                    Message& out, DecodeError& err);

// Decodes only the payloads outside SK, with no rule table: for unprotected
// notifies (INVALID_SPI hints, INVALID_IKE_SPI) that arrive without keys.
DecodeStatus DecodeUnprotected(std::span<const std::uint8_t> bytes, Message& out, DecodeError& err);

// Serializes a message; payloads marked `encrypted` go into one SK payload
// after the clear ones (RFC 7296 §3.14). `sk` is required if any are.
[[nodiscard]] Result<Bytes> Encode(const Message& msg, SkProtection* sk);

// RFC 7383 §2.5: like Encode, but splits the encrypted part into SKF
// fragments so that no datagram exceeds `max_datagram` bytes. Returns one
// plain SK message if it already fits.
[[nodiscard]] Result<std::vector<Bytes>> EncodeFragmented(const Message& msg, SkProtection& sk,
                                                          std::size_t max_datagram);

// The per-exchange rule table entry (STYLE.md "Untrusted bytes").
struct PayloadRule {
  ExchangeType exchange;
  bool response;
  PayloadType type;
  std::uint8_t min;
  std::uint8_t max;  // 255: unbounded
  bool encrypted;
};
// Checks counts and protection of payloads; kInvalidSyntax notify on failure.
[[nodiscard]] bool CheckRules(const Message& msg, DecodeError& err);

// Serializes a payload body without its generic header (used for AUTH's
// RestOfIDPayload, RFC 7296 §2.15, and in tests).
Bytes EncodeBody(const PayloadBody& body);

}  // namespace inlinesec::ike
