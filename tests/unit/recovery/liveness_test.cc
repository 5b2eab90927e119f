// TrafficWatch: fires once when outbound flows and inbound has stalled.
#include "inlinesec/recovery/liveness.h"

#include <gtest/gtest.h>

#include "inlinesec/common/fake_clock.h"

namespace inlinesec::recovery {
namespace {

using std::chrono::seconds;

TEST(TrafficWatch, FiresOnceWhenInboundStallsWhileOutboundFlows) {
  FakeClockTimers env;
  TrafficWatch w(seconds(3));
  EXPECT_FALSE(w.Sample(1, 10, 10, env.Now()));
  env.Advance(seconds(1));
  EXPECT_FALSE(w.Sample(1, 20, 20, env.Now()));  // both flowing
  env.Advance(seconds(2));
  EXPECT_FALSE(w.Sample(1, 20, 30, env.Now()));  // inbound flat for 2 s
  env.Advance(seconds(1));
  EXPECT_TRUE(w.Sample(1, 20, 40, env.Now()));  // 3 s: fire
  env.Advance(seconds(1));
  EXPECT_FALSE(w.Sample(1, 20, 50, env.Now()));  // once per stall
  EXPECT_FALSE(w.Sample(1, 21, 60, env.Now()));  // inbound resumes: re-armed
  env.Advance(seconds(5));
  EXPECT_TRUE(w.Sample(1, 21, 70, env.Now()));
}

TEST(TrafficWatch, IdleTunnelIsNotAStall) {
  FakeClockTimers env;
  TrafficWatch w(seconds(3));
  EXPECT_FALSE(w.Sample(7, 5, 5, env.Now()));
  env.Advance(seconds(30));
  EXPECT_FALSE(w.Sample(7, 5, 5, env.Now()));  // nothing sent, nothing expected
  w.Forget(7);
  EXPECT_EQ(w.size(), 0u);
}

}  // namespace
}  // namespace inlinesec::recovery
