// Unit tests of the control protocol codec and of the daemon's event loop
// and timerfd Timers (no root needed: no TUN, no namespaces).
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "inlinesec/common/clock.h"
#include "inlinesec/gateway/control.h"
#include "inlinesec/gateway/event_loop.h"

namespace inlinesec::gateway {
namespace {

TEST(ControlProtocol, ParsesEveryCommand) {
  for (const char* cmd : {"status", "sas", "counters", "regs", "events"}) {
    Result<ControlRequest> r = ParseControlRequest(std::string("{\"cmd\":\"") + cmd + "\"}");
    ASSERT_TRUE(r.ok()) << cmd << ": " << r.status().ToString();
    EXPECT_EQ(r->cmd, cmd);
  }
  Result<ControlRequest> f = ParseControlRequest(R"({"cmd":"fault","kind":"reset"})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, "reset");
}

TEST(ControlProtocol, RejectsBadRequests) {
  EXPECT_FALSE(ParseControlRequest("status").ok());               // not JSON
  EXPECT_FALSE(ParseControlRequest("[\"status\"]").ok());         // not an object
  EXPECT_FALSE(ParseControlRequest("{}").ok());                   // no cmd
  EXPECT_FALSE(ParseControlRequest(R"({"cmd":"reboot"})").ok());  // unknown command
  EXPECT_FALSE(ParseControlRequest(R"({"cmd":"status","x":"1"})").ok());
  EXPECT_FALSE(ParseControlRequest(R"({"cmd":1})").ok());
  EXPECT_FALSE(ParseControlRequest(R"({"cmd":"fault"})").ok());  // kind required
  EXPECT_FALSE(ParseControlRequest(R"({"cmd":"status","kind":"reset"})").ok());
  EXPECT_FALSE(ParseControlRequest(std::string(kMaxControlLine + 1, ' ')).ok());
  Result<ControlRequest> r = ParseControlRequest(R"({"cmd":"reboot"})");
  EXPECT_NE(r.status().message().find("reboot"), std::string::npos);
}

TEST(ControlProtocol, RequestRoundTrip) {
  const ControlRequest req{"fault", "flush"};
  const std::string line = FormatControlRequest(req);
  ASSERT_EQ(line.back(), '\n');
  Result<ControlRequest> back = ParseControlRequest(line.substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->cmd, "fault");
  EXPECT_EQ(back->kind, "flush");
}

TEST(ControlProtocol, RepliesAndEventsParse) {
  const std::string ok = OkReply(R"({"a":1})");
  ASSERT_EQ(ok.back(), '\n');
  Result<ControlReply> r = ParseControlReply(ok.substr(0, ok.size() - 1));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok);
  EXPECT_FALSE(r->is_event);
  EXPECT_EQ(r->data_json, R"({"a":1})");

  const std::string err = ErrorReply("no \"such\" thing\n");
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1);  // escaped: still one line
  r = ParseControlReply(err.substr(0, err.size() - 1));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->error, "no \"such\" thing\n");

  const std::string ev = EventLine(R"({"type":"decision"})");
  r = ParseControlReply(ev.substr(0, ev.size() - 1));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_event);
  EXPECT_EQ(r->data_json, R"({"type":"decision"})");

  EXPECT_FALSE(ParseControlReply("{\"data\":1}").ok());
  EXPECT_FALSE(ParseControlReply("garbage").ok());
}

TEST(ControlProtocol, ClientReportsAMissingDaemon) {
  Result<ControlReply> r = ControlCall("/nonexistent/inlinesecd.sock", {"status", ""}, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("inlinesecd"), std::string::npos);
}

TEST(TimerfdTimers, FireInDeadlineOrderAndCancel) {
  SystemClock clock;
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto timers = TimerfdTimers::Create(**loop, clock);
  ASSERT_TRUE(timers.ok());
  std::vector<int> fired;
  const TimePoint now = clock.Now();
  (*timers)->Arm(now + std::chrono::milliseconds(20), [&] { fired.push_back(2); });
  (*timers)->Arm(now + std::chrono::milliseconds(5), [&] { fired.push_back(1); });
  const TimerId gone =
      (*timers)->Arm(now + std::chrono::milliseconds(10), [&] { fired.push_back(99); });
  (*timers)->Cancel(gone);
  (*timers)->Cancel(gone);  // twice: a no-op
  // A timer armed from a callback fires too.
  (*timers)->Arm(now + std::chrono::milliseconds(30), [&] {
    fired.push_back(3);
    (*timers)->Arm(clock.Now(), [&] { fired.push_back(4); });
  });
  const TimePoint give_up = now + std::chrono::seconds(2);
  while (fired.size() < 4 && clock.Now() < give_up) (*loop)->RunOnce(100);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_GE(clock.Now() - now, std::chrono::milliseconds(30));
  EXPECT_EQ((*timers)->pending(), 0u);
}

TEST(EventLoop, DispatchesFdsAndStops) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  int reads = 0;
  ASSERT_TRUE((*loop)
                  ->Add(p[0], EPOLLIN,
                        [&](std::uint32_t) {
                          char c;
                          if (read(p[0], &c, 1) == 1) ++reads;
                          if (reads == 2) (*loop)->Stop();
                        })
                  .ok());
  ASSERT_EQ(write(p[1], "ab", 2), 2);
  (*loop)->Run();
  EXPECT_EQ(reads, 2);
  EXPECT_TRUE((*loop)->stopped());
  (*loop)->Remove(p[0]);
  close(p[0]);
  close(p[1]);
}

}  // namespace
}  // namespace inlinesec::gateway
