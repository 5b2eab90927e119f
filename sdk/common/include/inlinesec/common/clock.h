// Time as an injected dependency. Nothing outside SystemClock reads a real
// clock: IKE retransmits, DPD, SA lifetimes, mailbox deadlines and the model's
// timestamps all take a `const Clock&` (and `Timers&` where they arm alarms),
// so tests run in simulated time and are deterministic.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace inlinesec {

using Duration = std::chrono::nanoseconds;
// A point on the injected clock: nanoseconds since the clock's own epoch.
struct TimePoint {
  Duration since_epoch{0};
  friend constexpr auto operator<=>(TimePoint, TimePoint) = default;
  friend constexpr TimePoint operator+(TimePoint t, Duration d) { return {t.since_epoch + d}; }
  friend constexpr TimePoint operator-(TimePoint t, Duration d) { return {t.since_epoch - d}; }
  friend constexpr Duration operator-(TimePoint a, TimePoint b) {
    return a.since_epoch - b.since_epoch;
  }
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

using TimerId = std::uint64_t;
inline constexpr TimerId kNoTimer = 0;

class Timers {
 public:
  virtual ~Timers() = default;
  // Calls `fire` once, at or after `deadline`, from the owner's event loop.
  virtual TimerId Arm(TimePoint deadline, std::function<void()> fire) = 0;
  // Cancelling a fired or unknown id is a no-op.
  virtual void Cancel(TimerId id) = 0;
};

// The monotonic OS clock (CLOCK_MONOTONIC).
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
};

}  // namespace inlinesec
