// Recovery scenarios of inlinesecd (IKE-keyed) against strongSwan's charon
// with kernel-libipsec, each in its own namespace, with traffic crossing
// the tunnel while a fault is injected: one inbound Child SA lost silently
// (decision 2: protected INVALID_SPI plus Delete, then the Child SA created
// again), charon killed and restarted (on-demand DPD from TrafficWatch,
// stale SAs dropped on INITIAL_CONTACT), the gateway killed with SIGKILL and
// restarted with all state lost (decision 3: a new IKE SA with
// INITIAL_CONTACT on the first SPI miss from the static peer, charon drops
// its stale SAs), and a random-SPI flood from spoofed sources at ten times
// the good rate (tunnel and IKE unaffected, every dropped packet counted,
// no notify or initiation for unknown sources). Root and strongSwan only;
// skips with the reason otherwise. Times are printed as metrics.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "gateway_test_util.h"
#include "inlinesec/gateway/control.h"
#include "netns.h"
#include "process.h"
#include "strongswan_peer.h"
#include "wait.h"

namespace inlinesec::gateway {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace t = inlinesec::testing;

// One gateway namespace (192.168.79.1, 10.1.0.0/24 behind it) and one
// strongSwan namespace (192.168.79.2, 10.2.0.1), IKE over PSK. Members are
// declared so that processes stop before the namespaces and the directory
// go away.
class RecoveryStrongswan : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why =
        t::TunTestUnavailableReason(t::StrongswanUnavailableReason(), {"ping", "python3"});
    if (!why.empty()) GTEST_SKIP() << why;

    auto g = t::NetNs::Create(t::UniqueNsName("rcg"));
    auto s = t::NetNs::Create(t::UniqueNsName("rcs"));
    ASSERT_TRUE(g.ok() && s.ok());
    g_ = std::move(*g);
    s_ = std::move(*s);
    ASSERT_TRUE(
        t::AddVethPair(g_, "veth-g", "192.168.79.1/24", s_, "veth-s", "192.168.79.2/24").ok());
    ASSERT_TRUE(s_.Ip({"addr", "add", "10.2.0.1/32", "dev", "lo"}).ok());
    dir_.path = "/tmp/" + t::UniqueNsName("rcsw");
    std::filesystem::create_directories(dir_.path);
    socket_ = dir_.path + "/gw.sock";

    auto sw = t::StrongswanPeer::Start(s_, dir_.path + "/sw", seconds(10));
    ASSERT_TRUE(sw.ok()) << sw.status().ToString();
    sw_ = std::move(*sw);
    LoadCharon("none");
    ASSERT_FALSE(HasFatalFailure());
    const std::string psk_hex(64, 'b');

    const json ike_conf = {{"connections",
                            {{{"name", "sw"},
                              {"local", "192.168.79.1"},
                              {"local_port", 500},
                              {"remote", "192.168.79.2"},
                              {"remote_port", 500},
                              {"local_id", "gw@test"},
                              {"remote_id", "sw@test"},
                              {"psk", "0x" + psk_hex},  // vici takes the secret's bytes as they are
                              {"ike_proposals", {"aes256gcm16-prfsha256-x25519"}},
                              {"static_peer", true},
                              {"children",
                               {{{"name", "c"},
                                 {"local_ts", {"10.1.0.0/24"}},
                                 {"remote_ts", {"10.2.0.1/32"}},
                                 {"esp_proposals", {"aes256gcm16-noesn"}}}}}}}}};
    std::ofstream(dir_.path + "/ike.json") << ike_conf.dump(2);
    WriteGatewayConfig("gw.json", /*initiate=*/true);
    WriteGatewayConfig("gw-restart.json", /*initiate=*/false);

    StartGateway("gw.json", "gw.log");
    ASSERT_FALSE(HasFatalFailure());
    const bool up = t::WaitFor(
        [&] {
          const json sas = Query(socket_, "sas");
          return sas.contains("child_sas") && sas["child_sas"].size() == 2;
        },
        seconds(15), milliseconds(20));
    ASSERT_TRUE(up) << "tunnel not up; gateway log:\n" << Slurp(dir_.path + "/gw.log");
    ASSERT_TRUE(g_.Ip({"route", "add", "10.2.0.1/32", "dev", "isec0"}).ok());
    // kernel-libipsec installs its route a moment after the Child SA.
    ASSERT_TRUE(t::WaitFor([&] { return PingFromGateway(); }, seconds(10), milliseconds(20)))
        << Slurp(dir_.path + "/gw.log");
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const char* log : {"/gw.log", "/gw2.log"}) {
        std::fprintf(stderr, "--- %s ---\n%s\n", log, Slurp(dir_.path + log).c_str());
      }
      if (sw_) std::fprintf(stderr, "--- charon ---\n%s\n", Slurp(sw_->log_path()).c_str());
    }
    if (stream_) stream_->Stop(SIGINT, seconds(2));
    if (gw_) gw_->Stop(SIGTERM, seconds(3));
    sw_.reset();
  }

  // The PSK and charon's connection; `start_action` "start" makes charon
  // initiate as soon as it is loaded.
  void LoadCharon(const std::string& start_action) {
    const std::string psk_hex(64, 'b');
    ASSERT_TRUE(sw_->LoadPsk("sw@test", "gw@test", "0x" + psk_hex).ok());
    t::ConnConfig c;
    c.local_addr = "192.168.79.2";
    c.remote_addr = "192.168.79.1";
    c.local_id = "sw@test";
    c.remote_id = "gw@test";
    t::ChildConfig child;
    child.local_ts = {"10.2.0.1/32"};
    child.remote_ts = {"10.1.0.0/24"};
    child.start_action = start_action;
    c.children = {child};
    Status st = sw_->LoadConn(c);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  void WriteGatewayConfig(const std::string& name, bool initiate) {
    const json conf = {{"control_socket", socket_},
                       {"allow_faults", true},
                       {"local_address", "192.168.79.1"},
                       {"tun", {{"name", "isec0"}, {"address", "10.1.0.1/24"}}},
                       {"housekeeping_ms", 20},
                       {"ike_config", dir_.path + "/ike.json"},
                       {"connections",
                        {{{"name", "sw"},
                          {"peer", "192.168.79.2"},
                          {"static_peer", true},
                          {"initiate", initiate},
                          {"local_ts", {"10.1.0.0/24"}},
                          {"remote_ts", {"10.2.0.1/32"}}}}}};
    std::ofstream(dir_.path + "/" + name) << conf.dump(2);
  }

  void StartGateway(const std::string& conf, const std::string& log) {
    auto d = t::Process::Spawn(g_.Exec({INLINESECD_PATH, "-c", dir_.path + "/" + conf}), {},
                               dir_.path + "/" + log);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    gw_.emplace(std::move(*d));
  }

  bool PingFromGateway() {
    return g_.Run({"ping", "-c", "1", "-W", "1", "-I", "10.1.0.1", "10.2.0.1"}) == 0;
  }

  // A ping every `interval_s` from strongSwan's side to the gateway's TUN
  // address (or the other way), for `count` packets; its summary goes to
  // stream.log.
  void StartStream(const std::string& interval_s, int count, bool from_gateway = false) {
    const t::NetNs& ns = from_gateway ? g_ : s_;
    auto p = t::Process::Spawn(
        ns.Exec({"ping", "-q", "-i", interval_s, "-c", std::to_string(count), "-I",
                 from_gateway ? "10.1.0.1" : "10.2.0.1", from_gateway ? "10.2.0.1" : "10.1.0.1"}),
        {}, dir_.path + "/stream.log");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    stream_.emplace(std::move(*p));
  }

  DirGuard dir_;
  t::NetNs g_, s_;
  std::unique_ptr<t::StrongswanPeer> sw_;
  std::optional<t::Process> gw_;
  std::optional<t::Process> stream_;
  std::string socket_;
};

// Scenario 3: inlinesecd dies (SIGKILL) and comes back with all state
// lost, configured not to initiate, while charon keeps sending ESP on the
// old Child SA. The first SPI miss from the static peer finds no IKE SA:
// decision 3 initiates with INITIAL_CONTACT, charon replaces its stale
// SAs, traffic flows again.
TEST_F(RecoveryStrongswan, GatewayRestartRecoveredByInitialContact) {
  StartStream("0.01", 1000);
  ASSERT_FALSE(HasFatalFailure());
  gw_->Stop(SIGKILL, seconds(2));
  gw_.reset();
  const auto restart = SteadyClock::now();
  StartGateway("gw-restart.json", "gw2.log");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(t::WaitFor(
      [&] {
        return g_.Ip({"link", "show", "isec0"}).ok();
      },
      seconds(5), milliseconds(5)));
  ASSERT_TRUE(g_.Ip({"route", "add", "10.2.0.1/32", "dev", "isec0"}).ok());
  std::optional<double> child_up_ms;
  const bool up = t::WaitFor(
      [&] {
        const json sas = Query(socket_, "sas");
        if (sas.contains("child_sas") && sas["child_sas"].size() == 2) {
          child_up_ms = MsSince(restart);
          return true;
        }
        return false;
      },
      seconds(10), milliseconds(5));
  ASSERT_TRUE(up) << "no Child SA after the restart";
  std::optional<double> restored_ms;
  ASSERT_TRUE(t::WaitFor(
      [&] {
        const json c = Query(socket_, "counters");
        if (Num(c, "datapath", "rx_decrypted") > 0) restored_ms = MsSince(restart);
        return restored_ms.has_value();
      },
      seconds(10), milliseconds(5)))
      << "no ESP from charon decrypted after the restart";
  EXPECT_TRUE(PingFromGateway());

  const json c = Query(socket_, "counters");
  const json status = Query(socket_, "status");
  std::printf(
      "[ metric ] strongSwan peer, inlinesecd SIGKILL + restart: Child SA up %.1f ms, traffic "
      "restored %.1f ms after the restart (target < 1000 ms)\n",
      *child_up_ms, *restored_ms);
  std::printf("[ info ] decisions: %s\n", status["recent_decisions"].dump().c_str());
  EXPECT_GE(Num(c, "recovery", "initiate"), 1u) << "decision 3 did not initiate";
  EXPECT_EQ(Num(c, "recovery", "notify"), 0u);
  EXPECT_LT(*restored_ms, 1000.0);
  const std::string log = Slurp(dir_.path + "/gw2.log");
  EXPECT_NE(log.find("-> initiate"), std::string::npos) << "no one-line decision in the log";
  // charon dropped the stale SAs on INITIAL_CONTACT: one IKE SA, one Child SA.
  EXPECT_TRUE(t::WaitFor(
      [&] {
        auto sas = sw_->ListSas();
        auto children = sw_->InstalledChildren();
        return sas.ok() && sas->size() == 1 && children.ok() && *children == 1;
      },
      seconds(5), milliseconds(50)))
      << "charon kept stale SAs";
}

// Scenario 2: the gateway loses one inbound Child SA silently (gone from
// the engine and the shadow, as if expired unnoticed) while charon keeps
// sending on it. The SPI miss finds an IKE SA with the peer: decision 2
// sends a protected INVALID_SPI (charon ignores it) and, the SPI being
// ours, a Delete for the Child SA (charon honours it); the connection
// wants the Child SA up, so the gateway creates it again.
TEST_F(RecoveryStrongswan, LostChildSaRecoveredByDeleteAndRecreate) {
  const json sas0 = Query(socket_, "sas");
  StartStream("0.01", 1000);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(
      t::WaitFor([&] { return Num(Query(socket_, "counters"), "datapath", "rx_decrypted") >= 5; },
                 seconds(5), milliseconds(10)));
  Result<ControlReply> f = ControlCall(socket_, {"fault", "lose-child"});
  ASSERT_TRUE(f.ok() && f->ok) << (f.ok() ? f->error : f.status().ToString());
  json fault;
  ASSERT_TRUE(t::WaitFor(
      [&] {
        const json st = Query(socket_, "status");
        if (!st.contains("last_fault") || !st["last_fault"].contains("restored_after_ms"))
          return false;
        fault = st["last_fault"];
        return true;
      },
      seconds(5), milliseconds(5)))
      << "traffic not restored after the lost Child SA";
  std::printf(
      "[ metric ] strongSwan peer, lost inbound Child SA: %s (target: restored < 1000 ms)\n",
      fault.dump().c_str());
  EXPECT_LT(fault["restored_after_ms"].get<double>(), 1000.0);
  EXPECT_EQ(fault.value("decision", ""), "notify-invalid-spi");
  const json c = Query(socket_, "counters");
  EXPECT_GE(Num(c, "recovery", "notify_with_delete"), 1u);
  EXPECT_EQ(Num(c, "recovery", "resync"), 0u);
  EXPECT_EQ(Num(c, "recovery", "initiate"), 0u);
  EXPECT_TRUE(PingFromGateway());
  const json sas = Query(socket_, "sas");
  ASSERT_EQ(sas["child_sas"].size(), 2u);
  EXPECT_NE(sas["child_sas"][0]["spi"], sas0["child_sas"][0]["spi"]) << "same Child SA as before";
  ASSERT_EQ(sas["ike_sas"].size(), 1u);
  auto children = sw_->InstalledChildren();
  ASSERT_TRUE(children.ok());
  EXPECT_EQ(*children, 1) << "charon kept the deleted Child SA";
  const std::string log = Slurp(dir_.path + "/gw.log");
  EXPECT_NE(log.find("-> notify"), std::string::npos) << "no one-line decision in the log";
}

// Scenario 4: charon crashes (SIGKILL) while the gateway sends through the
// tunnel. TrafficWatch sees outbound flowing and inbound stalled and has a
// DPD sent long before the periodic one; charon comes back with
// start_action=start and initiates with INITIAL_CONTACT, and the gateway
// drops the stale IKE and Child SAs at once.
TEST_F(RecoveryStrongswan, PeerRestartDetectedAndStaleSasDropped) {
  StartStream("0.01", 2000, /*from_gateway=*/true);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(
      t::WaitFor([&] { return Num(Query(socket_, "counters"), "datapath", "rx_decrypted") >= 5; },
                 seconds(5), milliseconds(10)));
  const json sas0 = Query(socket_, "sas");
  ASSERT_EQ(sas0["ike_sas"].size(), 1u);
  const auto old_ike = sas0["ike_sas"][0]["id"];
  sw_->Stop(SIGKILL);
  const auto crash = SteadyClock::now();
  std::optional<double> detect_ms;
  ASSERT_TRUE(t::WaitFor(
      [&] {
        if (Num(Query(socket_, "counters"), "recovery", "liveness_checks") == 0) return false;
        detect_ms = MsSince(crash);
        return true;
      },
      seconds(5), milliseconds(10)))
      << "no liveness check while the peer was silent";
  EXPECT_NE(Slurp(dir_.path + "/gw.log").find("liveness: "), std::string::npos);

  sw_.reset();
  auto sw = t::StrongswanPeer::Start(s_, dir_.path + "/sw2", seconds(10));
  ASSERT_TRUE(sw.ok()) << sw.status().ToString();
  sw_ = std::move(*sw);
  const auto restart = SteadyClock::now();
  const std::uint64_t rx0 = Num(Query(socket_, "counters"), "datapath", "rx_decrypted");
  LoadCharon("start");
  ASSERT_FALSE(HasFatalFailure());
  std::optional<double> restored_ms;
  ASSERT_TRUE(t::WaitFor(
      [&] {
        if (Num(Query(socket_, "counters"), "datapath", "rx_decrypted") <= rx0) return false;
        restored_ms = MsSince(restart);
        return true;
      },
      seconds(10), milliseconds(5)))
      << "traffic not restored after charon came back";
  const json sas = Query(socket_, "sas");
  std::printf(
      "[ metric ] strongSwan peer SIGKILL: liveness check %.1f ms after the crash; after "
      "charon's restart traffic restored in %.1f ms\n",
      *detect_ms, *restored_ms);
  std::printf("[ info ] gateway SAs: %s\n", sas["ike_sas"].dump().c_str());
  ASSERT_EQ(sas["ike_sas"].size(), 1u) << "stale IKE SA kept";
  EXPECT_NE(sas["ike_sas"][0]["id"], old_ike);
  EXPECT_EQ(sas["child_sas"].size(), 2u);
  EXPECT_LT(*detect_ms, 3000.0);
  EXPECT_LT(*restored_ms, 3000.0);
  EXPECT_TRUE(PingFromGateway());
}

// Scenario 5: random-SPI ESP in UDP 4500 from 100 spoofed sources at about
// ten times the good packet rate, while a ping stream crosses the tunnel.
TEST_F(RecoveryStrongswan, RandomSpiFloodLeavesTunnelAndIkeAlone) {
  const json before = Query(socket_, "counters");
  StartStream("0.01", 300);  // 100 packets/s each way for 3 s
  ASSERT_FALSE(HasFatalFailure());
  const std::string flood = R"PY(
import os, random, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
dst, rate, secs = "192.168.79.1", 2000, 2.0
n, t0 = 0, time.time()
while time.time() - t0 < secs:
    src = "192.168.79.%d" % random.randint(100, 199)
    esp = struct.pack("!II", random.randint(256, 2**32 - 1), 1) + os.urandom(56)
    udp = struct.pack("!HHHH", random.randint(1024, 65535), 4500, 8 + len(esp), 0) + esp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    s.sendto(ip + udp, (dst, 0)); n += 1
    ahead = n / rate - (time.time() - t0)
    if ahead > 0: time.sleep(ahead)
print(n)
)PY";
  std::ofstream(dir_.path + "/flood.py") << flood;
  std::string out;
  ASSERT_EQ(s_.Run({"python3", dir_.path + "/flood.py"}, &out), 0) << out;
  const std::uint64_t sent = std::stoull(out);
  ASSERT_EQ(stream_->Wait(seconds(10)), 0) << Slurp(dir_.path + "/stream.log");
  stream_.reset();
  EXPECT_TRUE(PingFromGateway());

  const json after = Query(socket_, "counters");
  const json sas = Query(socket_, "sas");
  const std::string summary = Slurp(dir_.path + "/stream.log");
  const std::size_t at = summary.find(" packets transmitted");
  const std::string line =
      at == std::string::npos ? summary : summary.substr(summary.rfind('\n', at) + 1);
  std::printf("[ metric ] strongSwan peer, %llu random-SPI packets from 100 sources: stream %s\n",
              static_cast<unsigned long long>(sent), line.substr(0, line.find('\n')).c_str());
  std::printf("[ info ] recovery: %s\n", after["recovery"].dump().c_str());
  EXPECT_NE(summary.find(" 0% packet loss"), std::string::npos) << summary;
  // Every flood packet reached the engine, failed, and was counted.
  const std::uint64_t failed =
      Num(after, "datapath", "rx_failed") - Num(before, "datapath", "rx_failed");
  EXPECT_EQ(failed, sent);
  const std::uint64_t events =
      Num(after, "exceptions", "entries") - Num(before, "exceptions", "entries") +
      Num(after, "exceptions", "overflow_dropped") - Num(before, "exceptions", "overflow_dropped");
  EXPECT_EQ(events, sent);
  EXPECT_EQ(Num(after, "recovery", "drop_unknown") - Num(before, "recovery", "drop_unknown") +
                Num(after, "recovery", "aggregated") - Num(before, "recovery", "aggregated") +
                Num(after, "recovery", "suppressed") - Num(before, "recovery", "suppressed"),
            sent);
  EXPECT_EQ(Num(after, "recovery", "notify"), 0u);
  EXPECT_EQ(Num(after, "recovery", "initiate"), 0u);
  EXPECT_EQ(Num(after, "recovery", "unprotected_notify"), 0u);
  ASSERT_EQ(sas["ike_sas"].size(), 1u);
  EXPECT_EQ(sas["ike_sas"][0]["state"], "established");
  auto children = sw_->InstalledChildren();
  ASSERT_TRUE(children.ok());
  EXPECT_EQ(*children, 1);
}

}  // namespace
}  // namespace inlinesec::gateway
