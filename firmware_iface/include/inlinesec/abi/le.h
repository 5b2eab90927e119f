// Building blocks of the inlinesec hardware ABI: little-endian integer fields
// with alignment 1 (so a struct of them has no padding and one layout on every
// host), and Bits<Lsb, Width> for sub-word fields of a 32-bit register or
// control word. No C bitfields and no host-order integers appear in the ABI.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace inlinesec::abi {

template <typename T>
struct Le {
  static_assert(std::is_unsigned_v<T>);
  std::array<std::uint8_t, sizeof(T)> b;

  // On a little-endian host the bytes are the value: one load or store
  // (GCC does not merge the byte loop for 64-bit fields, and the model and
  // driver read these fields for every SA and packet).
  constexpr T get() const {
    if constexpr (std::endian::native == std::endian::little) {
      return std::bit_cast<T>(b);
    } else {
      T v = 0;
      for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v | (T(b[i]) << (8 * i)));
      return v;
    }
  }
  constexpr void set(T v) {
    if constexpr (std::endian::native == std::endian::little) {
      b = std::bit_cast<std::array<std::uint8_t, sizeof(T)>>(v);
    } else {
      for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
  }
};
static_assert(sizeof(Le<std::uint64_t>) == 8 && alignof(Le<std::uint64_t>) == 1);

template <unsigned Lsb, unsigned Width>
struct Bits {
  static_assert(Width > 0 && Lsb + Width <= 32);
  static constexpr std::uint32_t kMax = static_cast<std::uint32_t>((1ull << Width) - 1);
  static constexpr std::uint32_t kMask = kMax << Lsb;
  static constexpr std::uint32_t Get(std::uint32_t w) { return (w & kMask) >> Lsb; }
  static constexpr std::uint32_t Set(std::uint32_t w, std::uint32_t v) {
    return (w & ~kMask) | ((v << Lsb) & kMask);
  }
  static constexpr bool Fits(std::uint32_t v) { return v <= kMax; }
};

// True if every byte of a reserved field is zero (the model rejects others).
// OR-reduced without an early exit, so the compiler can vectorise it.
template <std::size_t N>
constexpr bool AllZero(const std::array<std::uint8_t, N>& a) {
  std::uint8_t acc = 0;
  for (auto x : a) acc = static_cast<std::uint8_t>(acc | x);
  return acc == 0;
}

// An outer address: IPv4 uses bytes 0..3 (network order) and bytes 4..15 are
// zero; IPv6 uses all 16 bytes (network order). Which one is meant is given by
// a flag next to the address.
using IpAddr = std::array<std::uint8_t, 16>;

}  // namespace inlinesec::abi
