// EventLoop (epoll + an eventfd for Stop) and TimerfdTimers (one absolute
// CLOCK_MONOTONIC timerfd armed for the earliest deadline).
#include "inlinesec/gateway/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace inlinesec::gateway {

namespace {
Status Errno(const std::string& what) {
  return Status(Code::kInternal, what + ": " + std::strerror(errno));
}
}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::Create() {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return Errno("epoll_create1");
  const int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    close(ep);
    return Errno("eventfd");
  }
  std::unique_ptr<EventLoop> loop(new EventLoop(ep, wake));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev) != 0) return Errno("epoll_ctl(wake)");
  return loop;
}

EventLoop::EventLoop(int epfd, int wake_fd) : epfd_(epfd), wake_fd_(wake_fd) {}

EventLoop::~EventLoop() {
  close(wake_fd_);
  close(epfd_);
}

Status EventLoop::Add(int fd, std::uint32_t events, Handler handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return Errno("epoll_ctl(add)");
  handlers_[fd] = std::make_shared<Handler>(std::move(handler));
  return Status::Ok();
}

Status EventLoop::Modify(int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) return Errno("epoll_ctl(mod)");
  return Status::Ok();
}

void EventLoop::Remove(int fd) {
  (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

void EventLoop::RunOnce(int timeout_ms) {
  std::array<epoll_event, 32> evs{};
  const int n = epoll_wait(epfd_, evs.data(), static_cast<int>(evs.size()), timeout_ms);
  for (int i = 0; i < n; ++i) {
    const int fd = evs[static_cast<std::size_t>(i)].data.fd;
    if (fd == wake_fd_) {
      std::uint64_t v = 0;
      (void)read(wake_fd_, &v, sizeof(v));
      continue;
    }
    // A handler may remove fds (itself included): look each one up afresh
    // and keep it alive while it runs.
    auto it = handlers_.find(fd);
    if (it == handlers_.end()) continue;
    std::shared_ptr<Handler> h = it->second;
    (*h)(evs[static_cast<std::size_t>(i)].events);
  }
}

void EventLoop::Run() {
  while (!stop_) RunOnce(-1);
}

void EventLoop::Stop() {
  stop_ = true;
  const std::uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

Result<std::unique_ptr<TimerfdTimers>> TimerfdTimers::Create(EventLoop& loop, const Clock& clock) {
  const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return Errno("timerfd_create");
  std::unique_ptr<TimerfdTimers> t(new TimerfdTimers(loop, clock, fd));
  TimerfdTimers* self = t.get();
  Status st = loop.Add(fd, EPOLLIN, [self](std::uint32_t) { self->OnExpiry(); });
  if (!st.ok()) return st;
  return t;
}

TimerfdTimers::TimerfdTimers(EventLoop& loop, const Clock& clock, int fd)
    : loop_(loop), clock_(clock), fd_(fd) {}

TimerfdTimers::~TimerfdTimers() {
  loop_.Remove(fd_);
  close(fd_);
}

TimerId TimerfdTimers::Arm(TimePoint deadline, std::function<void()> fire) {
  const TimerId id = next_id_++;
  by_id_[id] = Entry{deadline, std::move(fire)};
  by_deadline_.emplace(deadline, id);
  if (by_deadline_.begin()->second == id) Rearm();
  return id;
}

void TimerfdTimers::Cancel(TimerId id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  auto range = by_deadline_.equal_range(it->second.deadline);
  for (auto d = range.first; d != range.second; ++d) {
    if (d->second == id) {
      by_deadline_.erase(d);
      break;
    }
  }
  by_id_.erase(it);
}

void TimerfdTimers::Rearm() {
  itimerspec spec{};
  if (!by_deadline_.empty()) {
    auto ns = by_deadline_.begin()->first.since_epoch.count();
    if (ns <= 0) ns = 1;  // 0 would disarm
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  }
  (void)timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void TimerfdTimers::OnExpiry() {
  std::uint64_t ticks = 0;
  (void)read(fd_, &ticks, sizeof(ticks));
  const TimePoint now = clock_.Now();
  // Collect first: a callback may arm or cancel timers.
  std::vector<TimerId> due;
  for (auto it = by_deadline_.begin(); it != by_deadline_.end() && it->first <= now; ++it)
    due.push_back(it->second);
  for (TimerId id : due) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;  // cancelled by an earlier callback
    std::function<void()> fire = std::move(it->second.fire);
    Cancel(id);
    fire();
  }
  Rearm();
}

}  // namespace inlinesec::gateway
