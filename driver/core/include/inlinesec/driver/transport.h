// Transport: the only seam between the driver and an engine. Everything the
// driver does to a device -- 32-bit register access, DMA-visible buffers, the
// interrupt line -- goes through this interface, so driver logic is written
// once and runs unchanged over the in-process model (ModelTransport) or a card
// (XrtTransport). Implementations never throw; failures come back as Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "inlinesec/abi/regs.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/common/status.h"

namespace inlinesec::driver {

using abi::RegOffset;
// An address in the engine's DMA space (what descriptors and ring registers
// carry).
using DevAddr = std::uint64_t;

// A DMA-visible buffer owned by the transport. Device addresses are aligned to
// abi::kRingAlign (64 bytes).
struct DmaBuffer {
  DevAddr addr = 0;
  std::size_t size = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Human-readable description, e.g. "model(capacity=65536,stepped)".
  virtual std::string Describe() const = 0;

  // 32-bit register access at a byte offset from the register base. A
  // transport that cannot reach the device reads all-ones (like a PCIe read
  // from a vanished function).
  virtual std::uint32_t Read32(RegOffset off) = 0;
  virtual void Write32(RegOffset off, std::uint32_t value) = 0;

  // DMA buffers: allocate, free, and move bytes between host and device.
  [[nodiscard]] virtual Result<DmaBuffer> AllocDma(std::size_t bytes) = 0;
  [[nodiscard]] virtual Status FreeDma(const DmaBuffer& buffer) = 0;
  [[nodiscard]] virtual Status DmaToDevice(DevAddr dst, std::span<const std::uint8_t> src) = 0;
  [[nodiscard]] virtual Status DmaFromDevice(DevAddr src, std::span<std::uint8_t> dst) = 0;

  // Waits until the interrupt line is asserted or `timeout` passes. OK when
  // asserted, kDeadlineExceeded otherwise. Transports whose engine only moves
  // when stepped return at once.
  [[nodiscard]] virtual Status WaitIrq(Duration timeout) = 0;

  // Lets a stepped engine make progress (process doorbells). Cards and
  // free-running engines ignore it.
  virtual void Kick() {}

  // An fd (eventfd) that becomes readable when the interrupt line is raised,
  // for epoll; -1 when the transport has none.
  virtual int IrqFd() const { return -1; }
};

}  // namespace inlinesec::driver
