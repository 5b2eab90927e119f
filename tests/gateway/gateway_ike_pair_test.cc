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

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "gateway_test_util.h"
#include "inlinesec/gateway/control.h"
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
    std::string why = t::NetNsUnavailableReason();
    if (why.empty() && access("/dev/net/tun", R_OK | W_OK) != 0) why = "no /dev/net/tun";
    if (why.empty() && !t::HaveProgram("ping")) why = "ping not installed";
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
    if (HasFailure()) {
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
                         {"children",
                          {{{"name", "c"},
                            {"local_ts", {lts}},
                            {"remote_ts", {rts}},
                            {"esp_proposals", {"aes256gcm16-noesn"}}}}}}}}};
    std::ofstream(dir_.path + "/" + tag + "-ike.json") << ike.dump(2);
    for (const auto& [name, init] :
         {std::pair{tag + ".json", initiate}, std::pair{tag + "-passive.json", false}}) {
      const json gw = {{"control_socket", sock(tag.c_str())},
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
      std::ofstream(dir_.path + "/" + name) << gw.dump(2);
    }
  }

  void StartB(const std::string& log) {
    auto d = t::Process::Spawn(b_.Exec({INLINESECD_PATH, "-c", dir_.path + "/b.json"}), {},
                               dir_.path + "/" + log);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    gw_b_.emplace(std::move(*d));
  }

  void StartStream() {
    auto p = t::Process::Spawn(
        a_.Exec({"ping", "-q", "-i", "0.01", "-c", "1000", "-I", "10.1.0.1", "10.2.0.1"}), {},
        dir_.path + "/stream.log");
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
  std::filesystem::copy_file(dir_.path + "/b-passive.json", dir_.path + "/b.json",
                             std::filesystem::copy_options::overwrite_existing);
  const auto restart = SteadyClock::now();
  StartB("b2.log");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(t::WaitFor(
      [&] {
        return b_.Ip({"link", "show", "isec0"}).ok();
      },
      seconds(5), milliseconds(5)));
  ASSERT_TRUE(b_.Ip({"route", "add", "10.1.0.0/24", "dev", "isec0"}).ok());
  std::optional<double> restored_ms;
  ASSERT_TRUE(t::WaitFor(
      [&] {
        if (Num(Query(sock("b"), "counters"), "datapath", "rx_decrypted") == 0) return false;
        restored_ms = MsSince(restart);
        return true;
      },
      seconds(10), milliseconds(5)))
      << "no ESP from A decrypted after B's restart";
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

}  // namespace
}  // namespace inlinesec::gateway
