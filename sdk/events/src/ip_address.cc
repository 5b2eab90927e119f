// IpAddress parsing and printing through inet_pton/inet_ntop.
#include "inlinesec/sdk/ip_address.h"

#include <arpa/inet.h>

namespace inlinesec::sdk {

Result<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string s(text);
  IpAddress ip;
  if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) return ip;
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
    ip.v6 = true;
    return ip;
  }
  return Status(Code::kInvalidArgument, "not an IP address: '" + s + "'");
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof(buf)) == nullptr) return "?";
  return buf;
}

}  // namespace inlinesec::sdk
