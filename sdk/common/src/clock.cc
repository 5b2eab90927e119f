// SystemClock: the only place in inlinesec that reads the OS clock.
#include "inlinesec/common/clock.h"

#include <ctime>

namespace inlinesec {

TimePoint SystemClock::Now() const {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return TimePoint{std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)};
}

}  // namespace inlinesec
