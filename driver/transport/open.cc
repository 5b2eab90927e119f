// Device::Open: the URI -> transport factory. It is the only place that knows
// every transport; Device itself sees only Transport&.
#include <memory>

#include "inlinesec/driver/device.h"
#include "inlinesec/driver/model_transport.h"
#include "inlinesec/driver/uri.h"
#if INLINESEC_HAVE_XRT
#include "inlinesec/driver/xrt_transport.h"
#endif

namespace inlinesec::driver {

Result<std::unique_ptr<Device>> Device::Open(std::string_view uri, const Clock& clock,
                                             const DeviceOptions& options) {
  Result<DeviceUri> parsed = ParseDeviceUri(uri);
  if (!parsed.ok()) return parsed.status();
  std::unique_ptr<Transport> transport;
  switch (parsed->scheme) {
    case DeviceUri::Scheme::kModel: {
      Result<ModelTransportOptions> mo = ModelOptionsFromUri(*parsed);
      if (!mo.ok()) return mo.status();
      Result<std::unique_ptr<ModelTransport>> t = ModelTransport::Create(*mo, clock);
      if (!t.ok()) return t.status();
      transport = std::move(t).value();
      break;
    }
    case DeviceUri::Scheme::kXrt: {
#if INLINESEC_HAVE_XRT
      Result<XrtTransportOptions> xo = XrtOptionsFromUri(*parsed);
      if (!xo.ok()) return xo.status();
      Result<std::unique_ptr<XrtTransport>> t = XrtTransport::Open(*xo);
      if (!t.ok()) return t.status();
      transport = std::move(t).value();
      break;
#else
      return Status(Code::kUnimplemented,
                    "xrt: this build has no XRT transport (configure with INLINESEC_WITH_XRT=ON "
                    "and libxrt-dev installed)");
#endif
    }
  }
  return Attach(std::move(transport), clock, options);
}

}  // namespace inlinesec::driver
