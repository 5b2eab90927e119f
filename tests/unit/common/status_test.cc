// Status and Result: codes, device words, and value access.
#include "inlinesec/common/status.h"

#include <gtest/gtest.h>

#include <string>

namespace inlinesec {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Status(Code::kInvalidArgument, "odd value");
  return v / 2;
}

Status Chain(int v) {
  INLINESEC_RETURN_IF_ERROR(Half(v).status());
  return Status::Ok();
}

TEST(Result, HoldsValueOrStatus) {
  auto r = Half(8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 4);
  auto e = Half(3);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Chain(3).code(), Code::kInvalidArgument);
  EXPECT_TRUE(Chain(2).ok());
}

TEST(Status, ToStringCarriesDeviceWord) {
  Status s(Code::kDeviceError, "write SA 7 refused", 0x05);
  EXPECT_EQ(s.ToString(), "kDeviceError [device 0x5]: write SA 7 refused");
  EXPECT_EQ(Status::Ok().ToString(), "OK");
}

}  // namespace
}  // namespace inlinesec
