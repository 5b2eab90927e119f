// Strict parser for device URIs (see uri.h).
#include "inlinesec/driver/uri.h"

#include <charconv>

namespace inlinesec::driver {
namespace {

Status ParseOptions(std::string_view uri, std::string_view list,
                    std::map<std::string, std::string>& out) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status(Code::kInvalidArgument, "device uri '" + std::string(uri) + "': option '" +
                                                std::string(item) + "' is not key=value");
    }
    std::string key(item.substr(0, eq));
    if (!out.emplace(key, std::string(item.substr(eq + 1))).second) {
      return Status(Code::kInvalidArgument,
                    "device uri '" + std::string(uri) + "': option '" + key + "' repeated");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<DeviceUri> ParseDeviceUri(std::string_view uri) {
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos) {
    return Status(Code::kInvalidArgument, "device uri '" + std::string(uri) +
                                              "': expected 'model:[options]' or "
                                              "'xrt:<index|bdf>[,options]'");
  }
  std::string_view scheme = uri.substr(0, colon);
  std::string_view rest = uri.substr(colon + 1);
  DeviceUri out;
  if (scheme == "model") {
    out.scheme = DeviceUri::Scheme::kModel;
    Status st = ParseOptions(uri, rest, out.options);
    if (!st.ok()) return st;
    return out;
  }
  if (scheme == "xrt") {
    out.scheme = DeviceUri::Scheme::kXrt;
    size_t comma = rest.find(',');
    out.selector = std::string(rest.substr(0, comma));
    if (out.selector.empty()) {
      return Status(Code::kInvalidArgument,
                    "device uri '" + std::string(uri) + "': xrt needs a device index or PCI BDF");
    }
    if (comma != std::string_view::npos) {
      Status st = ParseOptions(uri, rest.substr(comma + 1), out.options);
      if (!st.ok()) return st;
    }
    return out;
  }
  return Status(Code::kInvalidArgument, "device uri '" + std::string(uri) + "': unknown scheme '" +
                                            std::string(scheme) + "' (known: model, xrt)");
}

Result<std::uint64_t> ParseUintOption(std::string_view key, std::string_view value) {
  int base = 10;
  if (value.size() > 2 && value[0] == '0' && (value[1] == 'x' || value[1] == 'X')) {
    base = 16;
    value.remove_prefix(2);
  }
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v, base);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
    return Status(Code::kInvalidArgument, "option '" + std::string(key) + "': '" +
                                              std::string(value) + "' is not an unsigned number");
  }
  return v;
}

}  // namespace inlinesec::driver
