// The IKEv2 key schedule (RFC 7296 §2.13, §2.14, §2.17, §2.18), shared-key
// AUTH (§2.15), NAT detection hashes (§2.23) and cookies (§2.6).
#include "inlinesec/ike/crypto/keys.h"

#include <vector>

#include "inlinesec/common/byte_writer.h"
#include "inlinesec/ike/crypto/prf.h"

namespace inlinesec::ike {
namespace {

Result<IkeKeys> Split(const IkeAlgorithms& alg, std::span<const std::uint8_t> skeyseed,
                      std::span<const std::uint8_t> ni, std::span<const std::uint8_t> nr,
                      std::uint64_t spi_i, std::uint64_t spi_r) {
  const std::size_t prf_len = PrfSize(alg.prf);
  const std::size_t ek = EncrKeymatSize(alg.encr, alg.encr_key_bits);
  const std::size_t ik = IsAead(alg.encr) ? 0 : IntegKeySize(alg.integ);
  if (prf_len == 0 || ek == 0 || (!IsAead(alg.encr) && ik == 0))
    return Status(Code::kUnimplemented, "unsupported IKE transforms");
  ByteWriter seed;
  seed.Bytes(ni);
  seed.Bytes(nr);
  seed.U64(spi_i);
  seed.U64(spi_r);
  Result<SecureBytes> km = PrfPlus(alg.prf, skeyseed, seed.buf(), 3 * prf_len + 2 * ik + 2 * ek);
  SecureWipe(seed.buf());
  if (!km.ok()) return km.status();
  std::span<const std::uint8_t> s = km->span();
  IkeKeys k;
  auto take = [&s](std::size_t n) {
    SecureBytes b(s.first(n));
    s = s.subspan(n);
    return b;
  };
  k.sk_d = take(prf_len);
  k.sk_ai = take(ik);
  k.sk_ar = take(ik);
  k.sk_ei = take(ek);
  k.sk_er = take(ek);
  k.sk_pi = take(prf_len);
  k.sk_pr = take(prf_len);
  return k;
}

}  // namespace

Result<IkeKeys> DeriveIkeKeys(const IkeAlgorithms& alg, std::span<const std::uint8_t> ni,
                              std::span<const std::uint8_t> nr,
                              std::span<const std::uint8_t> shared, std::uint64_t spi_i,
                              std::uint64_t spi_r) {
  SecureBytes nonces(ni.size() + nr.size());
  std::copy(ni.begin(), ni.end(), nonces.data());
  std::copy(nr.begin(), nr.end(), nonces.data() + ni.size());
  Result<SecureBytes> skeyseed = Prf(alg.prf, nonces.span(), shared);
  if (!skeyseed.ok()) return skeyseed.status();
  return Split(alg, skeyseed->span(), ni, nr, spi_i, spi_r);
}

Result<IkeKeys> DeriveRekeyedIkeKeys(std::uint16_t old_prf, std::span<const std::uint8_t> old_sk_d,
                                     const IkeAlgorithms& alg, std::span<const std::uint8_t> ni,
                                     std::span<const std::uint8_t> nr,
                                     std::span<const std::uint8_t> shared, std::uint64_t spi_i,
                                     std::uint64_t spi_r) {
  SecureBytes input(shared.size() + ni.size() + nr.size());
  std::copy(shared.begin(), shared.end(), input.data());
  std::copy(ni.begin(), ni.end(), input.data() + shared.size());
  std::copy(nr.begin(), nr.end(), input.data() + shared.size() + ni.size());
  Result<SecureBytes> skeyseed = Prf(old_prf, old_sk_d, input.span());
  if (!skeyseed.ok()) return skeyseed.status();
  return Split(alg, skeyseed->span(), ni, nr, spi_i, spi_r);
}

Result<SkCrypter> MakeSkCrypter(const IkeAlgorithms& alg, const IkeKeys& keys,
                                bool original_initiator, Random& random) {
  const IkeKeys& k = keys;
  if (original_initiator)
    return SkCrypter::Create(alg, k.sk_ei.Clone(), k.sk_ai.Clone(), k.sk_er.Clone(),
                             k.sk_ar.Clone(), random);
  return SkCrypter::Create(alg, k.sk_er.Clone(), k.sk_ar.Clone(), k.sk_ei.Clone(), k.sk_ai.Clone(),
                           random);
}

Result<ChildKeys> DeriveChildKeys(std::uint16_t prf, std::span<const std::uint8_t> sk_d,
                                  std::span<const std::uint8_t> shared,
                                  std::span<const std::uint8_t> ni,
                                  std::span<const std::uint8_t> nr, std::size_t encr_bytes,
                                  std::size_t integ_bytes) {
  SecureBytes seed(shared.size() + ni.size() + nr.size());
  std::copy(shared.begin(), shared.end(), seed.data());
  std::copy(ni.begin(), ni.end(), seed.data() + shared.size());
  std::copy(nr.begin(), nr.end(), seed.data() + shared.size() + ni.size());
  Result<SecureBytes> km = PrfPlus(prf, sk_d, seed.span(), 2 * (encr_bytes + integ_bytes));
  if (!km.ok()) return km.status();
  std::span<const std::uint8_t> s = km->span();
  auto take = [&s](std::size_t n) {
    SecureBytes b(s.first(n));
    s = s.subspan(n);
    return b;
  };
  ChildKeys c;
  c.encr_i = take(encr_bytes);
  c.integ_i = take(integ_bytes);
  c.encr_r = take(encr_bytes);
  c.integ_r = take(integ_bytes);
  return c;
}

Result<SecureBytes> SignedOctets(std::uint16_t prf, std::span<const std::uint8_t> real_message,
                                 std::span<const std::uint8_t> peer_nonce,
                                 std::span<const std::uint8_t> sk_p,
                                 std::span<const std::uint8_t> id_body) {
  Result<SecureBytes> maced_id = Prf(prf, sk_p, id_body);
  if (!maced_id.ok()) return maced_id.status();
  SecureBytes out(real_message.size() + peer_nonce.size() + maced_id->size());
  std::uint8_t* p = out.data();
  p = std::copy(real_message.begin(), real_message.end(), p);
  p = std::copy(peer_nonce.begin(), peer_nonce.end(), p);
  std::copy(maced_id->span().begin(), maced_id->span().end(), p);
  return out;
}

Result<SecureBytes> PskAuth(std::uint16_t prf, std::span<const std::uint8_t> psk,
                            std::span<const std::uint8_t> signed_octets) {
  static constexpr char kPad[] = "Key Pad for IKEv2";  // RFC 7296 §2.15, 17 octets
  Result<SecureBytes> inner = Prf(
      prf, psk,
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(kPad), sizeof kPad - 1));
  if (!inner.ok()) return inner.status();
  return Prf(prf, inner->span(), signed_octets);
}

std::array<std::uint8_t, 20> NatDetectionHash(std::uint64_t spi_i, std::uint64_t spi_r,
                                              const Endpoint& ep) {
  ByteWriter w;
  w.U64(spi_i);
  w.U64(spi_r);
  w.Bytes(ep.addr.bytes());
  w.U16(ep.port);
  return Sha1(w.buf());
}

std::vector<std::uint8_t> MakeCookie(std::uint32_t version, std::span<const std::uint8_t> secret,
                                     std::span<const std::uint8_t> ni, const IpAddress& ip_i,
                                     std::uint64_t spi_i) {
  ByteWriter w;
  w.Bytes(ni);
  w.Bytes(ip_i.bytes());
  w.U64(spi_i);
  w.Bytes(secret);
  const auto h = Sha256(w.buf());
  SecureWipe(w.buf());
  ByteWriter out;
  out.U32(version);
  out.Bytes(h);
  return out.Take();
}

}  // namespace inlinesec::ike
