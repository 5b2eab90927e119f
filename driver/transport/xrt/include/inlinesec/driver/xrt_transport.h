// XrtTransport: Transport over a Xilinx Alveo/Versal card through the XRT
// native API. The device is opened by index or PCI BDF, registers are the
// engine IP's AXI-Lite space (xrt::ip read_register/write_register), DMA
// buffers are xrt::bo objects synced explicitly, and interrupts come from
// xrt::ip::interrupt when the IP has one (else WaitIrq polls). This is the
// only code that includes XRT headers; the pimpl keeps them out of this one,
// and every XRT exception is caught inside and turned into a Status.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "inlinesec/driver/transport.h"
#include "inlinesec/driver/uri.h"

namespace inlinesec::driver {

struct XrtTransportOptions {
  std::string selector;               // device index ("0") or PCI BDF ("0000:03:00.1")
  std::string ip_name = "inlinesec";  // name of the engine IP in the loaded xclbin
};

// Reads "xrt:" URI options: ip=<name>. Unknown keys are errors.
[[nodiscard]] Result<XrtTransportOptions> XrtOptionsFromUri(const DeviceUri& uri);

class XrtTransport final : public Transport {
 public:
  // Fails with kUnavailable and the reason (no such index, no device at the
  // BDF, no xclbin, no such IP) when the card cannot be reached.
  [[nodiscard]] static Result<std::unique_ptr<XrtTransport>> Open(
      const XrtTransportOptions& options);
  ~XrtTransport() override;

  std::string Describe() const override;
  std::uint32_t Read32(RegOffset off) override;
  void Write32(RegOffset off, std::uint32_t value) override;
  Result<DmaBuffer> AllocDma(std::size_t bytes) override;
  Status FreeDma(const DmaBuffer& buffer) override;
  Status DmaToDevice(DevAddr dst, std::span<const std::uint8_t> src) override;
  Status DmaFromDevice(DevAddr src, std::span<std::uint8_t> dst) override;
  Status WaitIrq(Duration timeout) override;

  // Last error swallowed by Read32/Write32 (which cannot return one).
  const std::string& last_register_error() const { return last_register_error_; }

 private:
  struct Impl;
  explicit XrtTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string last_register_error_;
};

}  // namespace inlinesec::driver
