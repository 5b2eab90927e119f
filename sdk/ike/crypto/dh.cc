// Diffie-Hellman groups 14, 19 and 31 on OpenSSL 3 EVP_PKEY, with the
// IKEv2 encodings of public values and shared secrets (RFC 7296 §3.4,
// RFC 5903 §7, RFC 8031 §2-§3).
#include "inlinesec/ike/crypto/dh.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <utility>

#include "inlinesec/ike/wire/constants.h"

namespace inlinesec::ike {

bool DhGroupSupported(std::uint16_t group) {
  return group == kDhModp2048 || group == kDhEcp256 || group == kDhCurve25519;
}

std::size_t DhPublicSize(std::uint16_t group) {
  switch (group) {
    case kDhModp2048:
      return 256;
    case kDhEcp256:
      return 64;
    case kDhCurve25519:
      return 32;
    default:
      return 0;
  }
}

namespace {

// Builds a key of `group` from OSSL_PARAMs; `selection` is
// EVP_PKEY_KEYPAIR or EVP_PKEY_PUBLIC_KEY.
EVP_PKEY* FromParams(std::uint16_t group, const BIGNUM* priv, std::span<const std::uint8_t> pub,
                     int selection) {
  const bool ec = group == kDhEcp256;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) return nullptr;
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = nullptr;
  OSSL_PARAM* params = nullptr;
  BIGNUM* pub_bn = nullptr;
  std::vector<std::uint8_t> point;
  bool ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            ec ? "prime256v1" : "modp_2048", 0) == 1;
  if (ok && ec) {
    point.push_back(0x04);  // uncompressed point: OpenSSL's encoding of x|y
    point.insert(point.end(), pub.begin(), pub.end());
    ok = OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size()) == 1;
  } else if (ok) {
    pub_bn = BN_bin2bn(pub.data(), static_cast<int>(pub.size()), nullptr);
    ok = pub_bn != nullptr && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, pub_bn) == 1;
  }
  if (ok && priv != nullptr) ok = OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) == 1;
  if (ok) ok = (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr;
  if (ok) ok = (ctx = EVP_PKEY_CTX_new_from_name(nullptr, ec ? "EC" : "DH", nullptr)) != nullptr;
  if (ok) ok = EVP_PKEY_fromdata_init(ctx) == 1;
  if (ok) ok = EVP_PKEY_fromdata(ctx, &key, selection, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(pub_bn);
  return ok ? key : nullptr;
}

}  // namespace

DhKeyExchange::DhKeyExchange(std::uint16_t group, EVP_PKEY* key) : group_(group), key_(key) {}

DhKeyExchange::DhKeyExchange(DhKeyExchange&& o) noexcept
    : group_(o.group_), key_(std::exchange(o.key_, nullptr)), public_(std::move(o.public_)) {}

DhKeyExchange& DhKeyExchange::operator=(DhKeyExchange&& o) noexcept {
  if (this != &o) {
    EVP_PKEY_free(key_);
    group_ = o.group_;
    key_ = std::exchange(o.key_, nullptr);
    public_ = std::move(o.public_);
  }
  return *this;
}

DhKeyExchange::~DhKeyExchange() { EVP_PKEY_free(key_); }

Status DhKeyExchange::ExportPublic() {
  if (group_ == kDhCurve25519) {
    public_.resize(32);
    std::size_t len = public_.size();
    if (EVP_PKEY_get_raw_public_key(key_, public_.data(), &len) != 1 || len != 32)
      return Status(Code::kInternal, "X25519 public key export");
    return Status::Ok();
  }
  if (group_ == kDhEcp256) {
    std::uint8_t* buf = nullptr;
    const std::size_t len = EVP_PKEY_get1_encoded_public_key(key_, &buf);
    if (len != 65 || buf == nullptr || buf[0] != 0x04) {
      OPENSSL_free(buf);
      return Status(Code::kInternal, "ECP public key export");
    }
    public_.assign(buf + 1, buf + 65);  // RFC 5903 §7: x | y
    OPENSSL_free(buf);
    return Status::Ok();
  }
  BIGNUM* pub = nullptr;
  if (EVP_PKEY_get_bn_param(key_, OSSL_PKEY_PARAM_PUB_KEY, &pub) != 1)
    return Status(Code::kInternal, "DH public key export");
  public_.assign(256, 0);  // RFC 7296 §3.4: left-padded to the prime length
  const int ok = BN_bn2binpad(pub, public_.data(), 256);
  BN_free(pub);
  if (ok != 256) return Status(Code::kInternal, "DH public key size");
  return Status::Ok();
}

Result<DhKeyExchange> DhKeyExchange::Generate(std::uint16_t group, Random& random) {
  if (!DhGroupSupported(group)) return Status(Code::kUnimplemented, "unsupported DH group");
  EVP_PKEY* key = nullptr;
  if (group == kDhCurve25519) {
    std::array<std::uint8_t, 32> priv;
    random.Fill(priv);
    key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size());
    OPENSSL_cleanse(priv.data(), priv.size());
  } else {
    EVP_PKEY_CTX* ctx =
        EVP_PKEY_CTX_new_from_name(nullptr, group == kDhEcp256 ? "EC" : "DH", nullptr);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(
            OSSL_PKEY_PARAM_GROUP_NAME,
            const_cast<char*>(group == kDhEcp256 ? "prime256v1" : "modp_2048"), 0),
        OSSL_PARAM_construct_end()};
    if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_params(ctx, params) != 1 || EVP_PKEY_generate(ctx, &key) != 1)
      key = nullptr;
    EVP_PKEY_CTX_free(ctx);
  }
  if (key == nullptr) return Status(Code::kInternal, "DH key generation");
  DhKeyExchange dh(group, key);
  INLINESEC_RETURN_IF_ERROR(dh.ExportPublic());
  return dh;
}

Result<DhKeyExchange> DhKeyExchange::FromPrivate(std::uint16_t group,
                                                 std::span<const std::uint8_t> priv,
                                                 std::span<const std::uint8_t> pub) {
  if (!DhGroupSupported(group)) return Status(Code::kUnimplemented, "unsupported DH group");
  EVP_PKEY* key = nullptr;
  if (group == kDhCurve25519) {
    key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size());
  } else {
    BIGNUM* bn = BN_bin2bn(priv.data(), static_cast<int>(priv.size()), nullptr);
    if (bn != nullptr) key = FromParams(group, bn, pub, EVP_PKEY_KEYPAIR);
    BN_clear_free(bn);
  }
  if (key == nullptr) return Status(Code::kInvalidArgument, "bad DH private key");
  DhKeyExchange dh(group, key);
  INLINESEC_RETURN_IF_ERROR(dh.ExportPublic());
  return dh;
}

Result<SecureBytes> DhKeyExchange::Agree(std::span<const std::uint8_t> peer_value) const {
  if (peer_value.size() != DhPublicSize(group_))
    return Status(Code::kInvalidArgument, "KE data length does not match the group");
  EVP_PKEY* peer = nullptr;
  if (group_ == kDhCurve25519)
    peer =
        EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_value.data(), peer_value.size());
  else
    peer = FromParams(group_, nullptr, peer_value, EVP_PKEY_PUBLIC_KEY);
  if (peer == nullptr) return Status(Code::kInvalidArgument, "bad KE public value");
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, key_, nullptr);
  SecureBytes out(DhPublicSize(group_));
  std::size_t len = out.size();
  bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1;
  if (ok && group_ == kDhModp2048) ok = EVP_PKEY_CTX_set_dh_pad(ctx, 1) == 1;
  // Validation (RFC 7296 §5, RFC 5903 §9): on-curve / 1 < y < p-1 checks.
  if (ok) ok = EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) == 1;
  if (ok) ok = EVP_PKEY_derive(ctx, out.data(), &len) == 1;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  if (!ok) return Status(Code::kInvalidArgument, "DH agreement failed");
  if (len != out.size()) {
    // ECP-256 secrets are the 32-byte x coordinate (RFC 5903 §7).
    SecureBytes exact(out.span().first(len));
    if (group_ == kDhEcp256 && len == 32) return exact;
    return Status(Code::kInternal, "DH secret size");
  }
  return out;
}

}  // namespace inlinesec::ike
