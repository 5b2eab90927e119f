// Gateway implementation: device + SA manager + exception consumer +
// recovery engine behind a TUN device and UDP/raw sockets, on one EventLoop.
// Packet bytes are handled in one preallocated buffer with the engine's
// headroom and tailroom; every decision of the recovery engine is logged in
// one line (under a log rate limit, with a count of the lines left out).
#include "inlinesec/gateway/gateway.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "inlinesec/abi/abi.h"
#include "inlinesec/driver/device.h"
#include "inlinesec/driver/model_transport.h"
#include "inlinesec/ike/config_file.h"
#include "inlinesec/ike/crypto/random.h"
#include "inlinesec/ike/ike_stack.h"
#include "inlinesec/model/engine.h"
#include "inlinesec/recovery/liveness.h"
#include "inlinesec/recovery/recovery_engine.h"
#include "inlinesec/recovery/token_bucket.h"
#include "inlinesec/sdk/events.h"
#include "inlinesec/sdk/sa_manager.h"

namespace inlinesec::gateway {

namespace {

using nlohmann::json;

constexpr std::size_t kIpv4Header = 20;
constexpr std::size_t kUdpHeader = 8;
constexpr std::uint16_t kNatTPort = 4500;  // RFC 3948; the engine parses only this port
constexpr std::size_t kBufBytes = 65536 + model::kTxHeadroom + model::kTxTailroom;
constexpr int kMaxPacketsPerWakeup = 64;
// After a lost Child SA is deleted at the peer, how long the peer gets to
// re-create it (it does on a protected INVALID_SPI) before we do.
constexpr Duration kRecreateWait = std::chrono::milliseconds(100);

Status Errno(const std::string& what) {
  return Status(Code::kUnavailable, what + ": " + std::strerror(errno));
}

std::uint32_t Be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
void PutBe16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

std::uint32_t HostOrder(const sdk::IpAddress& ip) { return Be32(ip.bytes.data()); }

sdk::IpAddress FromHostOrder(std::uint32_t a) {
  return sdk::IpAddress::V4(static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                            static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a));
}

sockaddr_in SockAddr(const sdk::IpAddress& ip, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  std::memcpy(&sa.sin_addr, ip.bytes.data(), 4);
  return sa;
}

std::uint16_t Ipv4Checksum(const std::uint8_t* hdr, std::size_t len) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += (std::uint32_t{hdr[i]} << 8) | hdr[i + 1];
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// The outer IPv4 (+UDP) header the engine expects in front of what a socket
// delivered without it. The UDP checksum is zero (RFC 3948 §2.1 lets the
// receiver ignore it; the engine does).
void BuildOuter(std::uint8_t* p, std::uint32_t src, std::uint32_t dst, bool udp,
                std::uint16_t sport, std::size_t payload) {
  const std::size_t total = kIpv4Header + (udp ? kUdpHeader : 0) + payload;
  p[0] = 0x45;
  p[1] = 0;
  PutBe16(p + 2, static_cast<std::uint16_t>(total));
  PutBe16(p + 4, 0);       // id
  PutBe16(p + 6, 0x4000);  // DF
  p[8] = 64;
  p[9] = udp ? IPPROTO_UDP : IPPROTO_ESP;
  PutBe16(p + 10, 0);
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
    p[16 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
  }
  PutBe16(p + 10, Ipv4Checksum(p, kIpv4Header));
  if (udp) {
    std::uint8_t* u = p + kIpv4Header;
    PutBe16(u, sport);
    PutBe16(u + 2, kNatTPort);
    PutBe16(u + 4, static_cast<std::uint16_t>(kUdpHeader + payload));
    PutBe16(u + 6, 0);
  }
}

std::string Hex32(std::uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof(b), "0x%08x", v);
  return b;
}

std::string Hex64(std::uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof(b), "0x%016llx", static_cast<unsigned long long>(v));
  return b;
}

recovery::Peer PeerOf(const sdk::IpAddress& ip) { return recovery::Peer{ip.bytes, ip.v6}; }

sdk::IpAddress ToSdk(const ike::IpAddress& a) {
  sdk::IpAddress ip;
  ip.v6 = a.v6();
  std::copy(a.bytes().begin(), a.bytes().end(), ip.bytes.begin());
  return ip;
}

ike::IpAddress ToIke(const sdk::IpAddress& a) {
  return ike::IpAddress::V4({a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]});
}

double Millis(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

const char* AlgoName(sdk::AeadAlgo a) {
  switch (a) {
    case sdk::AeadAlgo::kAesGcm128:
      return "aes-gcm-128";
    case sdk::AeadAlgo::kAesGcm256:
      return "aes-gcm-256";
    case sdk::AeadAlgo::kChaCha20Poly1305:
      return "chacha20-poly1305";
  }
  return "?";
}

}  // namespace

struct Gateway::Impl : public recovery::RecoveryHost,
                       public ike::SaInstaller,
                       public ike::IkeObserver {
  struct Conn {
    ConnectionConfig cfg;
    sockaddr_in peer_sa{};
    std::uint32_t peer_host = 0;
    std::optional<sdk::SaHandle> in, out;
    sdk::AeadAlgo algo = sdk::AeadAlgo::kAesGcm256;
    bool manual = false;  // static keys; else IKE
  };
  // A fault and what followed it, for the status timeline.
  struct Timeline {
    std::string kind;
    TimePoint fault_at{};  // when the fault was complete
    double apply_ms = 0;   // how long applying it took
    std::optional<TimePoint> resync_at;
    std::optional<TimePoint> restored_at;  // first decrypted packet after the repair
    std::optional<TimePoint> decision_at;  // first recovery decision after the fault
    std::string decision;
    std::optional<TimePoint> child_up_at;  // a new inbound Child SA installed
  };

  Impl(GatewayConfig c, const Clock& clk, Timers& t, EventLoop& l)
      : config(std::move(c)), clock(clk), timers(t), loop(l), buf(kBufBytes) {}

  ~Impl() override {
    // IKE first: it may still remove Child SAs or send while it winds down.
    ike.reset();
    for (TimerId id : {housekeeping_timer, recreate_timer}) timers.Cancel(id);
    for (int fd : {tun_fd, udp_fd, raw_fd, ike_fd}) {
      if (fd >= 0) {
        loop.Remove(fd);
        close(fd);
      }
    }
    if (consumer && consumer->fd() >= 0) loop.Remove(consumer->fd());
  }

  // --- setup ---
  Status Open();
  Status OpenTun();
  Status OpenSockets();
  Status OpenIke();
  Status SendTo(std::uint16_t from_port, const sdk::IpAddress& to, std::uint16_t port,
                std::span<const std::uint8_t> bytes);
  void OnIke500();

  // --- datapath ---
  void OnTun();
  void OnUdp();
  void OnRaw();
  void Transmit(Conn& c, std::size_t len);
  void ReceiveFrame(model::Frame& f, const sdk::IpAddress& from, std::uint16_t sport,
                    std::span<const std::uint8_t> udp_payload);
  void OnExceptions();
  // A packet failed in this batch: act on its exception now rather than on
  // the next interrupt wakeup (recovery latency).
  void DrainIfFailed() {
    if (!failed_in_batch) return;
    failed_in_batch = false;
    OnExceptions();
  }
  void Housekeeping();
  void WatchTraffic(TimePoint now);
  Conn* Route(std::uint32_t src, std::uint32_t dst);
  Conn* ConnByPeer(const recovery::Peer& p);
  Status DoResync(const char* why);
  Status LoseChild();
  void Recreate(const ike::ChildSaInfo& lost);
  void Log(const std::string& line);
  void Publish(const json& j);

  // --- RecoveryHost ---
  bool ShadowHasInbound(std::uint32_t spi) override {
    for (const Conn& c : conns)
      if (c.in && c.in->spi == spi && sa->Contains(*c.in)) return true;
    // IKE may hold more than one Child SA per connection (a rekey's overlap,
    // or both ends re-creating one at once); the connection names only the
    // newest.
    auto it = ike_handles.find({0, spi});
    return it != ike_handles.end() && sa->Contains(it->second);
  }
  Status Resync(std::uint32_t /*spi*/) override {
    // The engine lost one SA it should hold: the whole table is suspect
    // (a reset or a firmware restart wipes all of it), so re-program all.
    return DoResync("spi-miss");
  }
  const ike::IkeSaInfo* FindIke(const recovery::Peer& p, std::vector<ike::IkeSaInfo>& list) {
    if (!ike) return nullptr;
    list = ike->IkeSas();
    for (const ike::IkeSaInfo& i : list) {
      if (i.state == ike::IkeSaState::kEstablished && PeerOf(ToSdk(i.remote.addr)) == p) return &i;
    }
    return nullptr;
  }
  bool HasIkeSa(const recovery::Peer& p) override {
    std::vector<ike::IkeSaInfo> list;
    return FindIke(p, list) != nullptr;
  }
  bool WasOurChildSpi(const recovery::Peer& p, std::uint32_t spi) override {
    for (const auto& [peer, s] : retired_in)
      if (peer == p && s == spi) return true;
    return false;
  }
  Status SendInvalidSpi(const recovery::Peer& p, std::uint32_t spi, bool with_delete) override {
    std::vector<ike::IkeSaInfo> list;
    const ike::IkeSaInfo* i = FindIke(p, list);
    if (i == nullptr) return Status(Code::kNotFound, "no IKE SA with " + recovery::PeerToString(p));
    if (!with_delete) return ike->SendInvalidSpi(i->remote, spi);
    // The SPI was ours and its inbound SA is lost while the IKE stack still
    // holds the Child SA: a peer that ignores INVALID_SPI (strongSwan does)
    // honours a Delete, so delete the Child SA there too. The connection
    // wants it up: a peer that honours INVALID_SPI re-creates it itself,
    // so only if none came up shortly after do we create it (one Child SA,
    // not two).
    for (const ike::ChildSaInfo& c : ike->ChildSas()) {
      if (c.spi_in != spi) continue;
      INLINESEC_RETURN_IF_ERROR(ike->SendInvalidSpi(i->remote, spi));
      INLINESEC_RETURN_IF_ERROR(ike->DeleteChild(c.id));
      Log("recovery: Child SA " + c.connection + "/" + c.child + " in " + Hex32(spi) +
          " lost: INVALID_SPI and Delete sent to " + recovery::PeerToString(p));
      ArmRecreate(c);
      return Status::Ok();
    }
    // The IKE stack already forgot that Child SA (expired or deleted here
    // while the peer still sends on it): INVALID_SPI and a Delete by SPI in
    // one message make the peer drop its outbound SA.
    INLINESEC_RETURN_IF_ERROR(ike->SendInvalidSpiWithDelete(i->remote, spi));
    ike::ChildSaInfo gone;
    gone.ike_sa_id = i->id;
    gone.connection = i->connection;
    if (const ike::IkeSa* sa_ike = ike->FindIkeSa(i->id);
        sa_ike != nullptr && !sa_ike->config().children.empty())
      gone.child = sa_ike->config().children.front().name;
    Log("recovery: SPI " + Hex32(spi) +
        " was ours, IKE holds no Child SA for it: INVALID_SPI and " + "Delete by SPI sent to " +
        recovery::PeerToString(p));
    if (!gone.child.empty()) ArmRecreate(gone);
    return Status::Ok();
  }
  void ArmRecreate(const ike::ChildSaInfo& lost) {
    timers.Cancel(recreate_timer);
    recreate_timer = timers.Arm(clock.Now() + kRecreateWait, [this, lost] { Recreate(lost); });
  }
  bool IsStaticPeer(const recovery::Peer& p) override {
    Conn* c = ConnByPeer(p);
    return c != nullptr && c->cfg.static_peer;
  }
  Status InitiateWithInitialContact(const recovery::Peer& p) override {
    Conn* c = ConnByPeer(p);
    if (!ike || c == nullptr || c->manual)
      return Status(Code::kUnimplemented, "no IKE for this peer: cannot initiate");
    // An IKE SA with that peer already being set up (we initiated at start,
    // or the peer is initiating) is the recovery in flight: not a second one.
    for (const ike::IkeSaInfo& i : ike->IkeSas()) {
      if (i.connection == c->cfg.name && i.state == ike::IkeSaState::kConnecting) {
        Log("recovery: IKE SA " + i.connection + " with " + i.remote.ToString() +
            " already being set up: no second initiation");
        return Status::Ok();
      }
    }
    Result<std::uint64_t> id = ike->Initiate(c->cfg.name);
    return id.ok() ? Status::Ok() : id.status();
  }
  // Decision 4 (only when enabled; the engine applies the global limit).
  // RFC 7296 §1.5: back to the source address, to its UDP source port for
  // ESP in UDP (from our 4500), else to port 500 (from ours).
  Status SendUnprotectedInvalidSpi(const recovery::Peer& p, std::uint16_t sport,
                                   std::uint32_t spi) override {
    if (!ike) return Status(Code::kUnimplemented, "IKE is off: no unprotected INVALID_SPI");
    if (p.v6) return Status(Code::kUnimplemented, "IPv6 peer");
    const ike::IpAddress to = ike::IpAddress::V4({p.addr[0], p.addr[1], p.addr[2], p.addr[3]});
    const ike::Endpoint local{ToIke(config.local_address),
                              sport != 0 ? kNatTPort : config.ike_port};
    const ike::Endpoint remote{to, sport != 0 ? sport : ike::kIkePort};
    ike->SendUnprotectedInvalidSpi(local, remote, spi);
    return Status::Ok();
  }
  Status RemoveOutboundAndRekey(const recovery::Peer&, std::uint32_t) override {
    // The IKE stack already deletes and re-negotiates the Child SA named by
    // a protected INVALID_SPI (docs/ike.md); nothing more to do here.
    return ike ? Status::Ok() : Status(Code::kUnimplemented, "no IKE stack");
  }
  Status StartLivenessCheck(const recovery::Peer& p) override {
    std::vector<ike::IkeSaInfo> list;
    const ike::IkeSaInfo* i = FindIke(p, list);
    if (i == nullptr) return Status(Code::kNotFound, "no IKE SA with " + recovery::PeerToString(p));
    return ike->SendDpd(i->id);
  }

  // --- ike::SaInstaller: IKE's Child SAs into the SA manager ---
  Result<std::uint32_t> AllocateSpi(const ike::Endpoint&) override {
    return sa->AllocateInboundSpi();
  }
  void ReleaseSpi(std::uint32_t spi) override { (void)sa->ReleaseSpi(spi); }
  Status Install(const ike::ChildSaSpec& spec) override;
  Status Remove(std::uint32_t spi, ike::Direction dir, const ike::Endpoint& peer) override;
  Result<ike::ChildSaUsage> Query(std::uint32_t spi, ike::Direction dir,
                                  const ike::Endpoint& peer) override;

  // --- ike::IkeObserver ---
  void OnIkeSaUp(const ike::IkeSaInfo& i) override {
    Log("IKE SA up: " + i.connection + " with " + i.remote.ToString());
    recovery->OnIkeSaUp(PeerOf(ToSdk(i.remote.addr)));
    Publish({{"type", "ike_sa_up"}, {"connection", i.connection}, {"peer", i.remote.ToString()}});
  }
  void OnIkeSaDown(const ike::IkeSaInfo& i, ike::DownReason why) override {
    Log("IKE SA down: " + i.connection + " with " + i.remote.ToString() + " (" +
        ike::DownReasonName(why) + ")");
    Publish({{"type", "ike_sa_down"},
             {"connection", i.connection},
             {"reason", ike::DownReasonName(why)}});
  }
  void OnChildSaUp(const ike::ChildSaInfo& c) override {
    Log("Child SA up: " + c.connection + "/" + c.child + " in " + Hex32(c.spi_in) + " out " +
        Hex32(c.spi_out));
    Publish({{"type", "child_sa_up"},
             {"connection", c.connection},
             {"spi_in", Hex32(c.spi_in)},
             {"spi_out", Hex32(c.spi_out)}});
  }
  void OnChildSaDown(const ike::ChildSaInfo& c) override {
    Log("Child SA down: " + c.connection + "/" + c.child + " in " + Hex32(c.spi_in));
  }
  void OnInvalidSpi(const ike::Endpoint& peer, std::uint32_t spi, bool is_protected) override {
    const recovery::Peer p = PeerOf(ToSdk(peer.addr));
    if (is_protected) {
      recovery->OnProtectedInvalidSpi(p, spi);
    } else {
      recovery->OnUnprotectedInvalidSpi(p, spi);
    }
  }

  GatewayConfig config;
  const Clock& clock;
  Timers& timers;
  EventLoop& loop;
  TimePoint started{};

  std::unique_ptr<driver::Device> device;
  driver::ModelTransport* model = nullptr;
  std::unique_ptr<sdk::SaManager> sa;
  std::unique_ptr<sdk::ExceptionConsumer> consumer;
  std::unique_ptr<recovery::RecoveryEngine> recovery;
  // Declared after the SA manager: destroyed first, while it can still
  // remove its Child SAs.
  std::unique_ptr<ike::OsRandom> random;
  std::unique_ptr<ike::IkeStack> ike;
  std::map<std::pair<int, std::uint32_t>, sdk::SaHandle> ike_handles;  // (dir, spi)

  int tun_fd = -1, udp_fd = -1, raw_fd = -1;
  int ike_fd = -1;  // UDP 500 (IKE without the non-ESP marker), with IKE only
  std::uint32_t local_host = 0;
  std::vector<Conn> conns;
  std::vector<std::pair<recovery::Peer, std::uint32_t>> retired_in;
  std::vector<std::uint8_t> buf;
  std::vector<sdk::Event> events;
  std::vector<recovery::SpiMiss> misses;
  bool failed_in_batch = false;  // a Receive failed since the last drain

  DatapathCounters counters;
  TimerId housekeeping_timer = kNoTimer;
  TimerId recreate_timer = kNoTimer;
  TimePoint next_seq_refresh{};
  // On-demand liveness: IKE Child SAs' counters sampled every stall/4.
  std::optional<recovery::TrafficWatch> watch;
  // Inbound packet count per IKE Child SA at the last sample: when it moves,
  // IKE hears of the traffic (IkeStack::ChildSaTrafficSeen).
  std::unordered_map<std::uint32_t, std::uint64_t> inbound_seen;
  TimePoint next_watch{};
  recovery::TokenBucket log_limit;
  recovery::TokenBucket tx_resync_limit;
  recovery::TokenBucket stream_limit;
  std::uint64_t stream_suppressed = 0;
  std::deque<std::string> recent_decisions;
  std::optional<Timeline> timeline;
  Gateway::IkeHandler ike_handler;
  std::uint64_t next_sub = 1;
  std::vector<std::pair<std::uint64_t, Gateway::Subscriber>> subs;
};

Status Gateway::Impl::Open() {
  started = clock.Now();
  log_limit = recovery::TokenBucket({50, std::chrono::seconds(1), 50}, started);
  tx_resync_limit = recovery::TokenBucket({5, std::chrono::seconds(1), 5}, started);
  stream_limit = recovery::TokenBucket({200, std::chrono::seconds(1), 200}, started);
  local_host = HostOrder(config.local_address);
  for (const ConnectionConfig& cc : config.connections) {
    if (cc.encap == Encap::kEsp && !config.raw_esp)
      return Status(Code::kInvalidArgument,
                    "connection " + cc.name + ": encap \"esp\" needs \"raw_esp\": true");
  }

  Result<std::unique_ptr<driver::Device>> dev = driver::Device::Open(config.device, clock);
  if (!dev.ok())
    return Status(dev.status().code(), "device " + config.device + ": " + dev.status().message());
  device = std::move(dev).value();
  model = dynamic_cast<driver::ModelTransport*>(&device->transport());
  if (model == nullptr) {
    return Status(Code::kUnimplemented,
                  "device " + config.device +
                      ": the gateway's software datapath needs the model transport (on a card "
                      "packets pass through the NIC)");
  }
  sa = std::make_unique<sdk::SaManager>(*device, clock, timers);
  consumer = std::make_unique<sdk::ExceptionConsumer>(*device);
  recovery = std::make_unique<recovery::RecoveryEngine>(config.recovery, clock, *this);
  recovery->set_observer([this](const recovery::DecisionRecord& r) {
    const std::string line = recovery::ToString(r);
    Log("decision " + line);
    if (timeline && !timeline->decision_at) {
      timeline->decision_at = clock.Now();
      timeline->decision = recovery::DecisionName(r.decision);
    }
    recent_decisions.push_back(line);
    if (recent_decisions.size() > 32) recent_decisions.pop_front();
    Publish({{"type", "decision"},
             {"decision", recovery::DecisionName(r.decision)},
             {"intended", recovery::DecisionName(r.intended)},
             {"peer", recovery::PeerToString(r.peer)},
             {"spi", Hex32(r.spi)},
             {"folded", r.folded},
             {"line", line}});
  });
  sa->SetEventHandler([this](const sdk::SaEvent& e) {
    if (ike && ike_handles.count({0, e.sa.spi}) != 0) {
      const bool hard = e.kind == sdk::SaEventKind::kHardBytes ||
                        e.kind == sdk::SaEventKind::kHardPackets ||
                        e.kind == sdk::SaEventKind::kHardTime;
      (void)ike->ChildSaExpired(e.sa.spi, hard);
    }
    Log("sa event " + std::string(sdk::SaEventKindName(e.kind)) + " spi=" + Hex32(e.sa.spi));
    Publish({{"type", "sa_event"},
             {"kind", std::string(sdk::SaEventKindName(e.kind))},
             {"spi", Hex32(e.sa.spi)}});
  });

  INLINESEC_RETURN_IF_ERROR(OpenTun());
  INLINESEC_RETURN_IF_ERROR(OpenSockets());

  for (const ConnectionConfig& cc : config.connections) {
    Conn c;
    // Everything but the keys, which stay in `config` only until installed.
    c.cfg.name = cc.name;
    c.cfg.peer = cc.peer;
    c.cfg.peer_port = cc.peer_port;
    c.cfg.static_peer = cc.static_peer;
    c.cfg.local_ts = cc.local_ts;
    c.cfg.remote_ts = cc.remote_ts;
    c.cfg.encap = cc.encap;
    c.cfg.initiate = cc.initiate;
    c.manual = cc.manual.has_value();
    c.peer_host = HostOrder(cc.peer);
    c.peer_sa = SockAddr(cc.peer, cc.encap == Encap::kUdp ? cc.peer_port : 0);
    conns.push_back(std::move(c));
  }

  if (!config.ike_config.empty()) INLINESEC_RETURN_IF_ERROR(OpenIke());

  if (consumer->fd() >= 0) {
    INLINESEC_RETURN_IF_ERROR(
        loop.Add(consumer->fd(), EPOLLIN, [this](std::uint32_t) { OnExceptions(); }));
  }
  housekeeping_timer =
      timers.Arm(clock.Now() + config.housekeeping_interval, [this] { Housekeeping(); });
  next_seq_refresh = clock.Now() + config.sequence_refresh_interval;
  return Status::Ok();
}

Status Gateway::Impl::OpenTun() {
  tun_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (tun_fd < 0) return Errno("open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", config.tun.name.c_str());
  if (ioctl(tun_fd, TUNSETIFF, &ifr) != 0) return Errno("TUNSETIFF " + config.tun.name);
  // Address, MTU and link state through an ordinary socket's ioctls.
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return Errno("socket");
  Status st;
  ifreq req{};
  std::snprintf(req.ifr_name, IFNAMSIZ, "%s", config.tun.name.c_str());
  req.ifr_mtu = static_cast<int>(config.tun.mtu);
  if (ioctl(s, SIOCSIFMTU, &req) != 0) st = Errno("SIOCSIFMTU");
  if (st.ok() && config.tun.address) {
    const Ipv4Prefix& p = *config.tun.address;
    sockaddr_in a = SockAddr(FromHostOrder(p.addr), 0);
    std::memcpy(&req.ifr_addr, &a, sizeof(a));
    if (ioctl(s, SIOCSIFADDR, &req) != 0) st = Errno("SIOCSIFADDR");
    const std::uint32_t mask = p.len == 0 ? 0 : ~std::uint32_t{0} << (32 - p.len);
    a = SockAddr(FromHostOrder(mask), 0);
    std::memcpy(&req.ifr_netmask, &a, sizeof(a));
    if (st.ok() && ioctl(s, SIOCSIFNETMASK, &req) != 0) st = Errno("SIOCSIFNETMASK");
  }
  if (st.ok() && ioctl(s, SIOCGIFFLAGS, &req) != 0) st = Errno("SIOCGIFFLAGS");
  if (st.ok()) {
    req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
    if (ioctl(s, SIOCSIFFLAGS, &req) != 0) st = Errno("SIOCSIFFLAGS");
  }
  close(s);
  INLINESEC_RETURN_IF_ERROR(st);
  return loop.Add(tun_fd, EPOLLIN, [this](std::uint32_t) { OnTun(); });
}

Status Gateway::Impl::OpenIke() {
  Result<std::vector<ike::ConnectionConfig>> conns_ike = ike::LoadConfigFile(config.ike_config);
  if (!conns_ike.ok()) return conns_ike.status();
  random = std::make_unique<ike::OsRandom>();
  ike = std::make_unique<ike::IkeStack>(
      clock, timers, *random, *this, *this, [this](const ike::Datagram& d) {
        Status st = SendTo(d.src.port, ToSdk(d.dst.addr), d.dst.port, d.payload);
        if (!st.ok()) Log("IKE send: " + st.ToString());
      });
  for (ike::ConnectionConfig& c : *conns_ike) {
    const std::string name = c.name;
    Status st = ike->AddConnection(std::move(c));
    if (!st.ok()) return Status(st.code(), "IKE connection " + name + ": " + st.message());
  }
  // IKE_SA_INIT normally starts on port 500 (RFC 7296 §2.23).
  ike_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ike_fd < 0) return Errno("socket(udp 500)");
  const sockaddr_in local = SockAddr(config.local_address, config.ike_port);
  if (bind(ike_fd, reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0)
    return Errno("bind " + config.local_address.ToString() + ":" + std::to_string(config.ike_port));
  INLINESEC_RETURN_IF_ERROR(loop.Add(ike_fd, EPOLLIN, [this](std::uint32_t) { OnIke500(); }));
  ike_handler = [this](const sdk::IpAddress& from, std::uint16_t sport,
                       std::span<const std::uint8_t> datagram) {
    ike::Datagram d;
    d.src = ike::Endpoint{ToIke(from), sport};
    d.dst = ike::Endpoint{ToIke(config.local_address), kNatTPort};
    d.payload.assign(datagram.begin(), datagram.end());
    ike->Receive(d);
  };
  return Status::Ok();
}

Status Gateway::Impl::SendTo(std::uint16_t from_port, const sdk::IpAddress& to, std::uint16_t port,
                             std::span<const std::uint8_t> bytes) {
  const sockaddr_in sa_to = SockAddr(to, port);
  // From the socket of the port the IKE SA uses (500 or 4500).
  const int fd = from_port == kNatTPort || ike_fd < 0 ? udp_fd : ike_fd;
  if (sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&sa_to),
             sizeof(sa_to)) < 0)
    return Errno("sendto " + to.ToString());
  return Status::Ok();
}

void Gateway::Impl::OnIke500() {
  for (int i = 0; i < kMaxPacketsPerWakeup; ++i) {
    sockaddr_in from{};
    socklen_t flen = sizeof(from);
    const ssize_t n =
        recvfrom(ike_fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 0) return;
    ++counters.ike_rx;
    ike::Datagram d;
    d.src = ike::Endpoint{ToIke(FromHostOrder(ntohl(from.sin_addr.s_addr))), ntohs(from.sin_port)};
    d.dst = ike::Endpoint{ToIke(config.local_address), config.ike_port};
    d.payload.assign(buf.data(), buf.data() + n);
    ike->Receive(d);
  }
}

Status Gateway::Impl::Install(const ike::ChildSaSpec& spec) {
  if (spec.encr != ike::kEncrAesGcm16)
    return Status(Code::kUnimplemented, "only AES-GCM-16 ESP is offloaded");
  if (spec.mode != ike::IpsecMode::kTunnel)
    return Status(Code::kUnimplemented, "the gateway datapath is tunnel mode only");
  Conn* c = ConnByPeer(PeerOf(ToSdk(spec.remote.addr)));
  if (c == nullptr || c->manual)
    return Status(Code::kNotFound, "no IKE-keyed connection for " + spec.remote.ToString());
  if (spec.encr_key.size() != 20 && spec.encr_key.size() != 36)
    return Status(Code::kInvalidArgument, "AES-GCM key with salt must be 20 or 36 bytes");
  const bool in = spec.direction == ike::Direction::kInbound;
  sdk::SaDescription d;
  d.direction = in ? sdk::SaDirection::kInbound : sdk::SaDirection::kOutbound;
  d.spi = spec.spi;
  d.algo = spec.encr_key.size() == 20 ? sdk::AeadAlgo::kAesGcm128 : sdk::AeadAlgo::kAesGcm256;
  d.key.Assign(spec.encr_key.span().first(spec.encr_key.size() - 4));
  std::copy_n(spec.encr_key.data() + spec.encr_key.size() - 4, 4, d.salt.begin());
  d.esn = spec.esn;
  // Our datapath sends what the connection says (strongSwan's
  // kernel-libipsec always uses ESP in UDP, with or without a NAT).
  d.udp_encap = c->cfg.encap == Encap::kUdp || spec.udp_encap;
  d.mode = sdk::SaMode::kTunnel;
  d.tunnel_src = in ? ToSdk(spec.remote.addr) : config.local_address;
  d.tunnel_dst = in ? config.local_address : ToSdk(spec.remote.addr);
  if (d.udp_encap) {
    d.udp_sport = in ? spec.remote.port : kNatTPort;
    d.udp_dport = in ? kNatTPort : c->cfg.peer_port;
  }
  if (in) d.replay_window = 128;
  d.life.bytes_soft = spec.lifetime.soft_bytes;
  d.life.bytes_hard = spec.lifetime.hard_bytes;
  d.life.packets_soft = spec.lifetime.soft_packets;
  d.life.packets_hard = spec.lifetime.hard_packets;
  d.cookie = spec.child_id;
  Result<sdk::SaHandle> h = sa->Add(d);
  if (!h.ok()) return h.status();
  ike_handles[{in ? 0 : 1, spec.spi}] = *h;
  if (in && timeline && !timeline->child_up_at) timeline->child_up_at = clock.Now();
  (in ? c->in : c->out) = *h;
  c->algo = d.algo;
  Log(std::string("IKE Child SA installed: ") + c->cfg.name + (in ? " in " : " out ") +
      Hex32(h->spi) + " (index " + std::to_string(h->index) + ")");
  return Status::Ok();
}

Status Gateway::Impl::Remove(std::uint32_t spi, ike::Direction dir, const ike::Endpoint& peer) {
  const bool in = dir == ike::Direction::kInbound;
  auto it = ike_handles.find({in ? 0 : 1, spi});
  if (it == ike_handles.end()) return Status(Code::kNotFound, "no Child SA " + Hex32(spi));
  const sdk::SaHandle h = it->second;
  ike_handles.erase(it);
  for (Conn& c : conns) {
    if (in && c.in && *c.in == h) {
      c.in.reset();
      if (watch) watch->Forget(spi);
      inbound_seen.erase(spi);
      retired_in.emplace_back(PeerOf(ToSdk(peer.addr)), spi);
      if (retired_in.size() > 256) retired_in.erase(retired_in.begin());
    }
    if (!in && c.out && *c.out == h) c.out.reset();
  }
  return sa->Delete(h);
}

Result<ike::ChildSaUsage> Gateway::Impl::Query(std::uint32_t spi, ike::Direction dir,
                                               const ike::Endpoint&) {
  auto it = ike_handles.find({dir == ike::Direction::kInbound ? 0 : 1, spi});
  if (it == ike_handles.end()) return Status(Code::kNotFound, "no Child SA " + Hex32(spi));
  Result<sdk::SaCounters> rc = sa->ReadCounters(it->second);
  if (!rc.ok()) return rc.status();
  ike::ChildSaUsage u;
  u.bytes = rc->bytes;
  u.packets = rc->packets;
  return u;
}

Status Gateway::Impl::OpenSockets() {
  udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (udp_fd < 0) return Errno("socket(udp)");
  const int big = 4 << 20;
  (void)setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  sockaddr_in local = SockAddr(config.local_address, config.udp_port);
  if (bind(udp_fd, reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
    return Errno("bind " + config.local_address.ToString() + ":" + std::to_string(config.udp_port));
  }
  INLINESEC_RETURN_IF_ERROR(loop.Add(udp_fd, EPOLLIN, [this](std::uint32_t) { OnUdp(); }));
  if (config.raw_esp) {
    raw_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
    if (raw_fd < 0) return Errno("socket(raw ESP)");
    INLINESEC_RETURN_IF_ERROR(loop.Add(raw_fd, EPOLLIN, [this](std::uint32_t) { OnRaw(); }));
  }
  return Status::Ok();
}

// Runs kRecreateWait after a lost Child SA was deleted at the peer: if
// no Child SA of that connection came up meanwhile, create one.
void Gateway::Impl::Recreate(const ike::ChildSaInfo& lost) {
  recreate_timer = kNoTimer;
  for (const Conn& c : conns) {
    if (c.cfg.name != lost.connection) continue;
    if (c.in && sa->Contains(*c.in)) {
      Log("recovery: " + lost.connection + "/" + lost.child +
          " has an inbound SA again (re-created by the peer or still up): not re-created by us");
      return;
    }
  }
  Status st = ike->CreateChild(lost.ike_sa_id, lost.child);
  Log("recovery: " + lost.connection + "/" + lost.child + " re-created by us: " + st.ToString());
}

// Fault "lose-child": the first IKE-keyed connection's inbound Child SA
// leaves the engine and the shadow as if it had expired unnoticed; the
// peer is not told and keeps sending on it. Its SPI is remembered as ours
// (retired), so recovery may ask the peer to delete it.
Status Gateway::Impl::LoseChild() {
  for (Conn& c : conns) {
    if (c.manual || !c.in) continue;
    const sdk::SaHandle h = *c.in;
    ike_handles.erase({0, h.spi});
    c.in.reset();
    retired_in.emplace_back(PeerOf(c.cfg.peer), h.spi);
    if (retired_in.size() > 256) retired_in.erase(retired_in.begin());
    INLINESEC_RETURN_IF_ERROR(sa->Delete(h));
    Log("fault: inbound Child SA " + Hex32(h.spi) + " of " + c.cfg.name +
        " removed from the engine and the shadow");
    return Status::Ok();
  }
  return Status(Code::kNotFound, "no IKE-keyed Child SA to lose");
}

void Gateway::Impl::Log(const std::string& line) {
  if (!log_limit.TryTake(clock.Now())) {
    ++counters.log_suppressed;
    return;
  }
  if (counters.log_suppressed != 0) {
    std::fprintf(stderr, "inlinesecd: (%llu log lines suppressed so far)\n",
                 static_cast<unsigned long long>(counters.log_suppressed));
  }
  std::fprintf(stderr, "inlinesecd: %s\n", line.c_str());
}

void Gateway::Impl::Publish(const json& j) {
  if (subs.empty()) return;
  const std::string text = j.dump();
  auto copy = subs;  // a subscriber may unsubscribe while we iterate
  for (auto& [id, fn] : copy) fn(text);
}

Gateway::Impl::Conn* Gateway::Impl::Route(std::uint32_t src, std::uint32_t dst) {
  for (Conn& c : conns) {
    bool r = false, l = false;
    for (const Ipv4Prefix& p : c.cfg.remote_ts) r = r || p.Contains(dst);
    for (const Ipv4Prefix& p : c.cfg.local_ts) l = l || p.Contains(src);
    if (r && l) return &c;
  }
  return nullptr;
}

Gateway::Impl::Conn* Gateway::Impl::ConnByPeer(const recovery::Peer& p) {
  for (Conn& c : conns)
    if (!p.v6 && PeerOf(c.cfg.peer) == p) return &c;
  return nullptr;
}

void Gateway::Impl::OnTun() {
  std::uint8_t* data = buf.data() + model::kTxHeadroom;
  const std::size_t room = buf.size() - model::kTxHeadroom - model::kTxTailroom;
  for (int i = 0; i < kMaxPacketsPerWakeup; ++i) {
    const ssize_t n = read(tun_fd, data, room);
    if (n <= 0) return;
    ++counters.tun_rx;
    const auto len = static_cast<std::size_t>(n);
    if (len < kIpv4Header || (data[0] >> 4) != 4) {
      ++counters.tun_non_ipv4;
      continue;
    }
    Conn* c = Route(Be32(data + 12), Be32(data + 16));
    if (c == nullptr) {
      ++counters.tx_no_route;
      continue;
    }
    if (!c->out) {
      ++counters.tx_no_sa;
      continue;
    }
    Transmit(*c, len);
  }
}

void Gateway::Impl::Transmit(Conn& c, std::size_t len) {
  model::Frame f{buf, model::kTxHeadroom, len};
  abi::TxMeta meta{};
  meta.sa_index.set(c.out->index);
  meta.flags.set(abi::tx_flags::Offload::Set(0, 1));
  const abi::ExqReason r = model->WithEngine([&](model::Engine& e) { return e.Transmit(meta, f); });
  if (r != abi::ExqReason::kNone) {
    ++counters.tx_engine_drop;
    return;
  }
  const std::span<const std::uint8_t> pkt = f.bytes();
  const std::size_t ihl = std::size_t{pkt[0] & 0x0Fu} * 4;
  const std::size_t skip = ihl + (c.cfg.encap == Encap::kUdp ? kUdpHeader : 0);
  if (pkt.size() < skip) {
    ++counters.tx_engine_drop;
    return;
  }
  const int fd = c.cfg.encap == Encap::kUdp ? udp_fd : raw_fd;
  const ssize_t sent = sendto(fd, pkt.data() + skip, pkt.size() - skip, 0,
                              reinterpret_cast<const sockaddr*>(&c.peer_sa), sizeof(c.peer_sa));
  if (sent < 0) {
    ++counters.tx_send_errors;
  } else {
    ++counters.tx_esp;
  }
}

void Gateway::Impl::OnUdp() {
  constexpr std::size_t kHdr = kIpv4Header + kUdpHeader;
  std::uint8_t* payload = buf.data() + model::kTxHeadroom;
  const std::size_t room = buf.size() - model::kTxHeadroom;
  for (int i = 0; i < kMaxPacketsPerWakeup; ++i) {
    sockaddr_in from{};
    socklen_t flen = sizeof(from);
    const ssize_t n = recvfrom(udp_fd, payload, room, 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 0) break;
    ++counters.rx_udp;
    const auto len = static_cast<std::size_t>(n);
    const std::uint32_t src = ntohl(from.sin_addr.s_addr);
    const std::uint16_t sport = ntohs(from.sin_port);
    BuildOuter(payload - kHdr, src, local_host, true, sport, len);
    model::Frame f{buf, model::kTxHeadroom - kHdr, kHdr + len};
    ReceiveFrame(f, FromHostOrder(src), sport, {payload, len});
  }
  DrainIfFailed();
}

void Gateway::Impl::OnRaw() {
  std::uint8_t* data = buf.data() + model::kTxHeadroom;
  const std::size_t room = buf.size() - model::kTxHeadroom;
  for (int i = 0; i < kMaxPacketsPerWakeup; ++i) {
    sockaddr_in from{};
    socklen_t flen = sizeof(from);
    const ssize_t n = recvfrom(raw_fd, data, room, 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 0) break;
    ++counters.rx_raw;
    // An IPv4 raw socket hands over the IP header too: the engine's input.
    model::Frame f{buf, model::kTxHeadroom, static_cast<std::size_t>(n)};
    ReceiveFrame(f, FromHostOrder(ntohl(from.sin_addr.s_addr)), 0, {});
  }
  DrainIfFailed();
}

void Gateway::Impl::ReceiveFrame(model::Frame& f, const sdk::IpAddress& from, std::uint16_t sport,
                                 std::span<const std::uint8_t> udp_payload) {
  const abi::RxMeta m = model->WithEngine([&](model::Engine& e) { return e.Receive(f); });
  const auto status = static_cast<abi::RxStatus>(abi::rx_ctl::Status::Get(m.ctl.get()));
  switch (status) {
    case abi::RxStatus::kDecrypted: {
      ++counters.rx_decrypted;
      if (timeline && (timeline->resync_at || timeline->child_up_at) && !timeline->restored_at) {
        timeline->restored_at = clock.Now();
        Log("recovery: traffic restored " +
            std::to_string(Millis(*timeline->restored_at - timeline->fault_at)) +
            " ms after fault " + timeline->kind);
      }
      const std::span<const std::uint8_t> inner = f.bytes();
      if (write(tun_fd, inner.data(), inner.size()) < 0) ++counters.tun_write_errors;
      break;
    }
    case abi::RxStatus::kIkeToHost:
      if (udp_payload.size() == 1) {
        ++counters.keepalives;
      } else {
        ++counters.ike_rx;
        if (ike_handler) {
          ike_handler(from, sport, udp_payload);
        } else {
          ++counters.ike_unhandled;
        }
      }
      break;
    case abi::RxStatus::kFailed:
      ++counters.rx_failed;
      failed_in_batch = true;
      break;
    case abi::RxStatus::kBypass:
      ++counters.rx_bypass;
      break;
  }
}

Status Gateway::Impl::DoResync(const char* why) {
  const TimePoint t0 = clock.Now();
  Status st = sa->Resync();
  ++counters.resyncs;
  Log(std::string("resync (") + why + "): " + std::to_string(sa->size()) +
      " SAs re-programmed in " + std::to_string(Millis(clock.Now() - t0)) +
      " ms: " + (st.ok() ? "ok" : st.ToString()));
  if (st.ok() && timeline && !timeline->resync_at) timeline->resync_at = clock.Now();
  Publish({{"type", "resync"}, {"why", why}, {"ok", st.ok()}, {"sas", sa->size()}});
  return st;
}

void Gateway::Impl::OnExceptions() {
  for (int round = 0; round < 16; ++round) {
    events.clear();
    Result<std::size_t> n = consumer->Poll(events, 256);
    if (!n.ok()) {
      Log("exception ring: " + n.status().ToString());
      return;
    }
    misses.clear();
    bool tx_no_sa = false;
    const TimePoint now = clock.Now();
    for (const sdk::Event& ev : events) {
      if (ev.kind == sdk::EventKind::kSpiMiss && !ev.packet.outbound) {
        misses.push_back({PeerOf(ev.packet.src), ev.packet.sport, ev.packet.spi});
      } else if (ev.kind == sdk::EventKind::kTxNoSa) {
        tx_no_sa = true;
      }
      sa->OnDeviceEvent(ev);
      if (subs.empty()) continue;
      if (!stream_limit.TryTake(now)) {
        ++stream_suppressed;
        continue;
      }
      json j = {{"type", "exception"}, {"kind", std::string(sdk::EventKindName(ev.kind))}};
      if (ev.kind == sdk::EventKind::kRingOverflow) {
        j["dropped"] = ev.dropped;
      } else {
        j["spi"] = Hex32(ev.packet.spi);
        j["src"] = ev.packet.src.ToString();
        j["dst"] = ev.packet.dst.ToString();
        j["sport"] = ev.packet.sport;
        j["outbound"] = ev.packet.outbound;
        j["seq"] = ev.packet.seq;
      }
      if (stream_suppressed != 0) {
        j["suppressed_before"] = stream_suppressed;
        stream_suppressed = 0;
      }
      Publish(j);
    }
    if (!misses.empty()) recovery->OnSpiMisses(misses);
    // Outbound packets met an empty slot although the shadow holds the SA:
    // the table was lost, and a silent peer would never send the SPI miss
    // that triggers the resync, so do it here (same global limit).
    if (tx_no_sa && sa->size() > 0 && tx_resync_limit.TryTake(now)) {
      ++counters.tx_resync;
      (void)DoResync("tx-no-sa");
    }
    if (*n < 256) return;
  }
}

void Gateway::Impl::Housekeeping() {
  Result<bool> r = sa->CheckDevice();
  if (!r.ok()) {
    Log("device check: " + r.status().ToString());
  } else if (*r) {
    ++counters.resyncs;
    ++counters.epoch_resync;
    Log("engine epoch changed behind the driver: SA table re-programmed from the shadow (" +
        std::to_string(sa->size()) + " SAs)");
    if (timeline && !timeline->resync_at) timeline->resync_at = clock.Now();
  }
  const TimePoint now = clock.Now();
  if (now >= next_seq_refresh) {
    (void)sa->RefreshSequenceNumbers();
    next_seq_refresh = now + config.sequence_refresh_interval;
  }
  if (consumer->fd() < 0) OnExceptions();
  if (now >= next_watch) {
    WatchTraffic(now);
    next_watch = now + config.liveness_stall / 4;
  }
  housekeeping_timer = timers.Arm(now + config.housekeeping_interval, [this] { Housekeeping(); });
}

// An IKE Child SA whose outbound packets grow while its inbound count is
// stuck: the peer may have lost its SAs or died. A DPD now (rate-limited
// per peer by the recovery engine) lets the IKE stack find out long before
// the periodic DPD; a live peer that restarted re-initiates anyway.
void Gateway::Impl::WatchTraffic(TimePoint now) {
  if (!ike) return;
  if (!watch) watch.emplace(config.liveness_stall);
  for (const Conn& c : conns) {
    if (c.manual || !c.in || !c.out) continue;
    Result<sdk::SaCounters> in = sa->ReadCounters(*c.in);
    Result<sdk::SaCounters> out = sa->ReadCounters(*c.out);
    if (!in.ok() || !out.ok()) continue;
    // Inbound ESP on this Child SA proves the peer alive: IKE's DPD need not
    // probe an active tunnel (RFC 7296 §2.4).
    auto [seen, fresh] = inbound_seen.try_emplace(c.in->spi, in->packets);
    if (!fresh && seen->second != in->packets) {
      seen->second = in->packets;
      ike->ChildSaTrafficSeen(c.in->spi);
    }
    if (!watch->Sample(c.in->spi, in->packets, out->packets, now)) continue;
    const recovery::Peer p = PeerOf(c.cfg.peer);
    const bool sent = recovery->OnTrafficStall(p);
    Log("liveness: " + c.cfg.name + " sends on " + Hex32(c.out->spi) + " but nothing came in on " +
        Hex32(c.in->spi) + " for " + std::to_string(Millis(config.liveness_stall)) + " ms: " +
        (sent ? "DPD sent to " + recovery::PeerToString(p) : std::string("DPD rate-limited")));
    Publish({{"type", "liveness"}, {"connection", c.cfg.name}, {"dpd", sent}});
  }
}

// --- Gateway ---

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

Result<std::unique_ptr<Gateway>> Gateway::Create(GatewayConfig config, const Clock& clock,
                                                 Timers& timers, EventLoop& loop) {
  auto impl = std::make_unique<Impl>(std::move(config), clock, timers, loop);
  INLINESEC_RETURN_IF_ERROR(impl->Open());
  std::unique_ptr<Gateway> gw(new Gateway(std::move(impl)));
  // Static SAs: installed now, their keys wiped from the config afterwards.
  for (ConnectionConfig& cc : gw->impl_->config.connections) {
    if (!cc.manual) continue;
    ChildSaSpec spec;
    spec.connection = cc.name;
    spec.spi_in = cc.manual->spi_in;
    spec.spi_out = cc.manual->spi_out;
    spec.algo = cc.manual->algo;
    spec.key_in = &cc.manual->key_in;
    spec.key_out = &cc.manual->key_out;
    spec.replay_window = cc.manual->replay_window;
    spec.esn = cc.manual->esn;
    Status st = gw->InstallChild(spec);
    cc.manual->key_in.Clear();
    cc.manual->key_out.Clear();
    if (!st.ok()) return Status(st.code(), "connection " + cc.name + ": " + st.message());
  }
  Impl& g = *gw->impl_;
  for (const Impl::Conn& c : g.conns) {
    if (c.manual || !c.cfg.initiate) continue;
    if (!g.ike)
      return Status(Code::kInvalidArgument,
                    "connection " + c.cfg.name + ": initiate needs \"ike_config\"");
    Result<std::uint64_t> id = g.ike->Initiate(c.cfg.name);
    if (!id.ok())
      return Status(id.status().code(), "initiate " + c.cfg.name + ": " + id.status().message());
    g.Log("IKE: initiating " + c.cfg.name);
  }
  return gw;
}

Status Gateway::InstallChild(const ChildSaSpec& spec) {
  Impl& g = *impl_;
  Impl::Conn* c = nullptr;
  for (Impl::Conn& x : g.conns)
    if (x.cfg.name == spec.connection) c = &x;
  if (c == nullptr) return Status(Code::kNotFound, "no connection " + spec.connection);
  if (spec.key_in == nullptr || spec.key_out == nullptr || spec.key_in->size() < 20 ||
      spec.key_out->size() < 20)
    return Status(Code::kInvalidArgument, "Child SA keys missing");
  const auto describe = [&](sdk::SaDirection dir, const SecureBytes& key) {
    sdk::SaDescription d;
    d.direction = dir;
    d.algo = spec.algo;
    d.key.Assign(key.span().first(key.size() - 4));
    std::copy_n(key.data() + key.size() - 4, 4, d.salt.begin());
    d.esn = spec.esn;
    d.udp_encap = c->cfg.encap == Encap::kUdp;
    d.mode = sdk::SaMode::kTunnel;
    const bool in = dir == sdk::SaDirection::kInbound;
    d.spi = in ? spec.spi_in : spec.spi_out;
    d.tunnel_src = in ? c->cfg.peer : g.config.local_address;
    d.tunnel_dst = in ? g.config.local_address : c->cfg.peer;
    if (d.udp_encap) {
      d.udp_sport = in ? c->cfg.peer_port : kNatTPort;
      d.udp_dport = in ? kNatTPort : c->cfg.peer_port;
    }
    if (in) d.replay_window = spec.replay_window;
    d.cookie = in ? 1 : 2;
    return d;
  };
  // Inbound first: its SPI names a fixed table index, the outbound SA takes
  // any free one.
  sdk::SaDescription in = describe(sdk::SaDirection::kInbound, *spec.key_in);
  Result<sdk::SaHandle> hin = g.sa->Add(in);
  if (!hin.ok()) return Status(hin.status().code(), "inbound SA: " + hin.status().message());
  sdk::SaDescription out = describe(sdk::SaDirection::kOutbound, *spec.key_out);
  Result<sdk::SaHandle> hout = g.sa->Add(out);
  if (!hout.ok()) {
    (void)g.sa->Delete(*hin);
    return Status(hout.status().code(), "outbound SA: " + hout.status().message());
  }
  if (c->in) {
    g.retired_in.emplace_back(PeerOf(c->cfg.peer), c->in->spi);
    if (g.retired_in.size() > 256) g.retired_in.erase(g.retired_in.begin());
    (void)g.sa->Delete(*c->in);
  }
  if (c->out) (void)g.sa->Delete(*c->out);
  c->in = *hin;
  c->out = *hout;
  c->algo = spec.algo;
  g.Log("child SA installed: " + spec.connection + " in " + Hex32(hin->spi) + " (index " +
        std::to_string(hin->index) + ") out " + Hex32(hout->spi) + " (index " +
        std::to_string(hout->index) + ") " + AlgoName(spec.algo));
  return Status::Ok();
}

std::string Gateway::StatusJson() {
  Impl& g = *impl_;
  const TimePoint now = g.clock.Now();
  json conns = json::array();
  for (const Impl::Conn& c : g.conns) {
    json j = {{"name", c.cfg.name},
              {"peer", c.cfg.peer.ToString()},
              {"peer_port", c.cfg.peer_port},
              {"static_peer", c.cfg.static_peer},
              {"encap", c.cfg.encap == Encap::kUdp ? "udp" : "esp"},
              {"keying", c.manual ? "manual" : "ike"},
              {"state", c.in && c.out && g.sa->Contains(*c.in) ? "installed" : "down"}};
    json lts = json::array(), rts = json::array();
    for (const Ipv4Prefix& p : c.cfg.local_ts) lts.push_back(p.ToString());
    for (const Ipv4Prefix& p : c.cfg.remote_ts) rts.push_back(p.ToString());
    j["local_ts"] = lts;
    j["remote_ts"] = rts;
    if (c.in) j["spi_in"] = Hex32(c.in->spi);
    if (c.out) j["spi_out"] = Hex32(c.out->spi);
    conns.push_back(j);
  }
  const driver::Capabilities& caps = g.device->caps();
  json j = {{"daemon", "inlinesecd"},
            {"uptime_s", std::chrono::duration<double>(now - g.started).count()},
            {"device",
             {{"uri", g.config.device},
              {"transport", g.device->transport().Describe()},
              {"abi", std::to_string(caps.abi_major) + "." + std::to_string(caps.abi_minor)},
              {"sa_capacity", caps.sa_capacity},
              {"epoch", g.device->epoch()}}},
            {"local_address", g.config.local_address.ToString()},
            {"udp_port", g.config.udp_port},
            {"raw_esp", g.config.raw_esp},
            {"tun", g.config.tun.name},
            {"ike", g.ike ? "on (" + std::to_string(g.ike->IkeSas().size()) + " IKE SAs)"
                          : "off (manual keying only)"},
            {"connections", conns},
            {"recent_decisions", g.recent_decisions}};
  if (g.timeline) {
    const Impl::Timeline& t = *g.timeline;
    json tl = {{"fault", t.kind}, {"apply_ms", t.apply_ms}, {"ago_ms", Millis(now - t.fault_at)}};
    if (t.resync_at) tl["resync_after_ms"] = Millis(*t.resync_at - t.fault_at);
    if (t.decision_at) {
      tl["decision_after_ms"] = Millis(*t.decision_at - t.fault_at);
      tl["decision"] = t.decision;
    }
    if (t.child_up_at) tl["child_sa_up_after_ms"] = Millis(*t.child_up_at - t.fault_at);
    if (t.restored_at) tl["restored_after_ms"] = Millis(*t.restored_at - t.fault_at);
    j["last_fault"] = tl;
  }
  return j.dump();
}

std::string Gateway::SasJson() {
  Impl& g = *impl_;
  json child = json::array();
  for (const Impl::Conn& c : g.conns) {
    for (const auto& [dir, h] : {std::pair{"in", c.in}, std::pair{"out", c.out}}) {
      if (!h) continue;
      json j = {{"connection", c.cfg.name}, {"direction", dir},
                {"spi", Hex32(h->spi)},     {"index", h->index},
                {"algo", AlgoName(c.algo)}, {"keying", c.manual ? "manual" : "ike"}};
      Result<sdk::SaCounters> rc = g.sa->ReadCounters(*h);
      if (rc.ok()) {
        j["packets"] = rc->packets;
        j["bytes"] = rc->bytes;
        j["seq"] = rc->seq;
        j["replay_drops"] = rc->replay_drops;
        j["auth_fails"] = rc->auth_fails;
        j["in_engine"] = true;
      } else {
        j["in_engine"] = false;
        j["error"] = rc.status().ToString();
      }
      child.push_back(j);
    }
  }
  json ike_sas = json::array();
  if (g.ike) {
    for (const ike::IkeSaInfo& i : g.ike->IkeSas()) {
      const char* state = i.state == ike::IkeSaState::kEstablished  ? "established"
                          : i.state == ike::IkeSaState::kConnecting ? "connecting"
                                                                    : "closing";
      ike_sas.push_back({{"id", i.id},
                         {"connection", i.connection},
                         {"spi_i", Hex64(i.spi_i)},
                         {"spi_r", Hex64(i.spi_r)},
                         {"remote", i.remote.ToString()},
                         {"state", state},
                         {"initiator", i.original_initiator},
                         {"nat", i.nat}});
    }
  }
  json j = {{"sa_table", {{"capacity", g.device->caps().sa_capacity}, {"used", g.sa->size()}}},
            {"ike_sas", ike_sas},
            {"child_sas", child}};
  return j.dump();
}

std::string Gateway::CountersJson() {
  Impl& g = *impl_;
  const DatapathCounters& d = g.counters;
  json dp = {{"tun_rx", d.tun_rx},
             {"tun_non_ipv4", d.tun_non_ipv4},
             {"tx_no_route", d.tx_no_route},
             {"tx_no_sa", d.tx_no_sa},
             {"tx_esp", d.tx_esp},
             {"tx_engine_drop", d.tx_engine_drop},
             {"tx_send_errors", d.tx_send_errors},
             {"rx_udp", d.rx_udp},
             {"rx_raw", d.rx_raw},
             {"rx_decrypted", d.rx_decrypted},
             {"rx_failed", d.rx_failed},
             {"rx_bypass", d.rx_bypass},
             {"ike_rx", d.ike_rx},
             {"ike_unhandled", d.ike_unhandled},
             {"keepalives", d.keepalives},
             {"tun_write_errors", d.tun_write_errors},
             {"resyncs", d.resyncs},
             {"tx_resync", d.tx_resync},
             {"epoch_resync", d.epoch_resync},
             {"log_suppressed", d.log_suppressed}};
  const sdk::ConsumerStats& cs = g.consumer->stats();
  json ex = {
      {"entries", cs.entries}, {"corrupt", cs.corrupt}, {"overflow_dropped", cs.overflow_dropped}};
  for (std::size_t k = 0; k < sdk::kEventKinds; ++k)
    ex[std::string(sdk::EventKindName(static_cast<sdk::EventKind>(k)))] = cs.by_kind[k];
  const recovery::RecoveryCounters& r = g.recovery->counters();
  json rec = {{"events", r.events},
              {"aggregated", r.aggregated},
              {"suppressed", r.suppressed},
              {"resync", r.resync},
              {"notify", r.notify},
              {"notify_with_delete", r.notify_with_delete},
              {"initiate", r.initiate},
              {"unprotected_notify", r.unprotected_notify},
              {"drop_unknown", r.drop_unknown},
              {"rate_limited_resync", r.rate_limited_resync},
              {"rate_limited_notify", r.rate_limited_notify},
              {"rate_limited_initiate", r.rate_limited_initiate},
              {"rate_limited_unprotected", r.rate_limited_unprotected},
              {"action_failed", r.action_failed},
              {"untracked", r.untracked},
              {"protected_invalid_spi_received", r.protected_invalid_spi_received},
              {"unprotected_invalid_spi_received", r.unprotected_invalid_spi_received},
              {"liveness_checks", r.liveness_checks},
              {"rate_limited_liveness", r.rate_limited_liveness}};
  const driver::DeviceStats ds = g.device->stats();
  json dev = {{"commands", ds.commands},
              {"command_errors", ds.command_errors},
              {"timeouts", ds.timeouts},
              {"resets", ds.resets},
              {"unexpected_resets", ds.unexpected_resets}};
  json j = {{"datapath", dp}, {"exceptions", ex}, {"recovery", rec}, {"driver", dev}};
  return j.dump();
}

std::string Gateway::RegsJson() {
  json regs = json::array();
  for (const driver::RegisterValue& r : impl_->device->DumpRegisters()) {
    regs.push_back(
        {{"name", std::string(r.name)}, {"offset", Hex32(r.offset)}, {"value", Hex32(r.value)}});
  }
  return json({{"registers", regs}}).dump();
}

Result<std::string> Gateway::IkeCommand(std::string_view kind) {
  Impl& g = *impl_;
  if (!g.ike) return Status(Code::kFailedPrecondition, "IKE is off (config ike_config)");
  json done = json::array();
  Status st;
  if (kind == "rekey-child" || kind == "delete-child") {
    for (const ike::ChildSaInfo& c : g.ike->ChildSas()) {
      st = kind == "rekey-child" ? g.ike->RekeyChild(c.id) : g.ike->DeleteChild(c.id);
      if (!st.ok()) break;
      done.push_back(c.id);
    }
  } else if (kind == "rekey-ike" || kind == "delete-ike") {
    for (const ike::IkeSaInfo& i : g.ike->IkeSas()) {
      if (i.state != ike::IkeSaState::kEstablished) continue;
      st = kind == "rekey-ike" ? g.ike->RekeyIke(i.id) : g.ike->DeleteIke(i.id);
      if (!st.ok()) break;
      done.push_back(i.id);
    }
  } else if (kind == "initiate") {
    for (const Impl::Conn& c : g.conns) {
      if (c.manual) continue;
      Result<std::uint64_t> id = g.ike->Initiate(c.cfg.name);
      if (!id.ok()) {
        st = id.status();
        break;
      }
      done.push_back(*id);
    }
  } else {
    return Status(Code::kInvalidArgument,
                  "unknown IKE action " + std::string(kind) +
                      " (rekey-child, rekey-ike, delete-child, delete-ike, initiate)");
  }
  if (!st.ok()) return st;
  g.Log("IKE: operator " + std::string(kind) + " on " + done.dump());
  return json({{"action", std::string(kind)}, {"ids", done}}).dump();
}

Result<std::string> Gateway::InjectFault(std::string_view kind) {
  Impl& g = *impl_;
  if (!g.config.allow_faults)
    return Status(Code::kFailedPrecondition, "fault injection is off (config allow_faults)");
  const TimePoint t0 = g.clock.Now();
  Status st;
  if (kind == "reset") {
    st = g.device->Reset();
  } else if (kind == "reset-behind") {
    const std::uint32_t ctrl = g.device->Peek(abi::Off(abi::Reg::kCtrl));
    g.device->Poke(abi::Off(abi::Reg::kCtrl), abi::ctrl::Reset::Set(ctrl, 1));
  } else if (kind == "flush") {
    st = g.device->FlushTable();
  } else if (kind == "lose-child") {
    st = g.LoseChild();
  } else {
    return Status(Code::kInvalidArgument, "unknown fault " + std::string(kind) +
                                              " (reset, reset-behind, flush, lose-child)");
  }
  if (!st.ok()) return st;
  // The timeline starts once the fault is complete (the table is certainly
  // gone); applying it took `apply_ms`.
  const TimePoint t1 = g.clock.Now();
  g.timeline = Impl::Timeline{};
  g.timeline->kind = std::string(kind);
  g.timeline->fault_at = t1;
  g.timeline->apply_ms = Millis(t1 - t0);
  g.Log("fault injected: " + std::string(kind) + " (took " + std::to_string(Millis(t1 - t0)) +
        " ms)");
  g.Publish({{"type", "fault"}, {"kind", std::string(kind)}});
  return json({{"fault", std::string(kind)}, {"injected", true}}).dump();
}

std::uint64_t Gateway::Subscribe(Subscriber s) {
  const std::uint64_t id = impl_->next_sub++;
  impl_->subs.emplace_back(id, std::move(s));
  return id;
}

void Gateway::Unsubscribe(std::uint64_t id) {
  auto& subs = impl_->subs;
  for (auto it = subs.begin(); it != subs.end(); ++it) {
    if (it->first == id) {
      subs.erase(it);
      return;
    }
  }
}

void Gateway::SetIkeHandler(IkeHandler handler) { impl_->ike_handler = std::move(handler); }

Status Gateway::SendIke(const sdk::IpAddress& to, std::uint16_t dport,
                        std::span<const std::uint8_t> datagram) {
  const sockaddr_in sa = SockAddr(to, dport);
  if (sendto(impl_->udp_fd, datagram.data(), datagram.size(), 0,
             reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) < 0)
    return Errno("sendto " + to.ToString());
  return Status::Ok();
}

const DatapathCounters& Gateway::counters() const { return impl_->counters; }
const GatewayConfig& Gateway::config() const { return impl_->config; }

}  // namespace inlinesec::gateway
