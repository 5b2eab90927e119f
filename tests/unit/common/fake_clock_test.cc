// FakeClockTimers: deterministic time, timers fire in deadline order.
#include "inlinesec/common/fake_clock.h"

#include <gtest/gtest.h>

#include <vector>

namespace inlinesec {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(FakeClockTimers, FiresInDeadlineOrderAndMovesTime) {
  FakeClockTimers env;
  const TimePoint t0 = env.Now();
  std::vector<int> order;
  env.Arm(t0 + seconds(2), [&] { order.push_back(2); });
  env.Arm(t0 + seconds(1), [&] { order.push_back(1); });
  const TimerId cancelled = env.Arm(t0 + milliseconds(1500), [&] { order.push_back(99); });
  env.Cancel(cancelled);
  env.Advance(milliseconds(1999));
  EXPECT_EQ(order, std::vector<int>({1}));
  EXPECT_EQ(env.Now() - t0, milliseconds(1999));
  env.Advance(milliseconds(1));
  EXPECT_EQ(order, std::vector<int>({1, 2}));
  EXPECT_EQ(env.pending(), 0u);
}

TEST(FakeClockTimers, TimerArmedByCallbackFiresInSameAdvance) {
  FakeClockTimers env;
  int fired = 0;
  TimePoint seen{};
  env.Arm(env.Now() + seconds(1), [&] {
    ++fired;
    env.Arm(env.Now() + seconds(1), [&] {
      ++fired;
      seen = env.Now();
    });
  });
  const TimePoint start = env.Now();
  env.Advance(seconds(5));
  EXPECT_EQ(fired, 2);
  EXPECT_EQ(seen - start, seconds(2));
}

}  // namespace
}  // namespace inlinesec
