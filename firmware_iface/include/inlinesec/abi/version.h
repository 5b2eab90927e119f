// ABI version of the inlinesec engine interface. The major number changes only
// when an existing field moves or changes meaning; new fields in reserved
// space, new opcodes, reasons and capability bits raise the minor number. A
// host refuses an engine whose major differs from kAbiMajor; it uses features
// of a newer minor only when the capability bits announce them.
#pragma once

#include <cstdint>

namespace inlinesec::abi {

inline constexpr std::uint16_t kAbiMajor = 1;
inline constexpr std::uint16_t kAbiMinor = 0;
// Value of Reg::kId: "INLS" in ASCII, read as a little-endian word.
inline constexpr std::uint32_t kEngineMagic = 0x534C4E49;

}  // namespace inlinesec::abi
