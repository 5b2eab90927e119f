// The named register table of ABI v1 (see registers.h). Ring blocks are
// expanded per ring; 64-bit counters appear as their LO and HI halves.
#include "inlinesec/driver/registers.h"

#include <array>

namespace inlinesec::driver {
namespace {

using abi::Off;
using abi::Reg;
using abi::RingOff;
using abi::RingReg;

constexpr RegInfo R(std::string_view name, Reg r, RegAccess a) { return {name, Off(r), a}; }
constexpr RegInfo Ring(std::string_view name, Reg ring, RingReg r, RegAccess a) {
  return {name, RingOff(ring, r), a};
}
constexpr RegInfo Hi(std::string_view name, Reg r) {
  return {name, Off(r) + abi::kHiHalf, RegAccess::kRo};
}

constexpr std::array kTable = {
    R("ID", Reg::kId, RegAccess::kRo),
    R("ABI_VERSION", Reg::kAbiVersion, RegAccess::kRo),
    R("BUILD", Reg::kBuild, RegAccess::kRo),
    R("EPOCH", Reg::kEpoch, RegAccess::kRo),
    R("CAP_SA_CAPACITY", Reg::kCapSaCapacity, RegAccess::kRo),
    R("CAP_RINGS", Reg::kCapRings, RegAccess::kRo),
    R("CAP_ALGOS", Reg::kCapAlgos, RegAccess::kRo),
    R("CAP_FEATURES", Reg::kCapFeatures, RegAccess::kRo),
    R("CAP_REPLAY_WINDOW", Reg::kCapReplayWindow, RegAccess::kRo),
    R("CAP_MAX_BATCH", Reg::kCapMaxBatch, RegAccess::kRo),
    R("CTRL", Reg::kCtrl, RegAccess::kRw),
    R("STATUS", Reg::kStatus, RegAccess::kRo),
    R("IRQ_CAUSE", Reg::kIrqCause, RegAccess::kW1c),
    R("IRQ_MASK", Reg::kIrqMask, RegAccess::kRw),
    R("SCRATCH", Reg::kScratch, RegAccess::kRw),
    Ring("CMD_BASE_LO", Reg::kCmdRing, RingReg::kBaseLo, RegAccess::kRw),
    Ring("CMD_BASE_HI", Reg::kCmdRing, RingReg::kBaseHi, RegAccess::kRw),
    Ring("CMD_SIZE_LOG2", Reg::kCmdRing, RingReg::kSizeLog2, RegAccess::kRw),
    Ring("CMD_PROD", Reg::kCmdRing, RingReg::kProd, RegAccess::kRw),
    Ring("CMD_CONS", Reg::kCmdRing, RingReg::kCons, RegAccess::kRo),
    Ring("CPL_BASE_LO", Reg::kCplRing, RingReg::kBaseLo, RegAccess::kRw),
    Ring("CPL_BASE_HI", Reg::kCplRing, RingReg::kBaseHi, RegAccess::kRw),
    Ring("CPL_SIZE_LOG2", Reg::kCplRing, RingReg::kSizeLog2, RegAccess::kRw),
    Ring("CPL_PROD", Reg::kCplRing, RingReg::kProd, RegAccess::kRo),
    Ring("CPL_CONS", Reg::kCplRing, RingReg::kCons, RegAccess::kRw),
    Ring("EXQ_BASE_LO", Reg::kExqRing, RingReg::kBaseLo, RegAccess::kRw),
    Ring("EXQ_BASE_HI", Reg::kExqRing, RingReg::kBaseHi, RegAccess::kRw),
    Ring("EXQ_SIZE_LOG2", Reg::kExqRing, RingReg::kSizeLog2, RegAccess::kRw),
    Ring("EXQ_PROD", Reg::kExqRing, RingReg::kProd, RegAccess::kRo),
    Ring("EXQ_CONS", Reg::kExqRing, RingReg::kCons, RegAccess::kRw),
    R("CNT_RX_PKTS_LO", Reg::kCntRxPkts, RegAccess::kRo),
    Hi("CNT_RX_PKTS_HI", Reg::kCntRxPkts),
    R("CNT_TX_PKTS_LO", Reg::kCntTxPkts, RegAccess::kRo),
    Hi("CNT_TX_PKTS_HI", Reg::kCntTxPkts),
    R("CNT_SPI_MISS_LO", Reg::kCntSpiMiss, RegAccess::kRo),
    Hi("CNT_SPI_MISS_HI", Reg::kCntSpiMiss),
    R("CNT_EXQ_DROPPED_LO", Reg::kCntExqDropped, RegAccess::kRo),
    Hi("CNT_EXQ_DROPPED_HI", Reg::kCntExqDropped),
    R("CNT_CMD_DONE_LO", Reg::kCntCmdDone, RegAccess::kRo),
    Hi("CNT_CMD_DONE_HI", Reg::kCntCmdDone),
    R("CNT_CMD_ERRORS_LO", Reg::kCntCmdErrors, RegAccess::kRo),
    Hi("CNT_CMD_ERRORS_HI", Reg::kCntCmdErrors),
    R("CNT_RX_DROPPED_LO", Reg::kCntRxDropped, RegAccess::kRo),
    Hi("CNT_RX_DROPPED_HI", Reg::kCntRxDropped),
    R("CNT_TX_DROPPED_LO", Reg::kCntTxDropped, RegAccess::kRo),
    Hi("CNT_TX_DROPPED_HI", Reg::kCntTxDropped),
};

}  // namespace

std::span<const RegInfo> RegisterTable() { return kTable; }

std::optional<RegInfo> FindRegister(std::string_view name) {
  for (const RegInfo& r : kTable) {
    if (r.name == name) return r;
  }
  return std::nullopt;
}

std::string_view RegAccessName(RegAccess access) {
  switch (access) {
    case RegAccess::kRo:
      return "RO";
    case RegAccess::kRw:
      return "RW";
    case RegAccess::kW1c:
      return "W1C";
    case RegAccess::kW1s:
      return "W1S";
  }
  return "?";
}

}  // namespace inlinesec::driver
