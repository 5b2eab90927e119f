// ByteWriter: appends network-order fields to a growable buffer; used to build
// IKE messages, packets and files. Length fields that precede their body are
// written as placeholders and patched once the body is known.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace inlinesec {

class ByteWriter {
 public:
  ByteWriter() = default;
  explicit ByteWriter(std::vector<std::uint8_t>& out) : out_(&out) {}

  void U8(std::uint8_t v) { buf().push_back(v); }
  void U16(std::uint16_t v) {
    U8(static_cast<std::uint8_t>(v >> 8));
    U8(static_cast<std::uint8_t>(v));
  }
  void U32(std::uint32_t v) {
    for (int i = 3; i >= 0; --i) U8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void U64(std::uint64_t v) {
    for (int i = 7; i >= 0; --i) U8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void Bytes(std::span<const std::uint8_t> b) { buf().insert(buf().end(), b.begin(), b.end()); }
  void Zeros(std::size_t n) { buf().insert(buf().end(), n, 0); }
  std::size_t size() const { return out_ ? out_->size() : own_.size(); }
  // Overwrites a 16-bit field written earlier at offset `at`.
  void PatchU16(std::size_t at, std::uint16_t v) {
    buf()[at] = static_cast<std::uint8_t>(v >> 8);
    buf()[at + 1] = static_cast<std::uint8_t>(v);
  }
  void PatchU32(std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) buf()[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  }
  std::vector<std::uint8_t>& buf() { return out_ ? *out_ : own_; }
  std::vector<std::uint8_t> Take() { return std::move(buf()); }

 private:
  std::vector<std::uint8_t>* out_ = nullptr;
  std::vector<std::uint8_t> own_;
};

}  // namespace inlinesec
