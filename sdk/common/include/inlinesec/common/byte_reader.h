// ByteReader: the only way inlinesec reads untrusted bytes (packets, IKE
// messages, pcap records, config blobs, words read back from hardware). Every
// read checks the remaining length first and advances only on success, so a
// failed parse never leaves the reader half-moved. Multi-byte reads are
// big-endian (network order) unless named Le.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace inlinesec {

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> data) : data_(data) {}

  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  std::span<const std::uint8_t> rest() const { return data_; }

  [[nodiscard]] bool U8(std::uint8_t& out) {
    if (data_.empty()) return false;
    out = data_[0];
    data_ = data_.subspan(1);
    return true;
  }
  [[nodiscard]] bool U16(std::uint16_t& out) { return Be(out); }
  [[nodiscard]] bool U32(std::uint32_t& out) { return Be(out); }
  [[nodiscard]] bool U64(std::uint64_t& out) { return Be(out); }
  [[nodiscard]] bool U16Le(std::uint16_t& out) { return Le(out); }
  [[nodiscard]] bool U32Le(std::uint32_t& out) { return Le(out); }
  [[nodiscard]] bool U64Le(std::uint64_t& out) { return Le(out); }

  // Takes the next n bytes as a view.
  [[nodiscard]] bool Bytes(std::size_t n, std::span<const std::uint8_t>& out) {
    if (n > data_.size()) return false;
    out = data_.first(n);
    data_ = data_.subspan(n);
    return true;
  }
  // Copies the next out.size() bytes.
  [[nodiscard]] bool Copy(std::span<std::uint8_t> out) {
    if (out.size() > data_.size()) return false;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = data_[i];
    data_ = data_.subspan(out.size());
    return true;
  }
  [[nodiscard]] bool Skip(std::size_t n) {
    if (n > data_.size()) return false;
    data_ = data_.subspan(n);
    return true;
  }
  // A length-bounded body becomes its own reader; this one moves past it.
  [[nodiscard]] bool Sub(std::size_t n, ByteReader& out) {
    std::span<const std::uint8_t> body;
    if (!Bytes(n, body)) return false;
    out = ByteReader(body);
    return true;
  }

 private:
  template <typename T>
  bool Be(T& out) {
    if (data_.size() < sizeof(T)) return false;
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | data_[i]);
    out = v;
    data_ = data_.subspan(sizeof(T));
    return true;
  }
  template <typename T>
  bool Le(T& out) {
    if (data_.size() < sizeof(T)) return false;
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(T(data_[i]) << (8 * i));
    out = v;
    data_ = data_.subspan(sizeof(T));
    return true;
  }

  std::span<const std::uint8_t> data_;
};

// Big-endian helpers for writing into a caller-owned, already-sized buffer.
// StoreBe32/StoreBe64 are a byte swap and one store (C++20 has no
// std::byteswap; GCC and Clang have the builtins). Written as byte loops they
// were not unrolled at -O2, and as eight byte stores GCC stopped inlining them.
inline void StoreBe16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void StoreBe32(std::uint8_t* p, std::uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
  std::memcpy(p, &v, sizeof(v));
}
inline void StoreBe64(std::uint8_t* p, std::uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof(v));
}
inline std::uint16_t LoadBe16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t LoadBe32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
         p[3];
}

}  // namespace inlinesec
