// XrtTransport implementation: the one translation unit that includes XRT.
// Every call into XRT is wrapped in try/catch; exceptions never leave here.
#include "inlinesec/driver/xrt_transport.h"

#include <experimental/xrt_ip.h>
#include <experimental/xrt_system.h>
#include <xrt/xrt_bo.h>
#include <xrt/xrt_device.h>

#include <charconv>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace inlinesec::driver {

struct XrtTransport::Impl {
  std::string description;
  xrt::device device;
  xrt::ip ip;
  std::optional<xrt::ip::interrupt> irq;  // empty: the IP has no interrupt
  std::mutex mu;
  std::map<DevAddr, xrt::bo> bos;  // device address -> buffer

  // The buffer holding [addr, addr + len), or nullptr.
  xrt::bo* Find(DevAddr addr, std::size_t len, std::size_t& offset) {
    auto it = bos.upper_bound(addr);
    if (it == bos.begin()) return nullptr;
    --it;
    std::size_t size = it->second.size();
    if (addr - it->first > size || len > size - (addr - it->first)) return nullptr;
    offset = static_cast<std::size_t>(addr - it->first);
    return &it->second;
  }
};

namespace {

Status XrtError(std::string_view what, const std::exception& e) {
  return Status(Code::kUnavailable, "xrt: " + std::string(what) + ": " + e.what());
}

bool IsIndex(std::string_view s, unsigned& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

Result<XrtTransportOptions> XrtOptionsFromUri(const DeviceUri& uri) {
  XrtTransportOptions o;
  o.selector = uri.selector;
  for (const auto& [key, value] : uri.options) {
    if (key == "ip") {
      if (value.empty()) return Status(Code::kInvalidArgument, "xrt: empty ip name");
      o.ip_name = value;
    } else {
      return Status(Code::kInvalidArgument, "xrt: unknown option '" + key + "' (known: ip)");
    }
  }
  return o;
}

XrtTransport::XrtTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

XrtTransport::~XrtTransport() {
  if (!impl_) return;
  try {
    if (impl_->irq) impl_->irq->disable();
    impl_->bos.clear();
  } catch (const std::exception&) {
    // Teardown of a vanished card: nothing useful to do.
  }
}

Result<std::unique_ptr<XrtTransport>> XrtTransport::Open(const XrtTransportOptions& options) {
  auto impl = std::make_unique<Impl>();
  unsigned index = 0;
  const bool by_index = IsIndex(options.selector, index);
  if (by_index) {
    // Enumeration itself throws when the runtime is not set up (no
    // XILINX_XRT, no shim library): that also means zero devices.
    unsigned found = 0;
    std::string why;
    try {
      found = xrt::system::enumerate_devices();
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (index >= found) {
      return Status(Code::kUnavailable, "xrt: no device at index " + options.selector +
                                            " (XRT found " + std::to_string(found) + " devices" +
                                            (why.empty() ? "" : "; XRT runtime unusable: " + why) +
                                            ")");
    }
  }
  try {
    if (by_index) {
      impl->device = xrt::device(index);
    } else {
      impl->device = xrt::device(options.selector);
    }
  } catch (const std::exception& e) {
    return XrtError("cannot open device '" + options.selector + "'", e);
  }
  try {
    xrt::uuid uuid = impl->device.get_xclbin_uuid();
    if (!uuid) {
      return Status(Code::kUnavailable, "xrt: device '" + options.selector +
                                            "' has no xclbin loaded (load one with xbutil)");
    }
    impl->ip = xrt::ip(impl->device, uuid, options.ip_name);
  } catch (const std::exception& e) {
    return XrtError("no IP '" + options.ip_name + "' on device '" + options.selector + "'", e);
  }
  try {
    impl->irq.emplace(impl->ip.create_interrupt_notify());
  } catch (const std::exception&) {
    impl->irq.reset();  // IP without an interrupt: WaitIrq polls.
  }
  impl->description = "xrt(" + options.selector + "," + options.ip_name + ")";
  return std::unique_ptr<XrtTransport>(new XrtTransport(std::move(impl)));
}

std::string XrtTransport::Describe() const { return impl_->description; }

std::uint32_t XrtTransport::Read32(RegOffset off) {
  try {
    return impl_->ip.read_register(off);
  } catch (const std::exception& e) {
    last_register_error_ = e.what();
    return 0xFFFFFFFFu;
  }
}

void XrtTransport::Write32(RegOffset off, std::uint32_t value) {
  try {
    impl_->ip.write_register(off, value);
  } catch (const std::exception& e) {
    last_register_error_ = e.what();
  }
}

Result<DmaBuffer> XrtTransport::AllocDma(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  try {
    // Memory group 0: the first bank the xclbin connects; the engine IP's
    // DMA port is expected there.
    xrt::bo bo(impl_->device, bytes, xrt::bo::flags::normal, 0);
    DevAddr addr = bo.address();
    impl_->bos.emplace(addr, std::move(bo));
    return DmaBuffer{addr, bytes};
  } catch (const std::exception& e) {
    return XrtError("cannot allocate a " + std::to_string(bytes) + "-byte buffer", e);
  }
}

Status XrtTransport::FreeDma(const DmaBuffer& buffer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->bos.erase(buffer.addr) == 0) {
    return Status(Code::kNotFound, "xrt: FreeDma of unknown buffer");
  }
  return Status::Ok();
}

Status XrtTransport::DmaToDevice(DevAddr dst, std::span<const std::uint8_t> src) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::size_t off = 0;
  xrt::bo* bo = impl_->Find(dst, src.size(), off);
  if (bo == nullptr) return Status(Code::kOutOfRange, "xrt: DMA write outside every buffer");
  try {
    bo->write(src.data(), src.size(), off);
    bo->sync(XCL_BO_SYNC_BO_TO_DEVICE, src.size(), off);
  } catch (const std::exception& e) {
    return XrtError("DMA to device", e);
  }
  return Status::Ok();
}

Status XrtTransport::DmaFromDevice(DevAddr src, std::span<std::uint8_t> dst) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::size_t off = 0;
  xrt::bo* bo = impl_->Find(src, dst.size(), off);
  if (bo == nullptr) return Status(Code::kOutOfRange, "xrt: DMA read outside every buffer");
  try {
    bo->sync(XCL_BO_SYNC_BO_FROM_DEVICE, dst.size(), off);
    bo->read(dst.data(), dst.size(), off);
  } catch (const std::exception& e) {
    return XrtError("DMA from device", e);
  }
  return Status::Ok();
}

Status XrtTransport::WaitIrq(Duration timeout) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout);
  if (!impl_->irq) {
    // No interrupt line: the caller polls its rings; just yield the time.
    std::this_thread::sleep_for(std::min<Duration>(timeout, std::chrono::microseconds(50)));
    return Status(Code::kDeadlineExceeded, "xrt: IP has no interrupt (polling)");
  }
  try {
    if (impl_->irq->wait(ms) == std::cv_status::timeout) {
      return Status(Code::kDeadlineExceeded, "xrt: no interrupt before timeout");
    }
  } catch (const std::exception& e) {
    return XrtError("interrupt wait", e);
  }
  return Status::Ok();
}

}  // namespace inlinesec::driver
