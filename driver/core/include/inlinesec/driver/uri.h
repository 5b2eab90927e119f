// Device URIs: how a user names the engine to open.
//   model:                          in-process model, defaults
//   model:capacity=1048576,threaded=1
//   xrt:0                           first XRT device
//   xrt:0000:03:00.1,ip=inlinesec   XRT device by PCI BDF, named IP
// The scheme picks the transport; the rest is either a list of key=value
// options (model) or a device selector followed by options (xrt). Parsing is
// strict: unknown schemes, empty keys and repeated keys are errors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "inlinesec/common/status.h"

namespace inlinesec::driver {

struct DeviceUri {
  enum class Scheme { kModel, kXrt };
  Scheme scheme = Scheme::kModel;
  std::string selector;                        // xrt: device index or BDF
  std::map<std::string, std::string> options;  // key=value pairs
};

[[nodiscard]] Result<DeviceUri> ParseDeviceUri(std::string_view uri);

// Reads an unsigned decimal (or 0x-prefixed hex) option value.
[[nodiscard]] Result<std::uint64_t> ParseUintOption(std::string_view key, std::string_view value);

}  // namespace inlinesec::driver
