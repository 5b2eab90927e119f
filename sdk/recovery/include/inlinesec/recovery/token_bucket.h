// TokenBucket: the rate limiter of every recovery action. `count` tokens
// accrue every `per` up to `burst`; each action takes one. Time comes from the
// caller (the injected clock), so limits are exact in simulated time.
#pragma once

#include <cstdint>

#include "inlinesec/common/clock.h"

namespace inlinesec::recovery {

struct RateLimit {
  std::uint32_t count = 1;                 // sustained: `count` actions every `per`
  Duration per = std::chrono::seconds(1);  // (count 0 = never)
  std::uint32_t burst = 1;                 // actions allowed at once after quiet
};

class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(const RateLimit& limit, TimePoint now)
      : limit_(limit), tokens_nanos_(Scale(limit.burst)), last_(now) {}

  // Takes one token if available at `now`.
  bool TryTake(TimePoint now) {
    Refill(now);
    if (tokens_nanos_ < kOneToken) return false;
    tokens_nanos_ -= kOneToken;
    return true;
  }
  // Whole tokens available at `now` (does not take any).
  std::uint64_t Available(TimePoint now) {
    Refill(now);
    return tokens_nanos_ / kOneToken;
  }

 private:
  // Tokens are kept in units of 1e-9 token so integer arithmetic is exact
  // for any rate up to 1e9/s.
  static constexpr std::uint64_t kOneToken = 1'000'000'000ull;
  static std::uint64_t Scale(std::uint64_t tokens) { return tokens * kOneToken; }
  void Refill(TimePoint now) {
    if (now <= last_) return;
    const auto elapsed = static_cast<std::uint64_t>((now - last_).count());
    last_ = now;
    const std::uint64_t cap = Scale(limit_.burst);
    const auto per =
        static_cast<unsigned __int128>(limit_.per.count() > 0 ? limit_.per.count() : 1);
    // nano-tokens gained = elapsed / per * count tokens, in 1e-9 units.
    const unsigned __int128 add =
        static_cast<unsigned __int128>(elapsed) * limit_.count * kOneToken / per;
    const unsigned __int128 sum = add + tokens_nanos_;
    tokens_nanos_ = sum > cap ? cap : static_cast<std::uint64_t>(sum);
  }

  RateLimit limit_;
  std::uint64_t tokens_nanos_ = 0;
  TimePoint last_{};
};

}  // namespace inlinesec::recovery
