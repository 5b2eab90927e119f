// IKE SA establishment rate. Two inlinesec IkeStack peers in one process (a
// fake clock, datagrams delivered through an in-memory queue, an SaInstaller
// that only records) run IKE_SA_INIT + IKE_AUTH with one Child SA and then
// an INFORMATIONAL Delete, over and over; the thread CPU time spent inside
// each stack gives the cost per SA for initiator and responder. Beside it,
// in the same run, two strongSwan charons in two namespaces do the same
// cycle (vici `initiate` of the child, then `terminate` of the IKE SA, one
// persistent vici connection each); their CPU comes from /proc/<pid>/stat
// (utime + stime). The ratio of the two rates is printed at the end. The
// strongSwan half needs root and skips with the reason otherwise.
#include <benchmark/benchmark.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>

#include "inlinesec/common/fake_clock.h"
#include "inlinesec/ike/crypto/random.h"
#include "inlinesec/ike/ike_stack.h"

#ifdef INLINESEC_BENCH_STRONGSWAN
#include <filesystem>

#include "netns.h"
#include "strongswan_peer.h"
#endif

namespace inlinesec::ike {
namespace {

struct Figures {
  double ours_rate = 0, theirs_rate = 0;
  double ours_cpu_i_us = 0, ours_cpu_r_us = 0, theirs_cpu_i_us = 0, theirs_cpu_r_us = 0;
};

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Records what the stack installs and nothing more.
class CountingInstaller final : public SaInstaller {
 public:
  explicit CountingInstaller(std::uint32_t base) : next_(base) {}
  Result<std::uint32_t> AllocateSpi(const Endpoint&) override { return next_++; }
  void ReleaseSpi(std::uint32_t) override {}
  Status Install(const ChildSaSpec& spec) override {
    ++installed;
    last_spi = spec.spi;
    return Status::Ok();
  }
  Status Remove(std::uint32_t, Direction, const Endpoint&) override {
    ++removed;
    return Status::Ok();
  }
  Result<ChildSaUsage> Query(std::uint32_t, Direction, const Endpoint&) override {
    return ChildSaUsage{};
  }
  std::uint64_t installed = 0, removed = 0;
  std::uint32_t last_spi = 0;

 private:
  std::uint32_t next_;
};

struct CountingObserver final : public IkeObserver {
  void OnIkeSaUp(const IkeSaInfo&) override { ++ike_up; }
  void OnIkeSaDown(const IkeSaInfo&, DownReason) override { ++ike_down; }
  void OnChildSaUp(const ChildSaInfo&) override { ++child_up; }
  std::uint64_t ike_up = 0, ike_down = 0, child_up = 0;
};

ConnectionConfig Config(const char* local, const char* remote, const char* local_net,
                        const char* remote_net) {
  ConnectionConfig c;
  c.name = "bench";
  c.local = {*IpAddress::Parse(local), kIkePort};
  c.remote = {*IpAddress::Parse(remote), kIkePort};
  c.local_id = Identity::Parse(local);
  c.remote_id = Identity::Parse(remote);
  static constexpr char kPsk[] = "benchmark pre-shared key, 32 by.";
  c.psk.Assign(std::span(reinterpret_cast<const std::uint8_t*>(kPsk), sizeof kPsk - 1));
  c.ike_proposals.push_back(
      ParseProposal("aes256gcm16-prfsha256-x25519", ProtocolId::kIke).value());
  ChildConfig child;
  child.name = "c";
  child.local_ts.push_back(*TrafficSelector::Parse(local_net));
  child.remote_ts.push_back(*TrafficSelector::Parse(remote_net));
  child.esp_proposals.push_back(ParseProposal("aes256gcm16", ProtocolId::kEsp).value());
  c.children.push_back(std::move(child));
  return c;
}

// Two stacks joined by a queue; each call into a stack is timed on its side.
class Pair {
 public:
  Pair()
      : inst_a_(0x1000),
        inst_b_(0x80000000),
        a_(env_, env_, rnd_a_, inst_a_, obs_a_,
           [this](const Datagram& d) {
             q_.push_back({true, d});
           }),
        b_(env_, env_, rnd_b_, inst_b_, obs_b_, [this](const Datagram& d) {
          q_.push_back({false, d});
        }) {}

  Status Setup() {
    INLINESEC_RETURN_IF_ERROR(
        a_.AddConnection(Config("192.0.2.1", "192.0.2.2", "10.1.0.0/24", "10.2.0.0/24")));
    return b_.AddConnection(Config("192.0.2.2", "192.0.2.1", "10.2.0.0/24", "10.1.0.0/24"));
  }

  // One IKE SA with its Child SA up on both sides, then deleted by the
  // initiator. False if it did not come up.
  bool Cycle() {
    const std::uint64_t up_a = obs_a_.child_up, up_b = obs_b_.child_up;
    double t0 = ThreadCpuSeconds();
    Result<std::uint64_t> id = a_.Initiate("bench");
    cpu_a_ += ThreadCpuSeconds() - t0;
    if (!id.ok()) return false;
    Pump();
    if (obs_a_.child_up != up_a + 1 || obs_b_.child_up != up_b + 1) return false;
    t0 = ThreadCpuSeconds();
    const Status st = a_.DeleteIke(*id);
    cpu_a_ += ThreadCpuSeconds() - t0;
    if (!st.ok()) return false;
    Pump();
    return true;
  }

  double cpu_a() const { return cpu_a_; }
  double cpu_b() const { return cpu_b_; }
  std::size_t live_sas() const { return a_.IkeSas().size() + b_.IkeSas().size(); }

 private:
  void Pump() {
    while (!q_.empty()) {
      auto [to_b, d] = std::move(q_.front());
      q_.pop_front();
      const double t0 = ThreadCpuSeconds();
      (to_b ? b_ : a_).Receive(d);
      (to_b ? cpu_b_ : cpu_a_) += ThreadCpuSeconds() - t0;
    }
  }

  FakeClockTimers env_;
  OsRandom rnd_a_, rnd_b_;
  CountingInstaller inst_a_, inst_b_;
  CountingObserver obs_a_, obs_b_;
  std::deque<std::pair<bool, Datagram>> q_;
  IkeStack a_, b_;
  double cpu_a_ = 0, cpu_b_ = 0;
};

void BM_InlinesecIkeSa(benchmark::State& state, Figures* fig) {
  Pair pair;
  if (Status st = pair.Setup(); !st.ok()) {
    state.SkipWithError(st.ToString().c_str());
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::int64_t n = 0;
  for (auto _ : state) {
    if (!pair.Cycle()) {
      state.SkipWithError("IKE SA did not come up");
      return;
    }
    ++n;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (pair.live_sas() != 0) state.SkipWithError("IKE SAs left behind after Delete");
  state.SetItemsProcessed(n);
  fig->ours_rate = static_cast<double>(n) / wall;
  fig->ours_cpu_i_us = pair.cpu_a() / static_cast<double>(n) * 1e6;
  fig->ours_cpu_r_us = pair.cpu_b() / static_cast<double>(n) * 1e6;
  state.counters["sa_per_s"] = fig->ours_rate;
  state.counters["cpu_us_init"] = fig->ours_cpu_i_us;
  state.counters["cpu_us_resp"] = fig->ours_cpu_r_us;
}

#ifdef INLINESEC_BENCH_STRONGSWAN
namespace t = inlinesec::testing;

// utime + stime of a process, in seconds.
double ProcCpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields after the command name start at 3 (state); utime is 14, stime 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// charon's pid in its namespace's run directory (its own pid file).
pid_t CharonPid(const std::string& dir) {
  std::ifstream f(dir + "/run/charon.pid");
  pid_t pid = -1;
  f >> pid;
  return pid;
}

void BM_StrongswanIkeSa(benchmark::State& state, Figures* fig) {
  const std::string why = t::StrongswanUnavailableReason();
  if (!why.empty()) {
    state.SkipWithError(("strongSwan skipped: " + why).c_str());
    return;
  }
  auto na = t::NetNs::Create(t::UniqueNsName("bika"));
  auto nb = t::NetNs::Create(t::UniqueNsName("bikb"));
  if (!na.ok() || !nb.ok() ||
      !t::AddVethPair(*na, "veth-a", "192.168.81.1/24", *nb, "veth-b", "192.168.81.2/24").ok()) {
    state.SkipWithError("cannot create namespaces");
    return;
  }
  // Inner addresses on lo, as kernel-libipsec's Child SAs want a local one.
  if (!na->Ip({"addr", "add", "10.1.0.1/32", "dev", "lo"}).ok() ||
      !nb->Ip({"addr", "add", "10.2.0.1/32", "dev", "lo"}).ok()) {
    state.SkipWithError("cannot add inner addresses");
    return;
  }
  const std::string dir = "/tmp/" + t::UniqueNsName("bikesw");
  struct DirGuard {
    std::string path;
    ~DirGuard() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } guard{dir};
  auto a = t::StrongswanPeer::Start(*na, dir + "/a", std::chrono::seconds(10));
  auto b = t::StrongswanPeer::Start(*nb, dir + "/b", std::chrono::seconds(10));
  if (!a.ok() || !b.ok()) {
    state.SkipWithError("charon did not start");
    return;
  }
  const std::string psk = std::string(32, 'k');
  struct Side {
    t::StrongswanPeer* peer;
    const char *me, *other, *my_net, *other_net;
  };
  for (const Side& s :
       {Side{a->get(), "192.168.81.1", "192.168.81.2", "10.1.0.1/32", "10.2.0.1/32"},
        Side{b->get(), "192.168.81.2", "192.168.81.1", "10.2.0.1/32", "10.1.0.1/32"}}) {
    t::ConnConfig c;
    c.local_addr = s.me;
    c.remote_addr = s.other;
    c.local_id = s.me;
    c.remote_id = s.other;
    c.proposal = "aes256gcm16-prfsha256-curve25519";
    t::ChildConfig ch;
    ch.local_ts = {s.my_net};
    ch.remote_ts = {s.other_net};
    ch.esp_proposal = "aes256gcm16";
    c.children = {ch};
    if (!s.peer->LoadPsk(s.me, s.other, psk).ok() || !s.peer->LoadConn(c).ok()) {
      state.SkipWithError("charon configuration failed");
      return;
    }
  }
  const pid_t pid_a = CharonPid(dir + "/a"), pid_b = CharonPid(dir + "/b");
  const double cpu_a0 = ProcCpuSeconds(pid_a), cpu_b0 = ProcCpuSeconds(pid_b);
  const auto t0 = std::chrono::steady_clock::now();
  std::int64_t n = 0;
  for (auto _ : state) {
    Status st = (*a)->Initiate("c", std::chrono::seconds(5));
    if (st.ok()) {
      t::ViciWriter w;
      w.Kv("ike", "t").Kv("timeout", "5000");
      st = (*a)->vici().Command("terminate", w, std::chrono::seconds(7));
    }
    if (!st.ok()) {
      std::ifstream log((*a)->log_path());
      std::fprintf(stderr, "cycle %lld failed; initiator's charon log:\n%s\n",
                   static_cast<long long>(n),
                   std::string(std::istreambuf_iterator<char>(log), {}).c_str());
      state.SkipWithError(st.ToString().c_str());
      return;
    }
    ++n;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  state.SetItemsProcessed(n);
  fig->theirs_rate = static_cast<double>(n) / wall;
  fig->theirs_cpu_i_us = (ProcCpuSeconds(pid_a) - cpu_a0) / static_cast<double>(n) * 1e6;
  fig->theirs_cpu_r_us = (ProcCpuSeconds(pid_b) - cpu_b0) / static_cast<double>(n) * 1e6;
  state.counters["sa_per_s"] = fig->theirs_rate;
  state.counters["cpu_us_init"] = fig->theirs_cpu_i_us;
  state.counters["cpu_us_resp"] = fig->theirs_cpu_r_us;
}
#endif

}  // namespace
}  // namespace inlinesec::ike

int main(int argc, char** argv) {
  using inlinesec::ike::Figures;
  Figures fig;
  benchmark::RegisterBenchmark("BM_InlinesecIkeSa", inlinesec::ike::BM_InlinesecIkeSa, &fig)
      ->Iterations(1000)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
#ifdef INLINESEC_BENCH_STRONGSWAN
  benchmark::RegisterBenchmark("BM_StrongswanIkeSa", inlinesec::ike::BM_StrongswanIkeSa, &fig)
      ->Iterations(200)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf(
      "IKE SA + Child SA (establish + delete) per second: inlinesec %.0f (CPU/SA: initiator %.0f "
      "us, responder %.0f us); strongSwan %.0f (charon CPU/SA: initiator %.0f us, responder %.0f "
      "us)\n",
      fig.ours_rate, fig.ours_cpu_i_us, fig.ours_cpu_r_us, fig.theirs_rate, fig.theirs_cpu_i_us,
      fig.theirs_cpu_r_us);
  if (fig.theirs_rate > 0)
    std::printf("ratio inlinesec/strongSwan: %.1fx (target >= 4x)\n",
                fig.ours_rate / fig.theirs_rate);
  else
    std::printf("ratio: strongSwan part did not run (see its skip reason)\n");
  return 0;
}
