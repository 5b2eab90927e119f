// EventLoop and TimerfdTimers: the daemon's single-threaded I/O loop. The
// loop waits in epoll on registered fds and calls their handlers; Stop() may
// be called from any thread (or a signal handler's thread) through an
// eventfd. TimerfdTimers implements inlinesec::Timers on one timerfd in that
// loop: deadlines are points on a Clock that must count CLOCK_MONOTONIC
// (SystemClock does), so the timerfd is armed with absolute times. Only the
// daemon's main (and tests that run a real gateway) create these; everything
// else takes Clock&/Timers&.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>

#include "inlinesec/common/clock.h"
#include "inlinesec/common/status.h"

namespace inlinesec::gateway {

class EventLoop {
 public:
  using Handler = std::function<void(std::uint32_t events)>;

  [[nodiscard]] static Result<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` for `events` (EPOLLIN...). The loop does not own the fd.
  [[nodiscard]] Status Add(int fd, std::uint32_t events, Handler handler);
  [[nodiscard]] Status Modify(int fd, std::uint32_t events);
  void Remove(int fd);

  // Waits once (up to timeout_ms, -1 = forever) and dispatches.
  void RunOnce(int timeout_ms);
  // Runs until Stop().
  void Run();
  // Thread-safe.
  void Stop();
  bool stopped() const { return stop_; }

 private:
  EventLoop(int epfd, int wake_fd);
  int epfd_ = -1;
  int wake_fd_ = -1;
  bool stop_ = false;
  std::unordered_map<int, std::shared_ptr<Handler>> handlers_;
};

class TimerfdTimers final : public Timers {
 public:
  // `clock` must read CLOCK_MONOTONIC.
  [[nodiscard]] static Result<std::unique_ptr<TimerfdTimers>> Create(EventLoop& loop,
                                                                     const Clock& clock);
  ~TimerfdTimers() override;

  TimerId Arm(TimePoint deadline, std::function<void()> fire) override;
  void Cancel(TimerId id) override;
  std::size_t pending() const { return by_id_.size(); }

 private:
  TimerfdTimers(EventLoop& loop, const Clock& clock, int fd);
  void Rearm();
  void OnExpiry();

  EventLoop& loop_;
  const Clock& clock_;
  int fd_ = -1;
  TimerId next_id_ = 1;
  std::multimap<TimePoint, TimerId> by_deadline_;
  struct Entry {
    TimePoint deadline;
    std::function<void()> fire;
  };
  std::unordered_map<TimerId, Entry> by_id_;
};

}  // namespace inlinesec::gateway
