// SecureBytes: the one container for key material. It wipes its storage with
// SecureWipe on destruction, on Clear() and before any reallocation, is
// move-only (no silent copies of keys), and has no stream operator, so keys
// cannot be logged by accident.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace inlinesec {

class SecureBytes {
 public:
  SecureBytes() = default;
  explicit SecureBytes(std::size_t n);
  explicit SecureBytes(std::span<const std::uint8_t> src);
  ~SecureBytes();
  SecureBytes(SecureBytes&& o) noexcept;
  SecureBytes& operator=(SecureBytes&& o) noexcept;
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;

  // An explicit, visible copy for the rare place that needs one.
  SecureBytes Clone() const { return SecureBytes(span()); }
  void Assign(std::span<const std::uint8_t> src);
  void Clear();  // wipes and frees

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::span<std::uint8_t> span() { return {data_, size_}; }
  std::span<const std::uint8_t> span() const { return {data_, size_}; }
  // Constant-time comparison.
  bool Equals(std::span<const std::uint8_t> other) const;

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// Wipes any buffer holding secrets (explicit_bzero: never elided).
void SecureWipe(std::span<std::uint8_t> bytes);

// Up to N bytes of key material stored inline (no heap buffer), for tables
// that hold many keys: wiped on destruction and on Clear(), neither copyable
// nor movable (no silent copies), no stream operator.
template <std::size_t N>
class InlineSecureBytes {
 public:
  InlineSecureBytes() = default;
  ~InlineSecureBytes() { Clear(); }
  InlineSecureBytes(const InlineSecureBytes&) = delete;
  InlineSecureBytes& operator=(const InlineSecureBytes&) = delete;

  // False (and nothing stored) if src is longer than N.
  [[nodiscard]] bool Assign(std::span<const std::uint8_t> src) {
    if (size_ != 0) Clear();  // bytes past size_ are always zero
    if (src.size() > N) return false;
    std::memcpy(bytes_.data(), src.data(), src.size());
    size_ = src.size();
    return true;
  }
  void Clear() {
    SecureWipe(bytes_);
    size_ = 0;
  }
  std::size_t size() const { return size_; }
  std::span<const std::uint8_t> span() const { return {bytes_.data(), size_}; }

 private:
  std::array<std::uint8_t, N> bytes_{};
  std::size_t size_ = 0;
};

}  // namespace inlinesec
