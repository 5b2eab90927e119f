// TokenBucket: burst, sustained rate and refill are exact in simulated time.
#include "inlinesec/recovery/token_bucket.h"

#include <gtest/gtest.h>

#include "inlinesec/common/fake_clock.h"

namespace inlinesec::recovery {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TokenBucket, BurstThenSustainedRate) {
  FakeClockTimers env;
  TokenBucket b(RateLimit{10, seconds(1), 3}, env.Now());
  EXPECT_TRUE(b.TryTake(env.Now()));
  EXPECT_TRUE(b.TryTake(env.Now()));
  EXPECT_TRUE(b.TryTake(env.Now()));
  EXPECT_FALSE(b.TryTake(env.Now()));
  env.Advance(milliseconds(99));
  EXPECT_FALSE(b.TryTake(env.Now()));  // 0.99 token
  env.Advance(milliseconds(1));
  EXPECT_TRUE(b.TryTake(env.Now()));  // exactly one after 100 ms
  EXPECT_FALSE(b.TryTake(env.Now()));
  env.Advance(seconds(60));
  EXPECT_EQ(b.Available(env.Now()), 3u);  // capped at burst
}

TEST(TokenBucket, SlowRatesAndZeroRate) {
  FakeClockTimers env;
  TokenBucket slow(RateLimit{1, seconds(10), 1}, env.Now());
  EXPECT_TRUE(slow.TryTake(env.Now()));
  env.Advance(milliseconds(9999));
  EXPECT_FALSE(slow.TryTake(env.Now()));
  env.Advance(milliseconds(1));
  EXPECT_TRUE(slow.TryTake(env.Now()));
  TokenBucket never(RateLimit{0, seconds(1), 1}, env.Now());
  EXPECT_TRUE(never.TryTake(env.Now()));
  env.Advance(seconds(3600));
  EXPECT_FALSE(never.TryTake(env.Now()));
}

}  // namespace
}  // namespace inlinesec::recovery
