// The XRT transport on a machine without a card: opening fails with a
// message that says why, and nothing throws.
#include <gtest/gtest.h>

#include "inlinesec/driver/device.h"

namespace inlinesec::driver {
namespace {

TEST(XrtTransport, NoCardGivesAClearError) {
  SystemClock clock;
  auto d = Device::Open("xrt:0", clock);
  if (d.ok()) GTEST_SKIP() << "a card is present: " << (*d)->transport().Describe();
  EXPECT_EQ(d.status().code(), Code::kUnavailable) << d.status().ToString();
  EXPECT_NE(d.status().message().find("xrt: no device at index 0 (XRT found 0 devices"),
            std::string::npos)
      << d.status().message();
}

TEST(XrtTransport, NoCardAtBdfGivesAClearError) {
  SystemClock clock;
  auto d = Device::Open("xrt:0000:03:00.1", clock);
  if (d.ok()) GTEST_SKIP() << "a card is present";
  EXPECT_EQ(d.status().code(), Code::kUnavailable);
  EXPECT_NE(d.status().message().find("xrt: cannot open device '0000:03:00.1'"), std::string::npos)
      << d.status().message();
}

TEST(XrtTransport, UnknownOptionRefused) {
  SystemClock clock;
  auto d = Device::Open("xrt:0,speed=3", clock);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace inlinesec::driver
