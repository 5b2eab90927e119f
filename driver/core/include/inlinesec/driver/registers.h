// Named register table for bring-up: every register of the ABI v1 register
// map with its name, offset and access kind, so that a dump or a poke can be
// expressed by name ("CTRL", "CMD_PROD", "CNT_SPI_MISS_LO") rather than by
// number. Offsets come from abi/regs.h; nothing is re-typed here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "inlinesec/abi/regs.h"

namespace inlinesec::driver {

enum class RegAccess : std::uint8_t { kRo, kRw, kW1c, kW1s };

struct RegInfo {
  std::string_view name;
  abi::RegOffset offset;
  RegAccess access;
};

// All named registers, in offset order.
std::span<const RegInfo> RegisterTable();
// Looks a register up by name (case-sensitive, as in RegisterTable()).
std::optional<RegInfo> FindRegister(std::string_view name);
std::string_view RegAccessName(RegAccess access);

}  // namespace inlinesec::driver
