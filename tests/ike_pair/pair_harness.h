// Two inlinesec IKE peers in one process on one FakeClockTimers, joined by a
// message tap that can drop, duplicate, reorder and rewrite datagrams (a NAT
// box), with a recording SaInstaller and observer per peer.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "inlinesec/common/fake_clock.h"
#include "inlinesec/ike/crypto/random.h"
#include "inlinesec/ike/ike_stack.h"
#include "inlinesec/ike/tasks/task_manager.h"

namespace inlinesec::ike::testing {

class FakeInstaller final : public SaInstaller {
 public:
  explicit FakeInstaller(std::uint32_t base) : next_(base) {}
  Result<std::uint32_t> AllocateSpi(const Endpoint&) override {
    if (fail_alloc) return Status(Code::kResourceExhausted, "no SPI");
    allocated.insert(next_);
    return next_++;
  }
  void ReleaseSpi(std::uint32_t spi) override {
    allocated.erase(spi);
    ++released;
  }
  Status Install(const ChildSaSpec& spec) override {
    auto& table = spec.direction == Direction::kInbound ? inbound : outbound;
    if (table.count(spec.spi) != 0) return Status(Code::kAlreadyExists, "dup SPI");
    ChildSaSpec copy;
    copy.child_id = spec.child_id;
    copy.ike_sa_id = spec.ike_sa_id;
    copy.spi = spec.spi;
    copy.direction = spec.direction;
    copy.encr = spec.encr;
    copy.encr_key_bits = spec.encr_key_bits;
    copy.integ = spec.integ;
    copy.encr_key = spec.encr_key.Clone();
    copy.integ_key = spec.integ_key.Clone();
    copy.mode = spec.mode;
    copy.esn = spec.esn;
    copy.local = spec.local;
    copy.remote = spec.remote;
    copy.udp_encap = spec.udp_encap;
    copy.local_ts = spec.local_ts;
    copy.remote_ts = spec.remote_ts;
    copy.lifetime = spec.lifetime;
    table.emplace(spec.spi, std::move(copy));
    ++installs;
    return Status::Ok();
  }
  Status Remove(std::uint32_t spi, Direction dir, const Endpoint&) override {
    auto& table = dir == Direction::kInbound ? inbound : outbound;
    if (table.erase(spi) == 0) return Status(Code::kNotFound, "no SA");
    if (dir == Direction::kInbound) allocated.erase(spi);
    return Status::Ok();
  }
  Result<ChildSaUsage> Query(std::uint32_t spi, Direction dir, const Endpoint&) override {
    auto& table = dir == Direction::kInbound ? inbound : outbound;
    if (table.count(spi) == 0) return Status(Code::kNotFound, "no SA");
    return ChildSaUsage{};
  }

  std::map<std::uint32_t, ChildSaSpec> inbound, outbound;
  std::set<std::uint32_t> allocated;
  int installs = 0, released = 0;
  bool fail_alloc = false;

 private:
  std::uint32_t next_;
};

struct Recorder final : public IkeObserver {
  void OnIkeSaUp(const IkeSaInfo& i) override { ike_up.push_back(i); }
  void OnIkeSaDown(const IkeSaInfo& i, DownReason r) override {
    ike_down.push_back(i);
    down_reasons.push_back(r);
  }
  void OnIkeSaRekeyed(const IkeSaInfo& o, const IkeSaInfo& n) override {
    ike_rekeyed.emplace_back(o, n);
  }
  void OnChildSaUp(const ChildSaInfo& i) override { child_up.push_back(i); }
  void OnChildSaDown(const ChildSaInfo& i) override { child_down.push_back(i); }
  void OnChildSaRekeyed(const ChildSaInfo& o, const ChildSaInfo& n) override {
    child_rekeyed.emplace_back(o, n);
  }
  void OnInvalidSpi(const Endpoint& peer, std::uint32_t spi, bool prot) override {
    invalid_spi.push_back({peer, spi, prot});
  }
  void OnInitialContact(const IkeSaInfo& i) override { initial_contact.push_back(i); }

  struct InvalidSpi {
    Endpoint peer;
    std::uint32_t spi;
    bool is_protected;
  };
  std::vector<IkeSaInfo> ike_up, ike_down, initial_contact;
  std::vector<DownReason> down_reasons;
  std::vector<std::pair<IkeSaInfo, IkeSaInfo>> ike_rekeyed;
  std::vector<ChildSaInfo> child_up, child_down;
  std::vector<std::pair<ChildSaInfo, ChildSaInfo>> child_rekeyed;
  std::vector<InvalidSpi> invalid_spi;
};

inline ConnectionConfig MakeConfig(const std::string& name, const std::string& local,
                                   const std::string& remote, const std::string& local_net,
                                   const std::string& remote_net) {
  ConnectionConfig c;
  c.name = name;
  c.local = {*IpAddress::Parse(local), kIkePort};
  c.remote = {*IpAddress::Parse(remote), kIkePort};
  c.local_id = Identity::Parse(local);
  c.remote_id = Identity::Parse(remote);
  static const std::string kPsk = "correct horse battery staple";
  c.psk.Assign(std::span(reinterpret_cast<const std::uint8_t*>(kPsk.data()), kPsk.size()));
  c.ike_proposals.push_back(
      ParseProposal("aes256gcm16-prfsha256-x25519", ProtocolId::kIke).value());
  ChildConfig child;
  child.name = name + "-child";
  child.local_ts.push_back(*TrafficSelector::Parse(local_net));
  child.remote_ts.push_back(*TrafficSelector::Parse(remote_net));
  child.esp_proposals.push_back(ParseProposal("aes128gcm16-esn", ProtocolId::kEsp).value());
  c.children.push_back(std::move(child));
  return c;
}

// One peer: stack + its installer, observer and randomness.
struct Peer {
  Peer(const std::string& peer_name, FakeClockTimers& env, std::uint64_t seed,
       std::uint32_t spi_base, std::function<void(const Datagram&)> send, IkeStackOptions opts = {})
      : name(peer_name),
        random(seed),
        installer(spi_base),
        stack(std::make_unique<IkeStack>(env, env, random, installer, rec, std::move(send), opts)) {
  }
  std::string name;
  DeterministicRandom random;
  FakeInstaller installer;
  Recorder rec;
  std::unique_ptr<IkeStack> stack;

  std::vector<IkeSaInfo> Established() const {
    std::vector<IkeSaInfo> out;
    for (const auto& i : stack->IkeSas())
      if (i.state == IkeSaState::kEstablished) out.push_back(i);
    return out;
  }
};

// The network between A and B.
class Pair {
 public:
  struct InFlight {
    bool to_b;
    Datagram d;
  };
  // Return false to drop; may modify the datagram.
  using Filter = std::function<bool(InFlight&)>;

  explicit Pair(IkeStackOptions b_opts = {}, ConnectionConfig* a_cfg = nullptr,
                ConnectionConfig* b_cfg = nullptr)
      : a("A", env, 11, 0x1000,
          [this](const Datagram& d) {
            wire.push_back({true, d});
          }),
        b(
            "B", env, 22, 0x2000,
            [this](const Datagram& d) {
              wire.push_back({false, d});
            },
            b_opts) {
    ConnectionConfig ca =
        a_cfg ? std::move(*a_cfg)
              : MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
    ConnectionConfig cb =
        b_cfg ? std::move(*b_cfg)
              : MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
    EXPECT_TRUE(a.stack->AddConnection(std::move(ca)).ok());
    EXPECT_TRUE(b.stack->AddConnection(std::move(cb)).ok());
  }

  // Delivers everything in flight (and whatever that triggers) through the
  // filter, in order; returns the number of datagrams delivered.
  int Pump(int max = 1000) {
    int n = 0;
    while (!wire.empty() && n < max) {
      InFlight f = std::move(wire.front());
      wire.pop_front();
      ++sent;
      if (filter && !filter(f)) {
        ++dropped;
        continue;
      }
      ++n;
      log.push_back(f);
      (f.to_b ? b : a).stack->Receive(f.d);
    }
    return n;
  }
  // Advances time in steps, pumping the wire after each.
  void Run(Duration total, Duration step = std::chrono::milliseconds(500)) {
    for (Duration t{0}; t < total; t += step) {
      env.Advance(step);
      Pump();
    }
  }
  Peer& Other(Peer& p) { return &p == &a ? b : a; }

  FakeClockTimers env;
  std::deque<InFlight> wire;
  std::vector<InFlight> log;
  Filter filter;
  int sent = 0, dropped = 0;
  Peer a;
  Peer b;
};

// The exchange type of a datagram (after the non-ESP marker, if any).
inline ExchangeType ExchangeOf(const Datagram& d) {
  const std::size_t off = (d.dst.port == kNatTPort) ? 4 : 0;
  return static_cast<ExchangeType>(d.payload[off + 18]);
}
inline bool IsResponse(const Datagram& d) {
  const std::size_t off = (d.dst.port == kNatTPort) ? 4 : 0;
  return (d.payload[off + 19] & kFlagResponse) != 0;
}

// Both peers hold the same Child SAs, keyed in opposite directions.
inline void ExpectChildrenMatch(Peer& a, Peer& b) {
  EXPECT_EQ(a.installer.inbound.size(), b.installer.outbound.size());
  EXPECT_EQ(a.installer.outbound.size(), b.installer.inbound.size());
  for (const auto& [spi, in] : a.installer.inbound) {
    auto it = b.installer.outbound.find(spi);
    ASSERT_NE(it, b.installer.outbound.end()) << std::hex << spi;
    EXPECT_TRUE(in.encr_key.Equals(it->second.encr_key.span()));
    EXPECT_TRUE(in.integ_key.Equals(it->second.integ_key.span()));
    EXPECT_EQ(in.encr, it->second.encr);
    EXPECT_EQ(in.esn, it->second.esn);
    EXPECT_EQ(in.mode, it->second.mode);
  }
  for (const auto& [spi, in] : b.installer.inbound) {
    auto it = a.installer.outbound.find(spi);
    ASSERT_NE(it, a.installer.outbound.end()) << std::hex << spi;
    EXPECT_TRUE(in.encr_key.Equals(it->second.encr_key.span()));
  }
}

}  // namespace inlinesec::ike::testing
