// Device URIs: strict parsing and the errors a user sees for bad ones.
#include "inlinesec/driver/uri.h"

#include <gtest/gtest.h>

#include "inlinesec/driver/device.h"

namespace inlinesec::driver {
namespace {

TEST(DeviceUri, ParsesModelOptions) {
  auto u = ParseDeviceUri("model:capacity=1048576,threaded=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, DeviceUri::Scheme::kModel);
  EXPECT_EQ(u->options.at("capacity"), "1048576");
  EXPECT_EQ(u->options.at("threaded"), "1");
  auto bare = ParseDeviceUri("model:");
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->options.empty());
}

TEST(DeviceUri, ParsesXrtIndexAndBdf) {
  auto i = ParseDeviceUri("xrt:0");
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->scheme, DeviceUri::Scheme::kXrt);
  EXPECT_EQ(i->selector, "0");
  auto b = ParseDeviceUri("xrt:0000:03:00.1,ip=engine0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->selector, "0000:03:00.1");
  EXPECT_EQ(b->options.at("ip"), "engine0");
}

TEST(DeviceUri, RejectsBadUris) {
  for (const char* bad :
       {"", "model", "pcie:0", "xrt:", "model:capacity", "model:=3", "model:a=1,a=2", "xrt:0,ip"}) {
    auto u = ParseDeviceUri(bad);
    EXPECT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_NE(ParseDeviceUri("pcie:0").status().message().find("unknown scheme 'pcie'"),
            std::string::npos);
}

TEST(DeviceUri, OpenReportsClearErrors) {
  SystemClock clock;
  auto a = Device::Open("bogus", clock);
  EXPECT_EQ(a.status().code(), Code::kInvalidArgument);
  auto b = Device::Open("model:capacity=1000", clock);  // not a power of two
  EXPECT_EQ(b.status().code(), Code::kInvalidArgument);
  EXPECT_NE(b.status().message().find("power of two"), std::string::npos);
  auto c = Device::Open("model:speed=9", clock);
  EXPECT_NE(c.status().message().find("unknown option 'speed'"), std::string::npos);
  auto d = Device::Open("model:threaded=2", clock);
  EXPECT_FALSE(d.ok());
  auto e = Device::Open("model:capacity=lots", clock);
  EXPECT_NE(e.status().message().find("not an unsigned number"), std::string::npos);
  // Capability masks: only bits the model has, and at least one algorithm.
  auto f = Device::Open("model:features=0x400", clock);
  EXPECT_NE(f.status().message().find("features has bits outside cap_features"), std::string::npos);
  auto g = Device::Open("model:algos=0", clock);
  EXPECT_NE(g.status().message().find("algos must be a non-empty subset"), std::string::npos);
  auto h = Device::Open("model:features=0x3FE", clock);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_FALSE((*h)->caps().esn);
  EXPECT_TRUE((*h)->caps().nat_t);
}

TEST(DeviceUri, OpensModelInBothModes) {
  SystemClock clock;
  for (const char* uri : {"model:capacity=64", "model:capacity=64,threaded=1"}) {
    auto d = Device::Open(uri, clock);
    ASSERT_TRUE(d.ok()) << uri << ": " << d.status().ToString();
    EXPECT_EQ((*d)->caps().sa_capacity, 64u);
    EXPECT_TRUE((*d)->Nop().ok());
  }
}

}  // namespace
}  // namespace inlinesec::driver
