// FakeClockTimers: one object that owns simulated time for tests and
// simulations. Advance() moves time forward and fires due timers in deadline
// order (ties in arming order); a timer armed by a firing callback for a time
// inside the advanced span fires in the same call.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "inlinesec/common/clock.h"

namespace inlinesec {

class FakeClockTimers final : public Clock, public Timers {
 public:
  explicit FakeClockTimers(TimePoint start = TimePoint{std::chrono::seconds(1)}) : now_(start) {}

  TimePoint Now() const override { return now_; }

  TimerId Arm(TimePoint deadline, std::function<void()> fire) override {
    TimerId id = ++next_id_;
    pending_.emplace(Key{deadline, id}, std::move(fire));
    return id;
  }
  void Cancel(TimerId id) override {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->first.id == id) {
        pending_.erase(it);
        return;
      }
    }
  }
  // Moves time forward by d, firing every timer that falls due on the way.
  void Advance(Duration d) { RunUntil(now_ + d); }
  void RunUntil(TimePoint end) {
    while (!pending_.empty() && pending_.begin()->first.deadline <= end) {
      auto node = pending_.extract(pending_.begin());
      if (node.key().deadline > now_) now_ = node.key().deadline;
      node.mapped()();
    }
    if (end > now_) now_ = end;
  }
  // Fires the timers already due without moving time.
  void RunDue() { RunUntil(now_); }
  std::size_t pending() const { return pending_.size(); }
  // The earliest armed deadline, if any.
  bool NextDeadline(TimePoint& out) const {
    if (pending_.empty()) return false;
    out = pending_.begin()->first.deadline;
    return true;
  }

 private:
  struct Key {
    TimePoint deadline;
    TimerId id;
    bool operator<(const Key& o) const {
      return deadline != o.deadline ? deadline < o.deadline : id < o.id;
    }
  };
  TimePoint now_;
  TimerId next_id_ = 0;
  std::map<Key, std::function<void()>> pending_;
};

}  // namespace inlinesec
