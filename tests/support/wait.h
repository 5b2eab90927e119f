// WaitFor: the only way interop tests wait. It polls a condition until it
// holds or a bounded deadline passes (never a fixed sleep), so a test is as
// fast as the peer and fails with a clear timeout instead of hanging.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace inlinesec::testing {

// Returns true as soon as `cond` holds; false once `timeout` has passed.
inline bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
                    std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace inlinesec::testing
