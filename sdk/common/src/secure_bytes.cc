// SecureBytes storage management; every path that drops key bytes wipes them.
#include "inlinesec/common/secure_bytes.h"

#include <openssl/crypto.h>

#include <cstring>
#include <utility>

namespace inlinesec {

void SecureWipe(std::span<std::uint8_t> bytes) {
  // glibc's explicit_bzero: a memset the compiler may not remove as a dead
  // store (the guarantee OPENSSL_cleanse gives), at memset speed rather than
  // a byte loop; it runs several times per SA programmed.
  if (!bytes.empty()) explicit_bzero(bytes.data(), bytes.size());
}

SecureBytes::SecureBytes(std::size_t n) : data_(n ? new std::uint8_t[n]() : nullptr), size_(n) {}

SecureBytes::SecureBytes(std::span<const std::uint8_t> src) : SecureBytes(src.size()) {
  if (!src.empty()) std::memcpy(data_, src.data(), src.size());
}

SecureBytes::~SecureBytes() { Clear(); }

SecureBytes::SecureBytes(SecureBytes&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

SecureBytes& SecureBytes::operator=(SecureBytes&& o) noexcept {
  if (this != &o) {
    Clear();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

void SecureBytes::Assign(std::span<const std::uint8_t> src) {
  SecureBytes tmp(src);
  *this = std::move(tmp);
}

void SecureBytes::Clear() {
  if (data_ != nullptr) {
    SecureWipe({data_, size_});
    delete[] data_;
  }
  data_ = nullptr;
  size_ = 0;
}

bool SecureBytes::Equals(std::span<const std::uint8_t> other) const {
  if (other.size() != size_) return false;
  return size_ == 0 || CRYPTO_memcmp(data_, other.data(), size_) == 0;
}

}  // namespace inlinesec
