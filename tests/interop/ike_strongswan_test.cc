// Interop evidence for sdk/ike: inlinesecd (IKE on UDP 500/4500, Child SAs
// installed into the engine model, TUN datapath) against strongSwan 5.9
// charon with kernel-libipsec, each in a namespace the test creates. For
// each IKE proposal (AES-GCM-256/PRF-SHA256/X25519 and AES-CBC-256/
// HMAC-SHA2-256-128/MODP-2048; ESP is AES-GCM-256, the only AES the engine
// model offloads) and each of our roles (initiator, responder) it proves:
// IKE and Child SA up; ping between the inner addresses crosses the model's
// ESP and libipsec's both ways; a Child SA rekey and an IKE SA rekey started
// by each side keep a running ping stream with at most one lost packet; a
// Delete from each side removes the other side's SAs. Root only; skips with
// the reason otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

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

struct Proposal {
  const char* tag;
  const char* ours;    // inlinesec spelling
  const char* theirs;  // strongSwan spelling
};
constexpr Proposal kProposals[] = {
    {"GcmX25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-curve25519"},
    {"CbcModp2048", "aes256-sha256-modp2048", "aes256-sha256-modp2048"},
};

struct Param {
  Proposal proposal;
  bool we_initiate;
};

std::string ParamName(const ::testing::TestParamInfo<Param>& p) {
  return std::string(p.param.proposal.tag) + (p.param.we_initiate ? "_Initiator" : "_Responder");
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class IkeStrongswan : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const std::string why = t::TunTestUnavailableReason(t::StrongswanUnavailableReason(), {"ping"});
    if (!why.empty()) GTEST_SKIP() << why;
    auto g = t::NetNs::Create(t::UniqueNsName("ikeg"));
    auto s = t::NetNs::Create(t::UniqueNsName("ikes"));
    ASSERT_TRUE(g.ok() && s.ok());
    g_ = std::make_unique<t::NetNs>(std::move(g).value());
    s_ = std::make_unique<t::NetNs>(std::move(s).value());
    ASSERT_TRUE(
        t::AddVethPair(*g_, "veth-g", "192.168.79.1/24", *s_, "veth-s", "192.168.79.2/24").ok());
    ASSERT_TRUE(s_->Ip({"addr", "add", "10.2.0.1/32", "dev", "lo"}).ok());
    dir_ = "/tmp/" + t::UniqueNsName("ikesw");
    std::filesystem::create_directories(dir_);

    auto sw = t::StrongswanPeer::Start(*s_, dir_ + "/sw", seconds(10));
    ASSERT_TRUE(sw.ok()) << sw.status().ToString();
    sw_ = std::move(sw).value();
    const std::string psk = "0x" + std::string(64, 'b');
    ASSERT_TRUE(sw_->LoadPsk("sw@test", "gw@test", psk).ok());
    t::ConnConfig c;
    c.local_addr = "192.168.79.2";
    c.remote_addr = "192.168.79.1";
    c.local_id = "sw@test";
    c.remote_id = "gw@test";
    c.proposal = GetParam().proposal.theirs;
    t::ChildConfig child;
    child.local_ts = {"10.2.0.1/32"};
    child.remote_ts = {"10.1.0.0/24"};
    child.esp_proposal = "aes256gcm16";
    c.children = {child};
    Status st = sw_->LoadConn(c);
    ASSERT_TRUE(st.ok()) << st.ToString();

    const json ike_conf = {{"connections",
                            {{{"name", "sw"},
                              {"local", "192.168.79.1"},
                              {"local_port", 500},
                              {"remote", "192.168.79.2"},
                              {"remote_port", 500},
                              {"local_id", "gw@test"},
                              {"remote_id", "sw@test"},
                              {"psk", psk},
                              {"ike_proposals", {GetParam().proposal.ours}},
                              {"static_peer", false},
                              {"children",
                               {{{"name", "c"},
                                 {"local_ts", {"10.1.0.0/24"}},
                                 {"remote_ts", {"10.2.0.1/32"}},
                                 {"esp_proposals", {"aes256gcm16-noesn"}}}}}}}}};
    socket_ = dir_ + "/gw.sock";
    log_ = dir_ + "/gw.log";
    const json gw_conf = {{"control_socket", socket_},
                          {"local_address", "192.168.79.1"},
                          {"tun", {{"name", "isec0"}, {"address", "10.1.0.1/24"}}},
                          {"ike_config", dir_ + "/ike.json"},
                          {"connections",
                           {{{"name", "sw"},
                             {"peer", "192.168.79.2"},
                             {"static_peer", false},
                             {"initiate", GetParam().we_initiate},
                             {"local_ts", {"10.1.0.0/24"}},
                             {"remote_ts", {"10.2.0.1/32"}}}}}};
    std::ofstream(dir_ + "/ike.json") << ike_conf.dump(2);
    std::ofstream(dir_ + "/gw.json") << gw_conf.dump(2);
    auto d = t::Process::Spawn(g_->Exec({INLINESECD_PATH, "-c", dir_ + "/gw.json"}), {}, log_);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    gw_ = std::move(d).value();
    ASSERT_TRUE(t::WaitFor([&] { return std::filesystem::exists(socket_); }, seconds(10)));
  }

  void TearDown() override {
    if (HasFailure() && !log_.empty()) {
      std::fprintf(stderr, "--- gateway log ---\n%s\n", Slurp(log_).c_str());
      if (sw_) {
        const std::string charon_log = sw_->log_path();
        sw_->Stop(SIGTERM);
        std::fprintf(stderr, "--- charon log ---\n%s\n", Slurp(charon_log).c_str());
      }
    }
    gw_.Stop(SIGTERM, seconds(3));
    sw_.reset();
    s_.reset();
    g_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  json Call(const std::string& cmd, const std::string& kind = "") {
    Result<ControlReply> r = ControlCall(socket_, {cmd, kind});
    if (!r.ok() || !r->ok) return json::object();
    return json::parse(r->data_json);
  }

  // Our SAs: {ike established, child SA entries (in + out)}.
  std::pair<int, int> OurSas() {
    const json sas = Call("sas");
    if (!sas.contains("ike_sas")) return {-1, -1};
    int ike = 0;
    for (const json& i : sas["ike_sas"]) ike += i["state"] == "established";
    return {ike, static_cast<int>(sas["child_sas"].size())};
  }
  std::string OurInboundSpi() {
    const json sas = Call("sas");
    for (const json& c : sas.value("child_sas", json::array()))
      if (c["direction"] == "in") return c["spi"];
    return "";
  }
  std::string OurIkeSpi() {
    const json sas = Call("sas");
    for (const json& i : sas.value("ike_sas", json::array()))
      if (i["state"] == "established")
        return i["spi_i"].get<std::string>() + i["spi_r"].get<std::string>();
    return "";
  }
  // strongSwan's view: established IKE SAs and installed Child SAs.
  std::pair<int, int> TheirSas() {
    auto sas = sw_->ListSas();
    if (!sas.ok()) return {-1, -1};
    int ike = 0, child = 0;
    for (const auto& ev : *sas) {
      for (const auto& [name, sa] : ev.sections) {
        ike += sa.Get("state") == "ESTABLISHED";
        if (const t::ViciSection* cs = sa.Section("child-sas")) {
          for (const auto& [cn, c] : cs->sections) child += c.Get("state") == "INSTALLED";
        }
      }
    }
    return {ike, child};
  }

  // Brings the tunnel up from the role's initiator and waits for both ends.
  void Establish(bool first) {
    if (!GetParam().we_initiate) {
      Status st = sw_->Initiate("c", seconds(10));
      ASSERT_TRUE(st.ok()) << st.ToString();
    } else if (!first) {
      const json r = Call("ike", "initiate");
      ASSERT_TRUE(r.contains("ids")) << r.dump();
    }
    ASSERT_TRUE(t::WaitFor(
        [&] {
          return OurSas() == std::pair{1, 2};
        },
        seconds(15), milliseconds(50)));
    ASSERT_TRUE(t::WaitFor(
        [&] {
          return TheirSas() == std::pair{1, 1};
        },
        seconds(10), milliseconds(50)));
    if (first) {
      ASSERT_TRUE(g_->Ip({"route", "add", "10.2.0.1/32", "dev", "isec0"}).ok());
    }
    // kernel-libipsec installs its route a moment after the Child SA.
    ASSERT_TRUE(t::WaitFor(
        [&] {
          return g_->Run({"ping", "-c", "1", "-W", "1", "-I", "10.1.0.1", "10.2.0.1"}) == 0;
        },
        seconds(10), milliseconds(50)));
    std::string out;
    EXPECT_EQ(
        s_->Run({"ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", "10.2.0.1", "10.1.0.1"}, &out), 0)
        << out;
  }

  // Runs `action` while a 50 ms ping stream crosses the tunnel (each echo
  // and reply cross it once per direction); waits for `done` to hold and
  // returns how many of `count` pings were lost.
  int LossDuring(const std::function<void()>& action, const std::function<bool()>& done,
                 const char* what) {
    constexpr int kCount = 60;
    const std::string out = dir_ + "/ping.log";
    auto p = t::Process::Spawn(g_->Exec({"ping", "-n", "-c", std::to_string(kCount), "-i", "0.05",
                                         "-W", "1", "-I", "10.1.0.1", "10.2.0.1"}),
                               {}, out);
    if (!p.ok()) {
      ADD_FAILURE() << p.status().ToString();
      return kCount;
    }
    // Let a few packets cross before the exchange starts.
    t::WaitFor([&] { return Slurp(out).find("icmp_seq=5 ") != std::string::npos; }, seconds(5));
    action();
    EXPECT_TRUE(t::WaitFor(done, seconds(10), milliseconds(20))) << what << " not seen";
    p->Wait(seconds(15));
    const std::string text = Slurp(out);
    std::smatch m;
    static const std::regex kRx(R"((\d+) packets transmitted, (\d+) received)");
    if (!std::regex_search(text, m, kRx)) {
      ADD_FAILURE() << "no ping summary: " << text;
      return kCount;
    }
    const int lost = std::stoi(m[1]) - std::stoi(m[2]);
    std::printf("[ metric ] %s %s: %s sent, %s received\n", ParamName({GetParam(), 0}).c_str(),
                what, m[1].str().c_str(), m[2].str().c_str());
    return lost;
  }

  Status Vici(const std::string& cmd, const std::string& key, const std::string& value) {
    t::ViciWriter w;
    w.Kv(key, value);
    if (cmd == "terminate") w.Kv("timeout", "5000");
    return sw_->vici().Command(cmd, w, seconds(10));
  }

  std::unique_ptr<t::NetNs> g_, s_;
  std::unique_ptr<t::StrongswanPeer> sw_;
  t::Process gw_;
  std::string dir_, socket_, log_;
};

TEST_P(IkeStrongswan, EstablishTrafficRekeyDelete) {
  ASSERT_NO_FATAL_FAILURE(Establish(true));
  // NAT-D (RFC 7296 §2.23): charon checks our SHA-1(SPIi | SPIr | IP |
  // port) hashes and finds them right (no NAT on our side). Our side does
  // report nat:true and floats to 4500, because kernel-libipsec makes
  // charon send a deliberately wrong source hash to force UDP encapsulation.
  {
    std::istringstream charon(Slurp(sw_->log_path()));
    for (std::string line; std::getline(charon, line);) {
      if (line.find("NAT") != std::string::npos) std::printf("[ info ] charon: %s\n", line.c_str());
      EXPECT_EQ(line.find("remote host is behind NAT"), std::string::npos) << line;
    }
  }
  {
    const json sas = Call("sas");
    std::printf("[ info ] our IKE SA: %s\n", sas["ike_sas"].dump().c_str());
  }

  // Child SA rekey started by us, then by strongSwan.
  std::string spi = OurInboundSpi();
  EXPECT_LE(LossDuring([&] { EXPECT_TRUE(Call("ike", "rekey-child").contains("ids")); },
                       [&] {
                         const std::string now = OurInboundSpi();
                         return !now.empty() && now != spi && TheirSas() == std::pair{1, 1};
                       },
                       "child rekey by inlinesec"),
            1);
  spi = OurInboundSpi();
  EXPECT_LE(LossDuring([&] { EXPECT_TRUE(Vici("rekey", "child", "c").ok()); },
                       [&] {
                         const std::string now = OurInboundSpi();
                         return !now.empty() && now != spi && TheirSas() == std::pair{1, 1};
                       },
                       "child rekey by strongSwan"),
            1);

  // IKE SA rekey started by us, then by strongSwan; the Child SA moves over.
  std::string ike_spi = OurIkeSpi();
  EXPECT_LE(LossDuring([&] { EXPECT_TRUE(Call("ike", "rekey-ike").contains("ids")); },
                       [&] {
                         const std::string now = OurIkeSpi();
                         return !now.empty() && now != ike_spi && OurSas() == std::pair{1, 2} &&
                                TheirSas() == std::pair{1, 1};
                       },
                       "IKE rekey by inlinesec"),
            1);
  ike_spi = OurIkeSpi();
  EXPECT_LE(LossDuring([&] { EXPECT_TRUE(Vici("rekey", "ike", "t").ok()); },
                       [&] {
                         const std::string now = OurIkeSpi();
                         return !now.empty() && now != ike_spi && OurSas() == std::pair{1, 2} &&
                                TheirSas() == std::pair{1, 1};
                       },
                       "IKE rekey by strongSwan"),
            1);
  std::string out;
  EXPECT_EQ(
      s_->Run({"ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", "10.2.0.1", "10.1.0.1"}, &out), 0)
      << out;

  // Delete from strongSwan: our IKE and Child SAs go.
  EXPECT_TRUE(Vici("terminate", "ike", "t").ok());
  EXPECT_TRUE(t::WaitFor(
      [&] {
        return OurSas() == std::pair{0, 0};
      },
      seconds(10), milliseconds(50)))
      << Call("sas").dump();
  EXPECT_EQ(TheirSas(), (std::pair{0, 0}));

  // Up again; Delete from us: strongSwan's SAs go.
  ASSERT_NO_FATAL_FAILURE(Establish(false));
  EXPECT_TRUE(Call("ike", "delete-ike").contains("ids"));
  EXPECT_TRUE(t::WaitFor(
      [&] {
        return TheirSas() == std::pair{0, 0};
      },
      seconds(10), milliseconds(50)));
  EXPECT_TRUE(t::WaitFor(
      [&] {
        return OurSas() == std::pair{0, 0};
      },
      seconds(10), milliseconds(50)))
      << Call("sas").dump();
}

INSTANTIATE_TEST_SUITE_P(Interop, IkeStrongswan,
                         ::testing::Values(Param{kProposals[0], true}, Param{kProposals[0], false},
                                           Param{kProposals[1], true}, Param{kProposals[1], false}),
                         ParamName);

}  // namespace
}  // namespace inlinesec::gateway
