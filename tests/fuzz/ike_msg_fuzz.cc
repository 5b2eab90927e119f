// Fuzz target for the IKEv2 message parser (sdk/ike/wire/codec.cc): header
// peek, unprotected decode, full decode with a fixed SK key (so seeds that
// were sealed with it reach the inner payload parser), fragment reassembly,
// and a decode -> encode -> decode round trip that must reproduce the
// message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "inlinesec/ike/crypto/keys.h"
#include "inlinesec/ike/crypto/random.h"
#include "inlinesec/ike/wire/codec.h"

namespace {

using namespace inlinesec;
using namespace inlinesec::ike;

// The same keys seal and open, so sealed seeds decode. Seeds in
// tests/fuzz/corpus/ike_msg/ were produced with exactly this setup.
SkCrypter& FixedCrypter() {
  static DeterministicRandom rnd(1);
  static SkCrypter c = [] {
    IkeAlgorithms alg{kEncrAesGcm16, 256, kPrfHmacSha256, kIntegNone, kDhCurve25519};
    std::vector<std::uint8_t> key(36, 0x42);
    return SkCrypter::Create(alg, SecureBytes(key), SecureBytes(), SecureBytes(key), SecureBytes(),
                             rnd)
        .value();
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  PeekedHeader peek;
  DecodeError err;
  (void)PeekHeader(in, peek, err);
  Message m;
  (void)DecodeUnprotected(in, m, err);
  Reassembler reasm;
  if (Decode(in, &FixedCrypter(), &reasm, m, err) == DecodeStatus::kOk) {
    Result<Bytes> again = Encode(m, &FixedCrypter());
    if (!again.ok()) std::abort();
    Message m2;
    Reassembler r2;
    if (Decode(*again, &FixedCrypter(), &r2, m2, err) != DecodeStatus::kOk || !(m2 == m))
      std::abort();
  }
  return 0;
}
