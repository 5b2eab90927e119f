// Recovery scenarios between two inlinesecd gateways keyed by their own
// IKEv2 stacks (no static keys), each in its own network namespace, with a
// 100/s ping stream from A to B crossing both engine models while B takes
// the fault: engine reset (resync, no IKE message), one inbound Child SA
// lost silently (decision 2: INVALID_SPI plus Delete, Child SA created
// again), B killed with SIGKILL and restarted with all state lost
// (decision 3: B initiates with INITIAL_CONTACT on A's first ESP, A drops
// its stale SAs). Root only; skips with the reason otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gateway_test_util.h"
#include "inlinesec/gateway/control.h"
#include "inlinesec/ike/sa/ike_sa.h"
#include "netns.h"
#include "process.h"
#include "wait.h"

namespace inlinesec::gateway {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace t = inlinesec::testing;

// Gateway A: 192.168.81.1, 10.1.0.0/24 behind it; B: 192.168.81.2,
// 10.2.0.0/24. A initiates at start; B only responds (and, restarted,
// initiates only through the recovery engine).
class IkePair : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = t::TunTestUnavailableReason(t::NetNsUnavailableReason(), {"ping"});
    if (!why.empty()) GTEST_SKIP() << why;
    auto a = t::NetNs::Create(t::UniqueNsName("ipa"));
    auto b = t::NetNs::Create(t::UniqueNsName("ipb"));
    ASSERT_TRUE(a.ok() && b.ok());
    a_ = std::move(*a);
    b_ = std::move(*b);
    ASSERT_TRUE(
        t::AddVethPair(a_, "veth-a", "192.168.81.1/24", b_, "veth-b", "192.168.81.2/24").ok());
    dir_.path = "/tmp/" + t::UniqueNsName("ipair");
    std::filesystem::create_directories(dir_.path);
    WriteConfigs("a", "192.168.81.1", "192.168.81.2", "10.1.0.0/24", "10.2.0.0/24", "10.1.0.1/24",
                 true);
    WriteConfigs("b", "192.168.81.2", "192.168.81.1", "10.2.0.0/24", "10.1.0.0/24", "10.2.0.1/24",
                 false);
    StartB("b.log");
    ASSERT_FALSE(HasFatalFailure());
    // B answers on its control socket once its IKE port is bound: A's first
    // IKE_SA_INIT must not be lost (its retransmission comes 4 s later).
    ASSERT_TRUE(t::WaitFor([&] { return !Query(sock("b"), "status").empty(); }, seconds(5),
                           milliseconds(5)))
        << "B did not start";
    auto d = t::Process::Spawn(a_.Exec({INLINESECD_PATH, "-c", dir_.path + "/a.json"}), {},
                               dir_.path + "/a.log");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    gw_a_.emplace(std::move(*d));
    ASSERT_TRUE(t::WaitFor([&] { return ChildUp(sock("a")) && ChildUp(sock("b")); }, seconds(15),
                           milliseconds(10)))
        << "tunnel not up";
    ASSERT_TRUE(a_.Ip({"route", "add", "10.2.0.0/24", "dev", "isec0"}).ok());
    ASSERT_TRUE(b_.Ip({"route", "add", "10.1.0.0/24", "dev", "isec0"}).ok());
    ASSERT_TRUE(t::WaitFor([&] { return Ping(); }, seconds(5), milliseconds(20)));
  }

  void TearDown() override {
    // The daemons' logs: on failure, or always with IKEPAIR_LOGS set.
    if (HasFailure() || std::getenv("IKEPAIR_LOGS") != nullptr) {
      for (const char* log : {"/a.log", "/b.log", "/b2.log"})
        std::fprintf(stderr, "--- %s ---\n%s\n", log, Slurp(dir_.path + log).c_str());
    }
    if (stream_) stream_->Stop(SIGINT, seconds(2));
    if (gw_a_) gw_a_->Stop(SIGTERM, seconds(3));
    if (gw_b_) gw_b_->Stop(SIGTERM, seconds(3));
  }

  std::string sock(const char* tag) const { return dir_.path + "/" + tag + ".sock"; }

  static bool ChildUp(const std::string& socket) {
    const json sas = Query(socket, "sas");
    return sas.contains("child_sas") && sas["child_sas"].size() == 2;
  }

  bool Ping() { return a_.Run({"ping", "-c", "1", "-W", "1", "-I", "10.1.0.1", "10.2.0.1"}) == 0; }

  void WriteConfigs(const std::string& tag, const std::string& local, const std::string& peer,
                    const std::string& lts, const std::string& rts, const std::string& tun,
                    bool initiate) {
    const std::string other = tag == "a" ? "b" : "a";
    const json ike = {{"connections",
                       {{{"name", "peer"},
                         {"local", local},
                         {"remote", peer},
                         {"local_id", tag + "@test"},
                         {"remote_id", other + "@test"},
                         {"psk", "0x" + std::string(64, 'c')},
                         {"ike_proposals", {"aes256gcm16-prfsha256-x25519"}},
                         {"static_peer", true},
                         {"dpd_interval", dpd_interval_},
                         {"children",
                          {{{"name", "c"},
                            {"local_ts", {lts}},
                            {"remote_ts", {rts}},
                            {"esp_proposals", {"aes256gcm16-noesn"}}}}}}}}};
    std::ofstream(dir_.path + "/" + tag + "-ike.json") << ike.dump(2);
    for (const auto& [name, init] :
         {std::pair{tag + ".json", initiate}, std::pair{tag + "-passive.json", false},
          std::pair{tag + "-active.json", true}}) {
      json gw = {{"control_socket", sock(tag.c_str())},
                 {"allow_faults", true},
                 {"local_address", local},
                 {"tun", {{"name", "isec0"}, {"address", tun}}},
                 {"housekeeping_ms", 20},
                 {"ike_config", dir_.path + "/" + tag + "-ike.json"},
                 {"connections",
                  {{{"name", "peer"},
                    {"peer", peer},
                    {"static_peer", true},
                    {"initiate", init},
                    {"local_ts", {lts}},
                    {"remote_ts", {rts}}}}}};
      if (tag == "a" && !recovery_a_.empty()) gw["recovery"] = recovery_a_;
      std::ofstream(dir_.path + "/" + name) << gw.dump(2);
    }
  }

  void StartB(const std::string& log) {
    auto d = t::Process::Spawn(b_.Exec({INLINESECD_PATH, "-c", dir_.path + "/b.json"}), {},
                               dir_.path + "/" + log);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    gw_b_.emplace(std::move(*d));
  }

  // A 100/s ping stream from A to B through the tunnel (`count` packets).
  // Starts B again after it was killed, from its config variant `variant`
  // ("passive": waits for recovery; "active": initiates), and routes A's
  // network into B's new TUN.
  void RestartB(const char* variant) {
    std::filesystem::copy_file(dir_.path + "/b-" + variant + ".json", dir_.path + "/b.json",
                               std::filesystem::copy_options::overwrite_existing);
    StartB("b2.log");
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(t::WaitFor(
        [&] {
          return b_.Ip({"link", "show", "isec0"}).ok();
        },
        seconds(5), milliseconds(5)));
    ASSERT_TRUE(b_.Ip({"route", "add", "10.1.0.0/24", "dev", "isec0"}).ok());
  }

  // Milliseconds from `t0` until `cond` held (polled every 5 ms), or none
  // if it did not within `limit`.
  static std::optional<double> MsUntil(SteadyClock::time_point t0,
                                       const std::function<bool()>& cond, seconds limit) {
    std::optional<double> ms;
    (void)t::WaitFor(
        [&] {
          if (!cond()) return false;
          ms = MsSince(t0);
          return true;
        },
        limit, milliseconds(5));
    return ms;
  }

  // Milliseconds from `t0` until `tag`'s gateway has decrypted more than
  // `above` packets (traffic restored), or none within 10 s.
  std::optional<double> MsUntilDecrypted(const char* tag, std::uint64_t above,
                                         SteadyClock::time_point t0) {
    return MsUntil(
        t0, [&] { return Num(Query(sock(tag), "counters"), "datapath", "rx_decrypted") > above; },
        seconds(10));
  }

  void StartStream(int count = 1000) {
    auto p = t::Process::Spawn(a_.Exec({"ping", "-q", "-i", "0.01", "-c", std::to_string(count),
                                        "-I", "10.1.0.1", "10.2.0.1"}),
                               {}, dir_.path + "/stream.log");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    stream_.emplace(std::move(*p));
    ASSERT_TRUE(t::WaitFor(
        [&] { return Num(Query(sock("b"), "counters"), "datapath", "rx_decrypted") >= 5; },
        seconds(5), milliseconds(10)));
  }

  // Injects `kind` at B and waits for B's timeline to show restored traffic.
  json FaultAtB(const char* kind) {
    Result<ControlReply> f = ControlCall(sock("b"), {"fault", kind});
    EXPECT_TRUE(f.ok() && f->ok) << (f.ok() ? f->error : f.status().ToString());
    json tl;
    EXPECT_TRUE(t::WaitFor(
        [&] {
          const json st = Query(sock("b"), "status");
          if (!st.contains("last_fault") || !st["last_fault"].contains("restored_after_ms"))
            return false;
          tl = st["last_fault"];
          return true;
        },
        seconds(5), milliseconds(5)))
        << "traffic not restored after " << kind;
    return tl;
  }

  // ping's summary line ("N packets transmitted, M received, L% packet loss").
  std::string StreamSummary() const {
    const std::string log = Slurp(dir_.path + "/stream.log");
    const std::size_t at = log.find(" packets transmitted");
    if (at == std::string::npos) return log;
    const std::size_t from = log.rfind('\n', at);
    const std::string line = log.substr(from == std::string::npos ? 0 : from + 1);
    return line.substr(0, line.find('\n'));
  }

  // Set by derived fixtures before SetUp: IKE's periodic DPD interval and
  // gateway A's "recovery" section.
  std::string dpd_interval_ = "30s";
  json recovery_a_;

  DirGuard dir_;
  t::NetNs a_, b_;
  std::optional<t::Process> gw_a_, gw_b_, stream_;
};

TEST_F(IkePair, EngineResetRestoredByResyncWithoutIke) {
  StartStream();
  ASSERT_FALSE(HasFatalFailure());
  const std::uint64_t ike_a = Num(Query(sock("a"), "counters"), "datapath", "ike_rx");
  const std::uint64_t ike_b = Num(Query(sock("b"), "counters"), "datapath", "ike_rx");
  const json tl = FaultAtB("reset");
  ASSERT_FALSE(tl.is_null());
  std::printf("[ metric ] inlinesec IKE pair, engine reset at B: %s (target: resync < 50 ms)\n",
              tl.dump().c_str());
  EXPECT_LT(tl["resync_after_ms"].get<double>(), 50.0);
  EXPECT_EQ(tl.value("decision", ""), "resync");
  const json cb = Query(sock("b"), "counters");
  EXPECT_EQ(Num(cb, "datapath", "ike_rx"), ike_b) << "IKE was needed";
  EXPECT_EQ(Num(Query(sock("a"), "counters"), "datapath", "ike_rx"), ike_a) << "IKE was needed";
  EXPECT_EQ(Num(cb, "recovery", "notify"), 0u);
  EXPECT_EQ(Num(cb, "recovery", "initiate"), 0u);
  EXPECT_TRUE(Ping());
}

TEST_F(IkePair, LostChildSaRestoredByNotifyAndDelete) {
  StartStream();
  ASSERT_FALSE(HasFatalFailure());
  const json tl = FaultAtB("lose-child");
  ASSERT_FALSE(tl.is_null());
  std::printf("[ metric ] inlinesec IKE pair, lost inbound Child SA at B: %s (target < 1000 ms)\n",
              tl.dump().c_str());
  EXPECT_LT(tl["restored_after_ms"].get<double>(), 1000.0);
  EXPECT_EQ(tl.value("decision", ""), "notify-invalid-spi");
  EXPECT_GE(Num(Query(sock("b"), "counters"), "recovery", "notify_with_delete"), 1u);
  EXPECT_TRUE(t::WaitFor([&] { return Ping(); }, seconds(3), milliseconds(20)));
  EXPECT_NE(Slurp(dir_.path + "/b.log").find("-> notify-invalid-spi"), std::string::npos);
}

TEST_F(IkePair, RestartedGatewayRecoversByInitialContact) {
  StartStream();
  ASSERT_FALSE(HasFatalFailure());
  gw_b_->Stop(SIGKILL, seconds(2));
  gw_b_.reset();
  // Restarted with all state lost and without "initiate": only decision 3
  // can bring the tunnel back.
  const auto restart = SteadyClock::now();
  RestartB("passive");
  ASSERT_FALSE(HasFatalFailure());
  const std::optional<double> restored_ms = MsUntilDecrypted("b", 0, restart);
  ASSERT_TRUE(restored_ms) << "no ESP from A decrypted after B's restart";
  std::printf(
      "[ metric ] inlinesec IKE pair, B SIGKILL + restart: traffic restored %.1f ms "
      "after the restart (target < 1000 ms)\n",
      *restored_ms);
  EXPECT_LT(*restored_ms, 1000.0);
  const json cb = Query(sock("b"), "counters");
  EXPECT_GE(Num(cb, "recovery", "initiate"), 1u);
  EXPECT_NE(Slurp(dir_.path + "/b2.log").find("-> initiate-initial-contact"), std::string::npos);
  // A dropped its stale IKE SA on INITIAL_CONTACT.
  EXPECT_TRUE(t::WaitFor(
      [&] {
        const json sas = Query(sock("a"), "sas");
        return sas.contains("ike_sas") && sas["ike_sas"].size() == 1 &&
               sas["child_sas"].size() == 2;
      },
      seconds(3), milliseconds(20)))
      << Query(sock("a"), "sas").dump();
  EXPECT_TRUE(t::WaitFor([&] { return Ping(); }, seconds(3), milliseconds(20)));
}

// Scenario 4: B's inlinesecd is killed (SIGKILL) while A keeps sending to
// it. A's TrafficWatch sees outbound growing and inbound stuck and has a
// DPD sent (long before the periodic one); B comes back, initiates with
// INITIAL_CONTACT as a static peer, and A drops the stale IKE and Child SAs
// in the same step that brings the new IKE SA up.
TEST_F(IkePair, PeerRestartDetectedByLivenessAndStaleSasDroppedAtOnce) {
  StartStream(2000);
  ASSERT_FALSE(HasFatalFailure());
  const json sas0 = Query(sock("a"), "sas");
  ASSERT_EQ(sas0["ike_sas"].size(), 1u);
  ASSERT_EQ(sas0["child_sas"].size(), 2u);
  const std::string old_spi_i = sas0["ike_sas"][0]["spi_i"];
  // Our inbound SPI is ours to choose; the outbound one is B's, and B,
  // restarted, may well pick the same number again.
  std::string old_in;
  for (const json& c : sas0["child_sas"])
    if (c["direction"] == "in") old_in = c["spi"];
  ASSERT_FALSE(old_in.empty());
  ASSERT_EQ(Num(Query(sock("a"), "counters"), "recovery", "liveness_checks"), 0u);

  gw_b_->Stop(SIGKILL, seconds(2));
  gw_b_.reset();
  const auto crash = SteadyClock::now();
  const std::optional<double> detect_ms = MsUntil(
      crash, [&] { return Num(Query(sock("a"), "counters"), "recovery", "liveness_checks") != 0; },
      seconds(5));
  ASSERT_TRUE(detect_ms) << "no on-demand liveness check at A while B was down";
  EXPECT_NE(Slurp(dir_.path + "/a.log").find("liveness: peer sends on"), std::string::npos);
  // Still the old SAs: the DPD has not timed out (that takes many seconds).
  ASSERT_EQ(Query(sock("a"), "sas")["ike_sas"][0]["spi_i"], old_spi_i);

  // B restarts with all state lost and initiates itself (static peer).
  const json a0 = Query(sock("a"), "counters");
  const std::uint64_t rx0 = Num(a0, "datapath", "rx_decrypted");
  const auto restart = SteadyClock::now();
  RestartB("active");
  ASSERT_FALSE(HasFatalFailure());

  // The first view of A with the new IKE SA established must already be
  // without the old IKE SA and the old Child SAs.
  json first_new;
  std::optional<double> new_ike_ms;
  ASSERT_TRUE(t::WaitFor(
      [&] {
        const json sas = Query(sock("a"), "sas");
        if (!sas.contains("ike_sas")) return false;
        for (const json& i : sas["ike_sas"]) {
          if (i["spi_i"] != old_spi_i && i["state"] == "established") {
            new_ike_ms = MsSince(restart);
            first_new = sas;
            return true;
          }
        }
        return false;
      },
      seconds(10), milliseconds(2)))
      << "B's new IKE SA never came up at A";
  for (const json& i : first_new["ike_sas"])
    EXPECT_NE(i["spi_i"], old_spi_i) << "stale IKE SA kept next to the new one: " << first_new;
  for (const json& c : first_new["child_sas"]) {
    if (c["direction"] == "in") {
      EXPECT_NE(c["spi"], old_in) << "stale Child SA kept: " << first_new;
    }
  }
  EXPECT_NE(Slurp(dir_.path + "/a.log").find("Child SA down: peer/c in " + old_in),
            std::string::npos);
  EXPECT_NE(Slurp(dir_.path + "/a.log")
                .find(std::string("(") + ike::DownReasonName(ike::DownReason::kReplaced) + ")"),
            std::string::npos)
      << "A's old IKE SA did not go down as replaced (INITIAL_CONTACT)";

  const std::optional<double> restored_ms = MsUntilDecrypted("a", rx0, restart);
  ASSERT_TRUE(restored_ms) << "traffic not restored after B's restart";
  const double fault_to_restored = MsSince(crash) - (MsSince(restart) - *restored_ms);
  std::printf(
      "[ metric ] inlinesec IKE pair, B SIGKILL: A's liveness check %.1f ms after the crash; "
      "after B's restart new IKE SA at A (stale SAs gone) %.1f ms, traffic restored %.1f ms "
      "(fault to restored %.1f ms, B down on purpose until the check)\n",
      *detect_ms, *new_ike_ms, *restored_ms, fault_to_restored);
  EXPECT_LT(*detect_ms, 3000.0);
  EXPECT_LT(*restored_ms, 3000.0);
  const json sas = Query(sock("a"), "sas");
  EXPECT_EQ(sas["ike_sas"].size(), 1u) << sas;
  EXPECT_EQ(sas["child_sas"].size(), 2u) << sas;
  EXPECT_TRUE(t::WaitFor([&] { return Ping(); }, seconds(3), milliseconds(20)));
}

// Scenario 5 between two IKE-keyed gateways: ESP in UDP with random SPIs at
// A from 100 spoofed sources plus the real peer's address, at 20 times the
// rate of the ping replies A receives, while A rekeys its IKE SA. The
// counted stream loses nothing, the IKE exchange completes during the
// flood, no liveness check is triggered, notifies to the real peer stay
// within the per-peer limit (and B receives exactly those), nobody is
// initiated with, and every flood packet is accounted for per reason.
TEST_F(IkePair, RandomSpiFloodLeavesTunnelIkeAndLivenessAlone) {
  FdGuard raw{SocketIn(b_.name(), AF_INET, SOCK_RAW, IPPROTO_RAW)};
  ASSERT_GE(raw.fd, 0);
  const json a0 = Query(sock("a"), "counters");
  const json b0 = Query(sock("b"), "counters");
  const std::string ike0 = Query(sock("a"), "sas")["ike_sas"][0]["spi_i"];
  StartStream(300);  // 100/s each way for 3 s
  ASSERT_FALSE(HasFatalFailure());

  constexpr int kRate = 2000;  // per second, for 2 s
  constexpr auto kFloodFor = milliseconds(2000);
  std::atomic<bool> flood_on{true};
  std::atomic<std::uint64_t> flood_sent{0}, from_peer{0};
  std::thread flood([&] {
    std::mt19937 rng(11);
    const sockaddr_in dst = Addr("192.168.81.1", 4500);
    const auto start = SteadyClock::now();
    for (std::uint64_t n = 0; SteadyClock::now() - start < kFloodFor; ++n) {
      // One in ten from B's own address: a peer with an IKE SA (decision 2).
      const bool peer = n % 10 == 0;
      const std::uint32_t src = peer ? 0xC0A85102u : 0xC0A85100u | (100 + rng() % 100);
      const auto sport = static_cast<std::uint16_t>(peer ? 4500 : 1024 + rng() % 60000);
      const auto pkt = SpoofedEspInUdp(src, dst, sport, RandomSpi(rng), rng);
      if (sendto(raw.fd, pkt.data(), pkt.size(), 0, reinterpret_cast<const sockaddr*>(&dst),
                 sizeof(dst)) > 0) {
        ++flood_sent;
        from_peer += peer;
      }
      std::this_thread::sleep_until(start + std::chrono::microseconds(1'000'000 / kRate * (n + 1)));
    }
    flood_on = false;
  });
  // An IKE exchange (IKE SA rekey) started and completed under the flood.
  const bool flooding =
      t::WaitFor([&] { return Num(Query(sock("a"), "counters"), "datapath", "rx_failed") >= 100; },
                 seconds(2), milliseconds(5));
  Result<ControlReply> rk = ControlCall(sock("a"), {"ike", "rekey-ike"});
  const bool rekeyed = t::WaitFor(
      [&] {
        const json sas = Query(sock("a"), "sas");
        return sas.contains("ike_sas") && sas["ike_sas"].size() == 1 &&
               sas["ike_sas"][0]["spi_i"] != ike0 && sas["ike_sas"][0]["state"] == "established";
      },
      seconds(2), milliseconds(5));
  const bool rekeyed_during_flood = flood_on;
  flood.join();
  ASSERT_TRUE(flooding) << "the flood did not reach A";
  EXPECT_TRUE(rk.ok() && rk->ok);
  EXPECT_TRUE(rekeyed) << "IKE SA rekey did not complete under the flood";
  EXPECT_TRUE(rekeyed_during_flood) << "the rekey completed only after the flood";

  ASSERT_EQ(stream_->Wait(seconds(10)), 0) << Slurp(dir_.path + "/stream.log");
  stream_.reset();
  const std::string summary = StreamSummary();

  // Wait until A has taken every failed packet off the exception ring, and
  // B has received every notify A sent.
  const auto delta = [](const json& after, const json& before, const char* sec, const char* key) {
    return Num(after, sec, key) - Num(before, sec, key);
  };
  json a1, b1;
  EXPECT_TRUE(t::WaitFor(
      [&] {
        a1 = Query(sock("a"), "counters");
        b1 = Query(sock("b"), "counters");
        const std::uint64_t ring = delta(a1, a0, "exceptions", "entries") +
                                   delta(a1, a0, "exceptions", "overflow_dropped");
        return ring == delta(a1, a0, "datapath", "rx_failed") &&
               delta(a1, a0, "recovery", "events") == delta(a1, a0, "exceptions", "spi_miss") &&
               delta(b1, b0, "recovery", "protected_invalid_spi_received") ==
                   delta(a1, a0, "recovery", "notify");
      },
      seconds(5), milliseconds(10)))
      << "A: " << a1.dump() << "\nB: " << b1.dump();
  const std::uint64_t sent = flood_sent, failed = delta(a1, a0, "datapath", "rx_failed");
  const std::uint64_t events = delta(a1, a0, "recovery", "events");
  const std::uint64_t notify = delta(a1, a0, "recovery", "notify");
  std::printf(
      "[ metric ] inlinesec IKE pair, %llu random-SPI packets in %.1f s (%llu from the peer's "
      "address) at 20x the good rate: stream %s; A rx_failed %llu, recovery %s\n",
      static_cast<unsigned long long>(sent), std::chrono::duration<double>(kFloodFor).count(),
      static_cast<unsigned long long>(from_peer.load()), summary.c_str(),
      static_cast<unsigned long long>(failed), a1["recovery"].dump().c_str());

  EXPECT_NE(summary.find(" 0% packet loss"), std::string::npos) << summary;
  // Every packet the kernel delivered failed in the engine and became an
  // event (or a counted ring overflow); every event got a counted outcome.
  EXPECT_GE(static_cast<double>(failed), 0.95 * static_cast<double>(sent));
  EXPECT_LE(failed, sent);
  EXPECT_EQ(events, delta(a1, a0, "exceptions", "spi_miss"));
  EXPECT_EQ(delta(a1, a0, "recovery", "drop_unknown") + notify +
                delta(a1, a0, "recovery", "rate_limited_notify") +
                delta(a1, a0, "recovery", "action_failed") +
                delta(a1, a0, "recovery", "aggregated") + delta(a1, a0, "recovery", "suppressed"),
            events)
      << a1["recovery"].dump();
  // Decision 2 for the peer's address, under the default per-peer limit (1/s,
  // burst 2): at most 2 + 1 per started second of flood and drain.
  EXPECT_GE(notify, 1u);
  EXPECT_LE(notify, 2u + 4u);
  EXPECT_GE(delta(a1, a0, "recovery", "rate_limited_notify"), from_peer.load() / 2);
  EXPECT_EQ(delta(b1, b0, "recovery", "protected_invalid_spi_received"), notify);
  EXPECT_EQ(delta(a1, a0, "recovery", "initiate"), 0u);
  EXPECT_EQ(delta(a1, a0, "recovery", "unprotected_notify"), 0u);
  EXPECT_EQ(delta(a1, a0, "recovery", "resync"), 0u);
  EXPECT_EQ(delta(a1, a0, "recovery", "liveness_checks"), 0u) << "a false liveness alarm at A";
  EXPECT_EQ(delta(b1, b0, "recovery", "liveness_checks"), 0u) << "a false liveness alarm at B";
  const json sas = Query(sock("a"), "sas");
  ASSERT_EQ(sas["ike_sas"].size(), 1u);
  EXPECT_EQ(sas["ike_sas"][0]["state"], "established");
  EXPECT_EQ(sas["child_sas"].size(), 2u);
  EXPECT_TRUE(Ping());
}

// Decision 2 when A's IKE stack already forgot the Child SA: B deletes it,
// A removes its side and answers, the answer is lost (a blackhole route at
// A), so B keeps its outbound SA (its Delete still waiting) and goes on
// sending on it. A's SPI misses get INVALID_SPI + Delete by SPI; B drops its
// outbound SA and A creates the Child SA again.
TEST_F(IkePair, ForgottenChildSaDeletedBySpiAndRecreated) {
  const json b_sas = Query(sock("b"), "sas");
  std::string b_in;
  for (const json& c : b_sas["child_sas"])
    if (c["direction"] == "in") b_in = c["spi"];
  ASSERT_FALSE(b_in.empty());
  ASSERT_TRUE(a_.Ip({"route", "add", "blackhole", "192.168.81.2/32"}).ok());
  Result<ControlReply> del = ControlCall(sock("b"), {"ike", "delete-child"});
  ASSERT_TRUE(del.ok() && del->ok);
  ASSERT_TRUE(t::WaitFor([&] { return Query(sock("a"), "sas")["child_sas"].empty(); }, seconds(3),
                         milliseconds(5)))
      << "A did not remove the Child SA";
  ASSERT_TRUE(a_.Ip({"route", "del", "blackhole", "192.168.81.2/32"}).ok());
  ASSERT_EQ(Query(sock("b"), "sas")["child_sas"].size(), 2u) << "B should still hold it";

  const json a0 = Query(sock("a"), "counters");
  const std::uint64_t rx0 = Num(a0, "datapath", "rx_decrypted");
  auto p = t::Process::Spawn(
      b_.Exec({"ping", "-q", "-i", "0.01", "-c", "500", "-I", "10.2.0.1", "10.1.0.1"}), {},
      dir_.path + "/stream.log");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  stream_.emplace(std::move(*p));
  // From A's first failed packet (B's first ESP on the old SA).
  ASSERT_TRUE(t::WaitFor(
      [&] {
        return Num(Query(sock("a"), "counters"), "datapath", "rx_failed") >
               Num(a0, "datapath", "rx_failed");
      },
      seconds(5), milliseconds(2)));
  const auto first_miss = SteadyClock::now();
  const std::optional<double> restored_ms = MsUntilDecrypted("a", rx0, first_miss);
  ASSERT_TRUE(restored_ms) << "no ESP from B decrypted at A again";
  std::printf(
      "[ metric ] inlinesec IKE pair, Child SA forgotten by A's IKE while B sends: traffic "
      "restored %.1f ms after A's first SPI miss\n",
      *restored_ms);
  EXPECT_LT(*restored_ms, 1000.0);
  EXPECT_NE(
      Slurp(dir_.path + "/a.log").find("IKE holds no Child SA for it: INVALID_SPI and Delete"),
      std::string::npos);
  EXPECT_GE(Num(Query(sock("a"), "counters"), "recovery", "notify_with_delete"), 1u);
  // B dropped the old Child SA on A's Delete (its own Delete was never
  // answered), and holds the new one.
  EXPECT_NE(Slurp(dir_.path + "/b.log").find("Child SA down: peer/c in " + b_in),
            std::string::npos);
  EXPECT_EQ(Query(sock("b"), "sas")["child_sas"].size(), 2u);
}

// The hint side (RFC 7296 §1.5): an unprotected INVALID_SPI from the peer's
// address only starts a liveness check; the SAs stay as they are.
TEST_F(IkePair, UnprotectedInvalidSpiFromPeerOnlyStartsALivenessCheck) {
  const json sas0 = Query(sock("b"), "sas");
  const json b0 = Query(sock("b"), "counters");
  // From A's address (not its IKE port, which A's daemon holds) to B's 500.
  FdGuard u{SocketIn(a_.name(), AF_INET, SOCK_DGRAM, 0)};
  ASSERT_GE(u.fd, 0);
  const sockaddr_in from = Addr("192.168.81.1", 0), to = Addr("192.168.81.2", 500);
  ASSERT_EQ(bind(u.fd, reinterpret_cast<const sockaddr*>(&from), sizeof(from)), 0);
  const std::string spi_out = sas0["child_sas"][1]["spi"];  // B's outbound SPI
  const std::uint32_t spi = std::stoul(spi_out, nullptr, 16);
  std::uint8_t msg[40] = {0x5e, 0xc1, 0, 0, 0, 0, 0, 1};  // SPIi; SPIr zero
  msg[16] = 41;                                           // Notify
  msg[17] = 0x20;                                         // IKEv2
  msg[18] = 37;                                           // INFORMATIONAL
  msg[19] = 0x08;                                         // Initiator
  msg[27] = 40;                                           // length
  msg[31] = 12;                                           // Notify payload length
  msg[35] = 11;                                           // INVALID_SPI
  for (int i = 0; i < 4; ++i) msg[36 + i] = static_cast<std::uint8_t>(spi >> (24 - 8 * i));
  ASSERT_EQ(sendto(u.fd, msg, sizeof(msg), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)),
            static_cast<ssize_t>(sizeof(msg)));
  ASSERT_TRUE(t::WaitFor(
      [&] {
        return Num(Query(sock("b"), "counters"), "recovery", "unprotected_invalid_spi_received") ==
               Num(b0, "recovery", "unprotected_invalid_spi_received") + 1;
      },
      seconds(3), milliseconds(5)));
  const json b1 = Query(sock("b"), "counters");
  EXPECT_EQ(Num(b1, "recovery", "liveness_checks"), Num(b0, "recovery", "liveness_checks") + 1);
  EXPECT_EQ(Num(b1, "recovery", "protected_invalid_spi_received"),
            Num(b0, "recovery", "protected_invalid_spi_received"));
  // The DPD is answered; nothing was deleted or re-keyed.
  EXPECT_TRUE(t::WaitFor(
      [&] {
        // the hint itself, then the answer to the DPD
        return Num(Query(sock("b"), "counters"), "datapath", "ike_rx") >=
               Num(b0, "datapath", "ike_rx") + 2;
      },
      seconds(3), milliseconds(5)));
  const json sas1 = Query(sock("b"), "sas");
  EXPECT_EQ(sas1["ike_sas"], sas0["ike_sas"]);
  EXPECT_EQ(sas1["child_sas"][0]["spi"], sas0["child_sas"][0]["spi"]);
  EXPECT_EQ(sas1["child_sas"][1]["spi"], sas0["child_sas"][1]["spi"]);
  EXPECT_TRUE(Ping());
}

// Bad-SPI ESP in UDP from a source with no IKE SA and no configuration
// (decision 4): 20 packets, each with its own SPI, from one UDP socket in
// namespace `ns` that also collects whatever comes back.
struct UnknownSource {
  // Adds `from_ip` to `dev` in `ns` so that answers can reach it.
  UnknownSource(t::NetNs& ns, const char* dev, const char* from_ip) {
    if (!ns.Ip({"addr", "add", std::string(from_ip) + "/24", "dev", dev}).ok()) return;
    u.fd = SocketIn(ns.name(), AF_INET, SOCK_DGRAM, 0);
    const sockaddr_in from = Addr(from_ip, 4777);
    ok = u.fd >= 0 && bind(u.fd, reinterpret_cast<const sockaddr*>(&from), sizeof(from)) == 0;
  }
  void Send(const char* to_ip) {
    const sockaddr_in to = Addr(to_ip, 4500);
    std::mt19937 rng(5);
    for (int i = 0; i < 20; ++i) {
      std::uint8_t esp[64];
      for (std::uint8_t& b : esp) b = static_cast<std::uint8_t>(rng());
      const std::uint32_t spi = RandomSpi(rng);
      spis.push_back(spi);
      const std::uint32_t nspi = htonl(spi);
      std::memcpy(esp, &nspi, 4);
      (void)sendto(u.fd, esp, sizeof(esp), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    }
  }
  // Moves what has arrived so far into `got`; returns its size.
  std::size_t Drain() {
    std::uint8_t buf[512];
    for (ssize_t n; (n = recv(u.fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0;)
      got.emplace_back(buf, buf + n);
    return got.size();
  }
  FdGuard u;
  bool ok = false;
  std::vector<std::uint32_t> spis;
  std::vector<std::vector<std::uint8_t>> got;
};

// Decision 4 with the unprotected INVALID_SPI enabled at A, limited to 3
// per minute globally: 20 bad SPIs from an unknown source get exactly 3
// notifies back (RFC 7296 §1.5 layout, behind the non-ESP marker, to the
// source's port); the rest are counted as rate-limited drops.
class IkePairUnprotectedNotify : public IkePair {
 protected:
  IkePairUnprotectedNotify() {
    recovery_a_ = {{"unprotected_notify", true},
                   {"unprotected_global", {{"count", 3}, {"per_ms", 60000}, {"burst", 3}}}};
  }
};

TEST_F(IkePairUnprotectedNotify, UnknownSourceGetsExactlyTheRateLimitedNumberOfNotifies) {
  const json a0 = Query(sock("a"), "counters");
  UnknownSource src(b_, "veth-b", "192.168.81.50");
  ASSERT_TRUE(src.ok);
  src.Send("192.168.81.1");
  // All 20 decided (each notify is sent before its decision is counted),
  // and the notifies arrived.
  json a1;
  ASSERT_TRUE(t::WaitFor(
      [&] {
        a1 = Query(sock("a"), "counters");
        const std::uint64_t decided =
            Num(a1, "recovery", "drop_unknown") + Num(a1, "recovery", "unprotected_notify");
        return decided == Num(a0, "recovery", "drop_unknown") +
                              Num(a0, "recovery", "unprotected_notify") + 20 &&
               src.Drain() >= 3;
      },
      seconds(3), milliseconds(5)))
      << a1.dump() << " received " << src.got.size();
  src.Drain();
  const auto& got = src.got;
  const auto& spis = src.spis;
  std::printf("[ info ] A recovery after 20 bad SPIs from an unknown source: %s\n",
              a1["recovery"].dump().c_str());
  EXPECT_EQ(Num(a1, "recovery", "unprotected_notify") - Num(a0, "recovery", "unprotected_notify"),
            3u);
  EXPECT_EQ(Num(a1, "recovery", "rate_limited_unprotected") -
                Num(a0, "recovery", "rate_limited_unprotected"),
            17u);
  // Dropped all the same: the 17 without a notify count as drop_unknown.
  EXPECT_EQ(Num(a1, "recovery", "drop_unknown") - Num(a0, "recovery", "drop_unknown"), 17u);
  ASSERT_EQ(got.size(), 3u) << "unprotected notifies received";
  for (const auto& d : got) {
    ASSERT_EQ(d.size(), 44u);
    EXPECT_EQ(d[0] | d[1] | d[2] | d[3], 0) << "non-ESP marker";
    EXPECT_EQ(d[4 + 16], 41);
    EXPECT_EQ(d[4 + 18], 37);
    EXPECT_EQ(d[4 + 19], 0x08);
    EXPECT_EQ(d[4 + 28 + 7], 11);
    const std::uint32_t spi = (std::uint32_t{d[40]} << 24) | (std::uint32_t{d[41]} << 16) |
                              (std::uint32_t{d[42]} << 8) | d[43];
    EXPECT_NE(std::find(spis.begin(), spis.end(), spi), spis.end()) << std::hex << spi;
  }
  EXPECT_NE(Slurp(dir_.path + "/a.log").find("-> unprotected-notify"), std::string::npos);
  EXPECT_TRUE(Ping());
}

// Default (B): the same packets are counted and dropped, nothing is sent.
TEST_F(IkePair, UnprotectedNotifyIsOffByDefault) {
  const json b0 = Query(sock("b"), "counters");
  UnknownSource src(a_, "veth-a", "192.168.81.51");
  ASSERT_TRUE(src.ok);
  src.Send("192.168.81.2");
  ASSERT_TRUE(t::WaitFor(
      [&] {
        return Num(Query(sock("b"), "counters"), "recovery", "drop_unknown") ==
               Num(b0, "recovery", "drop_unknown") + 20;
      },
      seconds(3), milliseconds(5)));
  const auto& got = src.got;
  src.Drain();
  EXPECT_TRUE(got.empty()) << got.size() << " datagrams came back";
  const json b1 = Query(sock("b"), "counters");
  EXPECT_EQ(Num(b1, "recovery", "unprotected_notify"), 0u);
  EXPECT_EQ(Num(b1, "recovery", "rate_limited_unprotected"), 0u);
}

// IKE hears of inbound ESP from the datapath (IkeStack::ChildSaTrafficSeen
// fed from the Child SA counters), so with a 1 s DPD interval an active
// tunnel carries no DPD exchange, while an idle one does.
class IkePairShortDpd : public IkePair {
 protected:
  IkePairShortDpd() { dpd_interval_ = "1s"; }
};

TEST_F(IkePairShortDpd, ActiveTunnelSendsNoDpdIdleTunnelDoes) {
  StartStream(400);  // 4 s of traffic both ways
  ASSERT_FALSE(HasFatalFailure());
  // Measure from 1.2 s into the stream (a DPD from before it has settled)
  // to its end: more than two DPD intervals.
  ASSERT_TRUE(t::WaitFor(
      [&] { return Num(Query(sock("b"), "counters"), "datapath", "rx_decrypted") >= 120; },
      seconds(5), milliseconds(10)));
  const std::uint64_t a0 = Num(Query(sock("a"), "counters"), "datapath", "ike_rx");
  const std::uint64_t b0 = Num(Query(sock("b"), "counters"), "datapath", "ike_rx");
  const auto window = SteadyClock::now();
  ASSERT_EQ(stream_->Wait(seconds(10)), 0) << Slurp(dir_.path + "/stream.log");
  stream_.reset();
  const std::uint64_t a1 = Num(Query(sock("a"), "counters"), "datapath", "ike_rx");
  const std::uint64_t b1 = Num(Query(sock("b"), "counters"), "datapath", "ike_rx");
  std::printf(
      "[ info ] IKE datagrams during %.0f ms of traffic with DPD every 1 s: A %llu, B %llu\n",
      MsSince(window), static_cast<unsigned long long>(a1 - a0),
      static_cast<unsigned long long>(b1 - b0));
  EXPECT_GT(MsSince(window), 2000.0);
  EXPECT_EQ(a1 - a0, 0u) << "DPD while ESP came in";
  EXPECT_EQ(b1 - b0, 0u) << "DPD while ESP came in";
  // Idle: DPD probes within a few intervals.
  EXPECT_TRUE(t::WaitFor(
      [&] {
        return Num(Query(sock("a"), "counters"), "datapath", "ike_rx") > a1 &&
               Num(Query(sock("b"), "counters"), "datapath", "ike_rx") > b1;
      },
      seconds(5), milliseconds(20)))
      << "no DPD on the idle tunnel: the test would not see a regression";
}

}  // namespace
}  // namespace inlinesec::gateway
