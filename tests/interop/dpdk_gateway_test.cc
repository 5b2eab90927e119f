// DPDK integration of the inline engine, in one process under one EAL
// (--no-huge --no-pci, ports made from rte_rings, crypto_openssl vdev):
//  - the rte_security context: capabilities, session create/update/stats/
//    destroy, bad configurations refused with a clear error;
//  - the burst functions: order, failures to the tail, multi-segment and
//    metadata-less mbufs rejected and counted;
//  - two example gateways in opposite roles: packets arrive intact;
//  - DPDK lib/ipsec (crypto_openssl) decrypts what the gateway sends and the
//    gateway decrypts what lib/ipsec sends;
//  - unknown SPIs become exception events, packet lifetimes become
//    RTE_ETH_EVENT_IPSEC callbacks with the session userdata.
// EAL starts once per process (a global environment); every test skips with
// the reason if it cannot.
#define ALLOW_EXPERIMENTAL_API 1

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "dpdk_libipsec_ref.h"
#include "gateway.h"
#include "gateway_config.h"
#include "inlinesec/dpdk/inline_security.h"

namespace inlinesec {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct Eal {
  bool ok = false;
  bool netns = false;  // the process runs in its own network namespace
  std::string why;
  rte_mempool* mbufs = nullptr;
  dpdk_ref::CryptoDev openssl;
  bool have_openssl = false;
  std::string openssl_why;
};

Eal& TheEal() {
  static Eal eal;
  return eal;
}

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    Eal& e = TheEal();
    // TAP ports appear as kernel interfaces: keep them in a namespace of
    // this process (needs root; the TAP test skips without it).
    e.netns = ::unshare(CLONE_NEWNET) == 0;
    dpdk_ref::EalOptions eal;
    eal.program = "dpdk_gateway_test";
    eal.tag = "gw";
    eal.vdevs = {"crypto_openssl"};
    if (!dpdk_ref::StartEal(eal, e.why)) return;
    e.mbufs = rte_pktmbuf_pool_create("gw_test_mbufs", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    if (e.mbufs == nullptr) {
      e.why = "cannot create the mbuf pool";
      return;
    }
    e.have_openssl = dpdk_ref::OpenCryptoDev("crypto_openssl", e.openssl, e.openssl_why);
    e.ok = true;
  }
};

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

#define REQUIRE_EAL()                               \
  do {                                              \
    if (!TheEal().ok) GTEST_SKIP() << TheEal().why; \
  } while (0)

// Two ring ports wired back to back: what one sends the other receives.
struct Wire {
  std::uint16_t a = 0;
  std::uint16_t b = 0;
};

Wire MakeWire(const std::string& name) {
  const std::string n1 = name + "_ab", n2 = name + "_ba";
  rte_ring* ab = rte_ring_create(n1.c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring* ba = rte_ring_create(n2.c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  EXPECT_NE(ab, nullptr);
  EXPECT_NE(ba, nullptr);
  const int a = rte_eth_from_rings((name + "_a").c_str(), &ba, 1, &ab, 1, 0);
  const int b = rte_eth_from_rings((name + "_b").c_str(), &ab, 1, &ba, 1, 0);
  EXPECT_GE(a, 0);
  EXPECT_GE(b, 0);
  Wire w{static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b)};
  EXPECT_TRUE(dpdk_gateway::SetupPort(w.a, TheEal().mbufs, 512, 512).ok());
  EXPECT_TRUE(dpdk_gateway::SetupPort(w.b, TheEal().mbufs, 512, 512).ok());
  return w;
}

// IPv4/UDP packet (no L2) with a deterministic payload and valid checksum.
Bytes Ipv4Udp(std::array<std::uint8_t, 4> src, std::array<std::uint8_t, 4> dst, std::size_t payload,
              std::uint8_t seed) {
  Bytes p(28 + payload);
  const std::size_t total = p.size();
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(total >> 8);
  p[3] = static_cast<std::uint8_t>(total);
  p[4] = seed;
  p[8] = 64;
  p[9] = 17;
  std::memcpy(&p[12], src.data(), 4);
  std::memcpy(&p[16], dst.data(), 4);
  p[20] = 0x30;
  p[21] = 0x39;
  p[22] = 0x30;
  p[23] = 0x3A;
  p[24] = static_cast<std::uint8_t>((8 + payload) >> 8);
  p[25] = static_cast<std::uint8_t>(8 + payload);
  for (std::size_t i = 0; i < payload; ++i) p[28 + i] = static_cast<std::uint8_t>(seed + i * 7);
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(p.data());
  h->hdr_checksum = rte_ipv4_cksum(h);
  return p;
}

rte_mbuf* MbufOf(const Bytes& ip, bool with_l2 = true) {
  rte_mbuf* m = rte_pktmbuf_alloc(TheEal().mbufs);
  if (m == nullptr) return nullptr;
  if (with_l2) {
    auto* eth = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, RTE_ETHER_HDR_LEN));
    const std::uint8_t hdr[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
    std::memcpy(eth, hdr, sizeof(hdr));
  }
  std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(ip.size())), ip.data(), ip.size());
  return m;
}

Bytes BytesOf(const rte_mbuf* m, std::size_t skip = 0) {
  const auto* d = rte_pktmbuf_mtod(m, const std::uint8_t*);
  return Bytes(d + skip, d + m->data_len);
}

void Send(std::uint16_t port, const std::vector<Bytes>& ips) {
  std::vector<rte_mbuf*> ms;
  for (const Bytes& ip : ips) ms.push_back(MbufOf(ip));
  const std::uint16_t sent =
      rte_eth_tx_burst(port, 0, ms.data(), static_cast<std::uint16_t>(ms.size()));
  ASSERT_EQ(sent, ms.size());
}

// Everything waiting on `port`, as frames.
std::vector<Bytes> Drain(std::uint16_t port) {
  std::vector<Bytes> out;
  rte_mbuf* ms[32];
  for (;;) {
    const std::uint16_t n = rte_eth_rx_burst(port, 0, ms, 32);
    if (n == 0) break;
    for (std::uint16_t i = 0; i < n; ++i) {
      out.push_back(BytesOf(ms[i]));
      rte_pktmbuf_free(ms[i]);
    }
  }
  return out;
}

// Keys and SPIs of a gateway pair (A: 192.0.2.1 for 10.1/16, B: 192.0.2.2
// for 10.2/16). SPIs obey the SA manager's indexing rule (capacity 4096).
constexpr char kKeyAB[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
constexpr char kKeyBA[] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
constexpr std::uint32_t kSpiAB = 0x2101;  // generation 2, index 0x101
constexpr std::uint32_t kSpiBA = 0x2202;

std::string GatewayJson(bool a_side, const std::string& prot, const std::string& unprot,
                        const std::string& extra_out = "") {
  const std::string self = a_side ? "192.0.2.1" : "192.0.2.2";
  const std::string peer = a_side ? "192.0.2.2" : "192.0.2.1";
  const std::string out_key = a_side ? kKeyAB : kKeyBA;
  const std::string in_key = a_side ? kKeyBA : kKeyAB;
  const std::uint32_t out_spi = a_side ? kSpiAB : kSpiBA;
  const std::uint32_t in_spi = a_side ? kSpiBA : kSpiAB;
  const std::string local = a_side ? "10.1.0.0/16" : "10.2.0.0/16";
  const std::string remote = a_side ? "10.2.0.0/16" : "10.1.0.0/16";
  return R"({"ports": {"protected": ")" + prot + R"(", "unprotected": ")" + unprot + R"("},
    "sas": [
      {"name": "out", "direction": "outbound", "spi": )" +
         std::to_string(out_spi) + R"(, "algo": "aes-gcm-256",
       "key": ")" +
         out_key + R"(", "salt": "0a0b0c0d",
       "tunnel": {"src": ")" +
         self + R"(", "dst": ")" + peer + R"("})" + extra_out + R"(},
      {"name": "in", "direction": "inbound", "spi": )" +
         std::to_string(in_spi) + R"(, "algo": "aes-gcm-256",
       "key": ")" +
         in_key + R"(", "salt": "0a0b0c0d", "replay_window": 64,
       "tunnel": {"src": ")" +
         peer + R"(", "dst": ")" + self + R"("}}],
    "policies": [{"src": ")" +
         local + R"(", "dst": ")" + remote + R"(", "sa": "out"}]})";
}

std::string PortName(std::uint16_t port) {
  char name[RTE_ETH_NAME_MAX_LEN];
  EXPECT_EQ(rte_eth_dev_get_name_by_port(port, name), 0);
  return name;
}

std::unique_ptr<dpdk::InlineSecurity> NewEngine(std::uint16_t event_port = 0) {
  dpdk::InlineSecurityOptions o;
  o.device_uri = "model:capacity=4096";
  o.event_port_id = event_port;
  auto s = dpdk::InlineSecurity::Create(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

struct TestGateway {
  std::unique_ptr<dpdk::InlineSecurity> sec;
  std::unique_ptr<dpdk_gateway::Gateway> gw;
};

TestGateway NewGateway(bool a_side, std::uint16_t prot, std::uint16_t unprot,
                       const std::string& extra_out = "") {
  TestGateway t;
  t.sec = NewEngine(prot);
  auto cfg = dpdk_gateway::ParseGatewayConfig(
      GatewayJson(a_side, PortName(prot), PortName(unprot), extra_out));
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  if (!cfg.ok() || t.sec == nullptr) return t;
  auto gw = dpdk_gateway::Gateway::Create(*cfg, *t.sec, prot, unprot);
  EXPECT_TRUE(gw.ok()) << gw.status().ToString();
  if (gw.ok()) t.gw = std::move(*gw);
  return t;
}

// --- rte_security context ---

TEST(DpdkSecurityCtx, CapabilitiesListWhatTheEngineDoes) {
  REQUIRE_EAL();
  auto sec = NewEngine();
  ASSERT_NE(sec, nullptr);
  rte_security_ctx* ctx = sec->security_ctx();
  const rte_security_capability* caps = rte_security_capabilities_get(ctx);
  ASSERT_NE(caps, nullptr);
  int n = 0;
  bool gcm = false, chacha = false;
  for (const rte_security_capability* c = caps; c->action != RTE_SECURITY_ACTION_TYPE_NONE; ++c) {
    ++n;
    EXPECT_EQ(c->action, RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL);
    EXPECT_EQ(c->protocol, RTE_SECURITY_PROTOCOL_IPSEC);
    EXPECT_EQ(c->ipsec.proto, RTE_SECURITY_IPSEC_SA_PROTO_ESP);
    EXPECT_EQ(c->ipsec.options.esn, 1u);
    EXPECT_EQ(c->ipsec.options.udp_encap, 1u);
    EXPECT_EQ(c->ipsec.options.dec_ttl, 0u);
    if (c->ipsec.direction == RTE_SECURITY_IPSEC_SA_DIR_INGRESS) {
      EXPECT_EQ(c->ipsec.replay_win_sz_max, sec->device().caps().replay_window_max);
    }
    for (const rte_cryptodev_capabilities* cc = c->crypto_capabilities;
         cc->op != RTE_CRYPTO_OP_TYPE_UNDEFINED; ++cc) {
      ASSERT_EQ(cc->sym.xform_type, RTE_CRYPTO_SYM_XFORM_AEAD);
      if (cc->sym.aead.algo == RTE_CRYPTO_AEAD_AES_GCM) {
        gcm = true;
        EXPECT_EQ(cc->sym.aead.key_size.min, 16);
        EXPECT_EQ(cc->sym.aead.key_size.max, 32);
      }
      chacha = chacha || cc->sym.aead.algo == RTE_CRYPTO_AEAD_CHACHA20_POLY1305;
    }
  }
  EXPECT_EQ(n, 4);  // {tunnel, transport} x {ingress, egress}
  EXPECT_TRUE(gcm);
  EXPECT_TRUE(chacha);

  rte_security_capability_idx idx{};
  idx.action = RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL;
  idx.protocol = RTE_SECURITY_PROTOCOL_IPSEC;
  idx.ipsec = {RTE_SECURITY_IPSEC_SA_PROTO_ESP, RTE_SECURITY_IPSEC_SA_MODE_TRANSPORT,
               RTE_SECURITY_IPSEC_SA_DIR_EGRESS};
  EXPECT_NE(rte_security_capability_get(ctx, &idx), nullptr);
  idx.action = RTE_SECURITY_ACTION_TYPE_INLINE_CRYPTO;
  EXPECT_EQ(rte_security_capability_get(ctx, &idx), nullptr);
  idx.action = RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL;
  idx.ipsec.proto = RTE_SECURITY_IPSEC_SA_PROTO_AH;
  EXPECT_EQ(rte_security_capability_get(ctx, &idx), nullptr);
}

class DpdkSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TheEal().ok) GTEST_SKIP() << TheEal().why;
    sec_ = NewEngine();
    ASSERT_NE(sec_, nullptr);
    ctx_ = sec_->security_ctx();
    static int seq = 0;
    const std::string name = "sess_pool_" + std::to_string(seq++);
    pool_ = rte_mempool_create(name.c_str(), 16, rte_security_session_get_size(ctx_), 0, 0, nullptr,
                               nullptr, nullptr, nullptr, 0, 0);
    ASSERT_NE(pool_, nullptr);
    x_.type = RTE_CRYPTO_SYM_XFORM_AEAD;
    x_.aead.op = RTE_CRYPTO_AEAD_OP_ENCRYPT;
    x_.aead.algo = RTE_CRYPTO_AEAD_AES_GCM;
    x_.aead.key.data = key_;
    x_.aead.key.length = 16;
    x_.aead.digest_length = 16;
    x_.aead.iv.length = 12;
    x_.aead.aad_length = 8;
    conf_.action_type = RTE_SECURITY_ACTION_TYPE_INLINE_PROTOCOL;
    conf_.protocol = RTE_SECURITY_PROTOCOL_IPSEC;
    conf_.ipsec.spi = 0x3000;
    conf_.ipsec.direction = RTE_SECURITY_IPSEC_SA_DIR_EGRESS;
    conf_.ipsec.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
    conf_.ipsec.mode = RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
    conf_.ipsec.tunnel.type = RTE_SECURITY_IPSEC_TUNNEL_IPV4;
    conf_.ipsec.tunnel.ipv4.src_ip.s_addr = htonl(0xC0000201);
    conf_.ipsec.tunnel.ipv4.dst_ip.s_addr = htonl(0xC0000202);
    conf_.ipsec.options.copy_df = 1;
    conf_.ipsec.options.copy_dscp = 1;
    conf_.crypto_xform = &x_;
    conf_.userdata = reinterpret_cast<void*>(0x77);
  }
  void TearDown() override {
    sec_.reset();
    if (pool_ != nullptr) rte_mempool_free(pool_);
  }

  std::unique_ptr<dpdk::InlineSecurity> sec_;
  rte_security_ctx* ctx_ = nullptr;
  rte_mempool* pool_ = nullptr;
  std::uint8_t key_[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  rte_crypto_sym_xform x_{};
  rte_security_session_conf conf_{};
};

TEST_F(DpdkSessionTest, CreateUpdateStatsDestroy) {
  void* out = rte_security_session_create(ctx_, &conf_, pool_);
  ASSERT_NE(out, nullptr) << sec_->last_error().ToString();
  EXPECT_EQ(ctx_->sess_cnt, 1);
  const dpdk::SessionInfo* info = sec_->Session(out);
  ASSERT_NE(info, nullptr);
  EXPECT_FALSE(info->inbound);
  EXPECT_EQ(info->handle.spi, 0x3000u);
  EXPECT_EQ(rte_security_session_opaque_data_get(out), 0x77u);

  // Inbound with SPI 0: the SA manager allocates an indexing SPI.
  x_.aead.op = RTE_CRYPTO_AEAD_OP_DECRYPT;
  conf_.ipsec.direction = RTE_SECURITY_IPSEC_SA_DIR_INGRESS;
  conf_.ipsec.spi = 0;
  conf_.ipsec.replay_win_sz = 128;
  void* in = rte_security_session_create(ctx_, &conf_, pool_);
  ASSERT_NE(in, nullptr) << sec_->last_error().ToString();
  const dpdk::SessionInfo* in_info = sec_->Session(in);
  ASSERT_NE(in_info, nullptr);
  EXPECT_GE(in_info->handle.spi, 256u);
  EXPECT_EQ(in_info->handle.spi % 4096, in_info->handle.index);

  rte_security_stats st{};
  ASSERT_EQ(rte_security_session_stats_get(ctx_, in, &st), 0);
  EXPECT_EQ(st.protocol, RTE_SECURITY_PROTOCOL_IPSEC);
  EXPECT_EQ(st.ipsec.ipackets, 0u);

  // Update the inbound SA: a new key and window, same SPI.
  key_[0] ^= 0xFF;
  conf_.ipsec.replay_win_sz = 256;
  EXPECT_EQ(rte_security_session_update(ctx_, in, &conf_), 0) << sec_->last_error().ToString();
  // An update may not turn an SA around.
  x_.aead.op = RTE_CRYPTO_AEAD_OP_ENCRYPT;
  conf_.ipsec.direction = RTE_SECURITY_IPSEC_SA_DIR_EGRESS;
  conf_.ipsec.spi = in_info->handle.spi;
  EXPECT_NE(rte_security_session_update(ctx_, in, &conf_), 0);
  EXPECT_FALSE(sec_->last_error().ok());

  EXPECT_EQ(sec_->sa_manager().size(), 2u);
  EXPECT_EQ(rte_security_session_destroy(ctx_, out), 0);
  EXPECT_EQ(rte_security_session_destroy(ctx_, in), 0);
  EXPECT_EQ(ctx_->sess_cnt, 0);
  EXPECT_EQ(sec_->sa_manager().size(), 0u);
}

TEST_F(DpdkSessionTest, BadConfigurationsAreRefusedWithAClearError) {
  struct Case {
    const char* what;
    void (*mutate)(rte_security_session_conf&, rte_crypto_sym_xform&);
    int err;
    const char* says;
  };
  const Case cases[] = {
      {"AH", [](auto& c, auto&) { c.ipsec.proto = RTE_SECURITY_IPSEC_SA_PROTO_AH; }, ENOTSUP, "AH"},
      {"inline crypto",
       [](auto& c, auto&) { c.action_type = RTE_SECURITY_ACTION_TYPE_INLINE_CRYPTO; }, ENOTSUP,
       "INLINE_PROTOCOL"},
      {"key length", [](auto&, auto& x) { x.aead.key.length = 24; }, EINVAL, "key.length"},
      {"digest", [](auto&, auto& x) { x.aead.digest_length = 8; }, EINVAL, "digest_length"},
      {"cipher only", [](auto&, auto& x) { x.type = RTE_CRYPTO_SYM_XFORM_CIPHER; }, ENOTSUP,
       "AEAD"},
      {"dec_ttl", [](auto& c, auto&) { c.ipsec.options.dec_ttl = 1; }, ENOTSUP, "dec_ttl"},
      {"reserved spi", [](auto& c, auto&) { c.ipsec.spi = 7; }, EINVAL, "reserved"},
      {"odd window",
       [](auto& c, auto& x) {
         c.ipsec.direction = RTE_SECURITY_IPSEC_SA_DIR_INGRESS;
         x.aead.op = RTE_CRYPTO_AEAD_OP_DECRYPT;
         c.ipsec.spi = 0;
         c.ipsec.replay_win_sz = 33;
       },
       EINVAL, "replay window"},
      {"direction vs op", [](auto&, auto& x) { x.aead.op = RTE_CRYPTO_AEAD_OP_DECRYPT; }, EINVAL,
       "egress"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    rte_security_session_conf conf = conf_;
    rte_crypto_sym_xform x = x_;
    conf.crypto_xform = &x;
    c.mutate(conf, x);
    rte_errno = 0;
    EXPECT_EQ(rte_security_session_create(ctx_, &conf, pool_), nullptr);
    EXPECT_EQ(rte_errno, c.err);
    EXPECT_NE(sec_->last_error().message().find(c.says), std::string::npos)
        << sec_->last_error().ToString();
  }
  EXPECT_EQ(ctx_->sess_cnt, 0);
  EXPECT_EQ(sec_->sa_manager().size(), 0u);
}

TEST_F(DpdkSessionTest, BurstMovesFailuresToTheTailInOrder) {
  void* out = rte_security_session_create(ctx_, &conf_, pool_);
  ASSERT_NE(out, nullptr) << sec_->last_error().ToString();
  const Bytes ip = Ipv4Udp({10, 1, 0, 1}, {10, 2, 0, 1}, 100, 1);
  rte_mbuf* good1 = MbufOf(ip);
  rte_mbuf* multi = MbufOf(ip);
  rte_mbuf* good2 = MbufOf(ip);
  rte_mbuf* nometa = MbufOf(ip);
  rte_mbuf* plain = MbufOf(ip);
  rte_mbuf* seg2 = MbufOf(Bytes(10, 0), false);
  ASSERT_EQ(rte_pktmbuf_chain(multi, seg2), 0);
  for (rte_mbuf* m : {good1, multi, good2}) {
    ASSERT_EQ(rte_security_set_pkt_metadata(ctx_, out, m, nullptr), 0);
    m->ol_flags |= RTE_MBUF_F_TX_SEC_OFFLOAD;
  }
  *rte_security_dynfield(nometa) = 0;
  nometa->ol_flags |= RTE_MBUF_F_TX_SEC_OFFLOAD;
  rte_mbuf* burst[] = {good1, multi, good2, nometa, plain};
  EXPECT_EQ(sec_->ProcessOutbound(burst, 5), 3);
  EXPECT_EQ(burst[0], good1);
  EXPECT_EQ(burst[1], good2);
  EXPECT_EQ(burst[2], plain);
  EXPECT_EQ(burst[3], multi);
  EXPECT_EQ(burst[4], nometa);
  EXPECT_EQ(sec_->stats().tx_encrypted, 2u);
  EXPECT_EQ(sec_->stats().tx_multiseg, 1u);
  EXPECT_EQ(sec_->stats().tx_no_session, 1u);
  EXPECT_EQ(sec_->stats().tx_bypass, 1u);
  // ESP now: outer IPv4 to 192.0.2.2, protocol 50, SPI 0x3000, L2 kept.
  const Bytes esp = BytesOf(good1);
  ASSERT_GE(esp.size(), 14u + 20u + 8u);
  EXPECT_EQ(esp[12], 0x08);
  EXPECT_EQ(esp[14 + 9], 50);
  EXPECT_EQ(esp[14 + 19], 2);
  EXPECT_EQ(esp[14 + 22], 0x30);
  EXPECT_EQ(good1->ol_flags & RTE_MBUF_F_TX_SEC_OFFLOAD, 0u);
  EXPECT_EQ(BytesOf(plain, 14), ip);
  rte_security_stats st{};
  ASSERT_EQ(rte_security_session_stats_get(ctx_, out, &st), 0);
  EXPECT_EQ(st.ipsec.opackets, 2u);
  for (rte_mbuf* m : burst) rte_pktmbuf_free(m);
  EXPECT_EQ(rte_security_session_destroy(ctx_, out), 0);
}

// IPv4 inner in an IPv6 UDP-encapsulated ESN tunnel, over a VLAN-tagged
// frame: the glue must rewrite the ethertype after the tag both ways.
TEST_F(DpdkSessionTest, VlanIpv6OuterNatTRoundTrip) {
  auto peer = NewEngine();
  ASSERT_NE(peer, nullptr);
  rte_security_ctx* peer_ctx = peer->security_ctx();
  const std::uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const std::uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  conf_.ipsec.spi = 0x4777;  // generation 4, index 0x777
  conf_.ipsec.options.esn = 1;
  conf_.ipsec.options.udp_encap = 1;
  conf_.ipsec.udp.sport = 4500;
  conf_.ipsec.udp.dport = 4500;
  conf_.ipsec.tunnel.type = RTE_SECURITY_IPSEC_TUNNEL_IPV6;
  conf_.ipsec.tunnel.ipv6 = {};
  std::memcpy(&conf_.ipsec.tunnel.ipv6.src_addr, src6, 16);
  std::memcpy(&conf_.ipsec.tunnel.ipv6.dst_addr, dst6, 16);
  x_.aead.aad_length = 12;
  void* out = rte_security_session_create(ctx_, &conf_, pool_);
  ASSERT_NE(out, nullptr) << sec_->last_error().ToString();
  x_.aead.op = RTE_CRYPTO_AEAD_OP_DECRYPT;
  conf_.ipsec.direction = RTE_SECURITY_IPSEC_SA_DIR_INGRESS;
  conf_.ipsec.replay_win_sz = 64;
  conf_.userdata = reinterpret_cast<void*>(0x99);
  void* in = rte_security_session_create(peer_ctx, &conf_, pool_);
  ASSERT_NE(in, nullptr) << peer->last_error().ToString();

  const Bytes ip = Ipv4Udp({10, 1, 0, 7}, {10, 2, 0, 7}, 333, 9);
  rte_mbuf* m = rte_pktmbuf_alloc(TheEal().mbufs);
  ASSERT_NE(m, nullptr);
  const std::uint8_t l2[18] = {2, 0, 0, 0,    0,    1,    2,    0,    0,
                               0, 0, 2, 0x81, 0x00, 0x00, 0x2A, 0x08, 0x00};
  std::memcpy(rte_pktmbuf_append(m, sizeof(l2)), l2, sizeof(l2));
  std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(ip.size())), ip.data(), ip.size());
  ASSERT_EQ(rte_security_set_pkt_metadata(ctx_, out, m, nullptr), 0);
  m->ol_flags |= RTE_MBUF_F_TX_SEC_OFFLOAD;
  ASSERT_EQ(sec_->ProcessOutbound(&m, 1), 1);
  Bytes esp = BytesOf(m);
  ASSERT_GT(esp.size(), 18u + 40u + 8u + 8u);
  EXPECT_EQ(Bytes(esp.begin(), esp.begin() + 16), Bytes(l2, l2 + 16));  // MACs and tag kept
  EXPECT_EQ(esp[16], 0x86);                                             // outer IPv6
  EXPECT_EQ(esp[17], 0xDD);
  EXPECT_EQ(esp[18 + 6], 17);         // UDP
  EXPECT_EQ(esp[18 + 40 + 2], 0x11);  // dport 4500
  EXPECT_EQ(esp[18 + 40 + 3], 0x94);

  m->ol_flags = 0;
  ASSERT_EQ(peer->ProcessInbound(&m, 1), 1);
  EXPECT_NE(m->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD, 0u);
  EXPECT_EQ(*rte_security_dynfield(m), 0x99u);
  const Bytes back = BytesOf(m);
  EXPECT_EQ(Bytes(back.begin(), back.begin() + 18), Bytes(l2, l2 + 18));  // ethertype IPv4 again
  EXPECT_EQ(Bytes(back.begin() + 18, back.end()), ip);
  rte_pktmbuf_free(m);
  EXPECT_EQ(rte_security_session_destroy(ctx_, out), 0);
  EXPECT_EQ(rte_security_session_destroy(peer_ctx, in), 0);
}

// --- gateways ---

TEST(DpdkGateway, TwoGatewaysInOppositeRolesDeliverIntactPackets) {
  REQUIRE_EAL();
  const Wire host_a = MakeWire("gw2_ha");  // host_a.a: host, host_a.b: A's unprotected port
  const Wire link = MakeWire("gw2_ln");    // link.a: A's protected, link.b: B's protected
  const Wire host_b = MakeWire("gw2_hb");
  TestGateway a = NewGateway(true, link.a, host_a.b);
  TestGateway b = NewGateway(false, link.b, host_b.b);
  ASSERT_NE(a.gw, nullptr);
  ASSERT_NE(b.gw, nullptr);

  std::vector<Bytes> ab, ba;
  for (std::size_t i = 0; i < 40; ++i) {
    const std::size_t len = i % 2 == 0 ? 18 + i : 1400 + i;  // 64-byte and ~1450-byte frames
    ab.push_back(Ipv4Udp({10, 1, 0, 1}, {10, 2, 0, static_cast<std::uint8_t>(i)}, len,
                         static_cast<std::uint8_t>(i)));
    ba.push_back(Ipv4Udp({10, 2, 0, 9}, {10, 1, 3, static_cast<std::uint8_t>(i)}, len,
                         static_cast<std::uint8_t>(100 + i)));
  }
  Send(host_a.a, ab);
  Send(host_b.a, ba);
  for (int i = 0; i < 8; ++i) {
    a.gw->Poll();
    b.gw->Poll();
  }
  const std::vector<Bytes> at_b = Drain(host_b.a);
  const std::vector<Bytes> at_a = Drain(host_a.a);
  ASSERT_EQ(at_b.size(), ab.size());
  ASSERT_EQ(at_a.size(), ba.size());
  for (std::size_t i = 0; i < ab.size(); ++i) {
    EXPECT_EQ(Bytes(at_b[i].begin() + 14, at_b[i].end()), ab[i]) << "A->B packet " << i;
    EXPECT_EQ(Bytes(at_a[i].begin() + 14, at_a[i].end()), ba[i]) << "B->A packet " << i;
  }
  EXPECT_EQ(a.gw->stats().out_protected, 40u);
  EXPECT_EQ(b.gw->stats().in_decrypted, 40u);
  EXPECT_EQ(b.gw->stats().in_failed, 0u);
  // Session stats through the standard call.
  rte_security_stats st{};
  ASSERT_EQ(rte_security_session_stats_get(b.gw->ctx(), b.gw->session("in"), &st), 0);
  EXPECT_EQ(st.ipsec.ipackets, 40u);
}

class LibIpsecCrossCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TheEal().ok) GTEST_SKIP() << TheEal().why;
    if (!TheEal().have_openssl) GTEST_SKIP() << TheEal().openssl_why;
  }
  static dpdk_ref::RefSaParams Params(bool outbound, std::uint32_t spi, const char* hex_key,
                                      std::array<std::uint8_t, 4> src,
                                      std::array<std::uint8_t, 4> dst, Bytes& key_store) {
    key_store.assign(32, 0);
    for (std::size_t i = 0; i < 32; ++i)
      key_store[i] =
          static_cast<std::uint8_t>(std::stoi(std::string(hex_key + 2 * i, 2), nullptr, 16));
    dpdk_ref::RefSaParams p;
    p.outbound = outbound;
    p.spi = spi;
    p.key = key_store;
    p.salt = {0x0a, 0x0b, 0x0c, 0x0d};
    p.tunnel_src = src;
    p.tunnel_dst = dst;
    p.replay_window = 64;
    return p;
  }
};

TEST_F(LibIpsecCrossCheck, LibIpsecDecryptsWhatTheGatewaySends) {
  const Wire host = MakeWire("xc1_h");
  const Wire link = MakeWire("xc1_l");  // link.a: gateway protected, link.b: lib/ipsec side
  TestGateway a = NewGateway(true, link.a, host.b);
  ASSERT_NE(a.gw, nullptr);
  Bytes key;
  dpdk_ref::LibIpsecSa ref;
  std::string err;
  ASSERT_TRUE(ref.Init(TheEal().openssl,
                       Params(false, kSpiAB, kKeyAB, {192, 0, 2, 1}, {192, 0, 2, 2}, key), err))
      << err;
  std::vector<Bytes> sent;
  for (std::size_t i = 0; i < 32; ++i)
    sent.push_back(
        Ipv4Udp({10, 1, 0, 1}, {10, 2, 0, 1}, i % 2 ? 1422 : 18, static_cast<std::uint8_t>(i)));
  Send(host.a, sent);
  for (int i = 0; i < 4; ++i) a.gw->Poll();
  rte_mbuf* ms[64];
  const std::uint16_t n = rte_eth_rx_burst(link.b, 0, ms, 64);
  ASSERT_EQ(n, sent.size());
  for (std::uint16_t i = 0; i < n; ++i) rte_pktmbuf_adj(ms[i], RTE_ETHER_HDR_LEN);
  EXPECT_EQ(ref.Process(ms, n), n);
  for (std::uint16_t i = 0; i < n; ++i) {
    EXPECT_EQ(ms[i]->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED, 0u);
    EXPECT_EQ(BytesOf(ms[i]), sent[i]) << "packet " << i;
    rte_pktmbuf_free(ms[i]);
  }
}

TEST_F(LibIpsecCrossCheck, GatewayDecryptsWhatLibIpsecSends) {
  const Wire host = MakeWire("xc2_h");
  const Wire link = MakeWire("xc2_l");
  TestGateway a = NewGateway(true, link.a, host.b);
  ASSERT_NE(a.gw, nullptr);
  Bytes key;
  dpdk_ref::LibIpsecSa ref;
  std::string err;
  ASSERT_TRUE(ref.Init(TheEal().openssl,
                       Params(true, kSpiBA, kKeyBA, {192, 0, 2, 2}, {192, 0, 2, 1}, key), err))
      << err;
  std::vector<Bytes> sent;
  rte_mbuf* ms[32];
  for (std::size_t i = 0; i < 32; ++i) {
    sent.push_back(
        Ipv4Udp({10, 2, 0, 1}, {10, 1, 0, 1}, i % 2 ? 1422 : 18, static_cast<std::uint8_t>(i)));
    ms[i] = MbufOf(sent.back(), false);
  }
  ASSERT_EQ(ref.Process(ms, 32), 32);
  for (rte_mbuf* m : ms) {
    auto* eth = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN));
    const std::uint8_t hdr[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
    std::memcpy(eth, hdr, sizeof(hdr));
    m->ol_flags = 0;
  }
  ASSERT_EQ(rte_eth_tx_burst(link.b, 0, ms, 32), 32);
  for (int i = 0; i < 4; ++i) a.gw->Poll();
  const std::vector<Bytes> got = Drain(host.a);
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(Bytes(got[i].begin() + 14, got[i].end()), sent[i]) << "packet " << i;
  EXPECT_EQ(a.gw->stats().in_decrypted, 32u);
}

TEST(DpdkGateway, UnknownSpiIsAnExceptionEvent) {
  REQUIRE_EAL();
  const Wire host = MakeWire("spi_h");
  const Wire link = MakeWire("spi_l");
  TestGateway a = NewGateway(true, link.a, host.b);
  ASSERT_NE(a.gw, nullptr);
  std::vector<sdk::Event> seen;
  a.sec->AddExceptionSink([&](const sdk::Event& e) { seen.push_back(e); });
  // An ESP packet for SPI 0x5333 (index 0x333: nothing there).
  Bytes esp = Ipv4Udp({192, 0, 2, 2}, {192, 0, 2, 1}, 60, 3);
  esp[9] = 50;
  const std::uint8_t spi_seq[8] = {0, 0, 0x53, 0x33, 0, 0, 0, 1};
  std::memcpy(&esp[20], spi_seq, 8);
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(esp.data());
  h->hdr_checksum = 0;
  h->hdr_checksum = rte_ipv4_cksum(h);
  Send(link.b, {esp});
  a.gw->Poll();
  ASSERT_TRUE(a.gw->PollControl().ok());
  EXPECT_EQ(a.gw->stats().in_failed, 1u);
  EXPECT_EQ(a.sec->stats().rx_failed, 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].kind, sdk::EventKind::kSpiMiss);
  EXPECT_EQ(seen[0].packet.spi, 0x5333u);
  EXPECT_EQ(seen[0].packet.src, sdk::IpAddress::V4(192, 0, 2, 2));
  EXPECT_TRUE(Drain(host.a).empty());

  // The same through ProcessInbound: flagged failed, at the tail.
  rte_mbuf* ms[2] = {MbufOf(esp), MbufOf(Ipv4Udp({10, 9, 0, 1}, {10, 9, 0, 2}, 10, 1))};
  rte_mbuf* bad = ms[0];
  EXPECT_EQ(a.sec->ProcessInbound(ms, 2), 1);
  EXPECT_EQ(ms[1], bad);
  EXPECT_EQ(bad->ol_flags & (RTE_MBUF_F_RX_SEC_OFFLOAD | RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED),
            RTE_MBUF_F_RX_SEC_OFFLOAD | RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED);
  EXPECT_EQ(ms[0]->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD, 0u);
  rte_pktmbuf_free_bulk(ms, 2);
}

// A kernel-side view of a TAP port: an AF_PACKET socket on its interface.
class KernelSide {
 public:
  explicit KernelSide(const std::string& ifname) {
    std::ofstream(("/proc/sys/net/ipv6/conf/" + ifname + "/disable_ipv6").c_str()) << "1";
    const int ctl = ::socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname.c_str());
    if (ctl >= 0 && ::ioctl(ctl, SIOCGIFFLAGS, &ifr) == 0) {
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
      up_ = ::ioctl(ctl, SIOCSIFFLAGS, &ifr) == 0;
    }
    if (ctl >= 0) ::close(ctl);
    index_ = static_cast<int>(::if_nametoindex(ifname.c_str()));
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
    sockaddr_ll a{};
    a.sll_family = AF_PACKET;
    a.sll_protocol = htons(ETH_P_ALL);
    a.sll_ifindex = index_;
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~KernelSide() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return up_ && bound_ && index_ > 0; }
  bool Send(const Bytes& frame) {
    sockaddr_ll a{};
    a.sll_family = AF_PACKET;
    a.sll_ifindex = index_;
    a.sll_halen = 6;
    return ::sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&a),
                    sizeof(a)) == static_cast<ssize_t>(frame.size());
  }
  // Next frame the interface received (not one it sent) with IPv4 protocol
  // `proto`, or empty.
  Bytes Receive(std::uint8_t proto) {
    std::uint8_t buf[2048];
    for (;;) {
      sockaddr_ll from{};
      socklen_t len = sizeof(from);
      const ssize_t n =
          ::recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) return {};
      if (from.sll_pkttype == PACKET_OUTGOING || n < 34) continue;
      if (buf[12] == 0x08 && buf[13] == 0x00 && buf[14 + 9] == proto) return Bytes(buf, buf + n);
    }
  }

 private:
  int fd_ = -1;
  int index_ = 0;
  bool up_ = false;
  bool bound_ = false;
};

// Polls the gateway until the kernel side sees a frame of `proto`.
Bytes AwaitFrame(dpdk_gateway::Gateway& gw, KernelSide& k, std::uint8_t proto) {
  for (int i = 0; i < 2000; ++i) {
    gw.Poll();
    Bytes f = k.Receive(proto);
    if (!f.empty()) return f;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return {};
}

TEST_F(LibIpsecCrossCheck, TapPortsCarryEspToAndFromTheKernel) {
  if (!TheEal().netns) GTEST_SKIP() << "needs root for a private network namespace (TAP ports)";
  if (rte_vdev_init("net_tap_gwlan", "iface=gwlan") != 0 ||
      rte_vdev_init("net_tap_gwesp", "iface=gwesp") != 0)
    GTEST_SKIP() << "net_tap vdevs did not probe (no /dev/net/tun?)";
  std::uint16_t lan = 0, esp = 0;
  ASSERT_EQ(rte_eth_dev_get_port_by_name("net_tap_gwlan", &lan), 0);
  ASSERT_EQ(rte_eth_dev_get_port_by_name("net_tap_gwesp", &esp), 0);
  ASSERT_TRUE(dpdk_gateway::SetupPort(lan, TheEal().mbufs, 512, 512).ok());
  ASSERT_TRUE(dpdk_gateway::SetupPort(esp, TheEal().mbufs, 512, 512).ok());
  KernelSide k_lan("gwlan"), k_esp("gwesp");
  ASSERT_TRUE(k_lan.ok() && k_esp.ok()) << "cannot bring up or bind the TAP interfaces";
  TestGateway a = NewGateway(true, esp, lan);
  ASSERT_NE(a.gw, nullptr);

  // Plain from the LAN side leaves the ESP side as ESP that lib/ipsec opens.
  const Bytes plain = Ipv4Udp({10, 1, 0, 5}, {10, 2, 0, 5}, 200, 42);
  Bytes frame = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
  frame.insert(frame.end(), plain.begin(), plain.end());
  ASSERT_TRUE(k_lan.Send(frame));
  const Bytes wire = AwaitFrame(*a.gw, k_esp, 50);
  ASSERT_FALSE(wire.empty()) << "no ESP frame on the protected TAP";
  Bytes key;
  dpdk_ref::LibIpsecSa dec;
  std::string err;
  ASSERT_TRUE(dec.Init(TheEal().openssl,
                       Params(false, kSpiAB, kKeyAB, {192, 0, 2, 1}, {192, 0, 2, 2}, key), err))
      << err;
  rte_mbuf* m = MbufOf(Bytes(wire.begin() + 14, wire.end()), false);
  ASSERT_EQ(dec.Process(&m, 1), 1);
  EXPECT_EQ(BytesOf(m), plain);
  rte_pktmbuf_free(m);

  // ESP from lib/ipsec into the protected side leaves the LAN side plain.
  dpdk_ref::LibIpsecSa enc;
  ASSERT_TRUE(enc.Init(TheEal().openssl,
                       Params(true, kSpiBA, kKeyBA, {192, 0, 2, 2}, {192, 0, 2, 1}, key), err))
      << err;
  const Bytes back = Ipv4Udp({10, 2, 0, 6}, {10, 1, 0, 6}, 300, 43);
  m = MbufOf(back, false);
  ASSERT_EQ(enc.Process(&m, 1), 1);
  Bytes esp_frame = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
  const Bytes esp_ip = BytesOf(m);
  esp_frame.insert(esp_frame.end(), esp_ip.begin(), esp_ip.end());
  rte_pktmbuf_free(m);
  ASSERT_TRUE(k_esp.Send(esp_frame));
  const Bytes out = AwaitFrame(*a.gw, k_lan, 17);
  ASSERT_FALSE(out.empty()) << "no plain frame on the LAN TAP";
  EXPECT_EQ(Bytes(out.begin() + 14, out.end()), back);
}

struct EventLog {
  std::vector<dpdk::IpsecEvent> events;
  std::uint16_t port = 0xFFFF;
};

int RecordEvent(std::uint16_t port, rte_eth_event_type type, void* arg, void* param) {
  auto* log = static_cast<EventLog*>(arg);
  EXPECT_EQ(type, RTE_ETH_EVENT_IPSEC);
  log->port = port;
  log->events.push_back(*static_cast<const dpdk::IpsecEvent*>(param));
  return 0;
}

TEST(DpdkGateway, PacketLifetimesRaiseIpsecEvents) {
  REQUIRE_EAL();
  const Wire host = MakeWire("life_h");
  const Wire link = MakeWire("life_l");
  TestGateway a =
      NewGateway(true, link.a, host.b, R"(, "lifetime": {"packets_soft": 2, "packets_hard": 4})");
  ASSERT_NE(a.gw, nullptr);
  EventLog log;
  a.sec->SetIpsecEventCallback(RecordEvent, &log);
  std::vector<Bytes> sent;
  for (int i = 0; i < 6; ++i)
    sent.push_back(Ipv4Udp({10, 1, 0, 1}, {10, 2, 0, 1}, 30, static_cast<std::uint8_t>(i)));
  Send(host.a, sent);
  a.gw->Poll();
  ASSERT_TRUE(a.gw->PollControl().ok());
  EXPECT_EQ(a.gw->stats().out_protected, 4u);
  EXPECT_EQ(a.gw->stats().out_failed, 2u);
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.port, link.a);
  EXPECT_EQ(log.events[0].desc.subtype, RTE_ETH_EVENT_IPSEC_SA_PKT_EXPIRY);
  EXPECT_FALSE(log.events[0].hard);
  EXPECT_EQ(log.events[1].desc.subtype, RTE_ETH_EVENT_IPSEC_SA_PKT_HARD_EXPIRY);
  EXPECT_TRUE(log.events[1].hard);
  for (const auto& e : log.events) {
    EXPECT_EQ(e.desc.metadata, 1u);  // userdata of the gateway's first session
    EXPECT_EQ(e.spi, kSpiAB);
  }
  (void)Drain(link.b);
}

TEST_F(DpdkSessionTest, SequenceOverflowRaisesEsnOverflowEvent) {
  EventLog log;
  sec_->SetIpsecEventCallback(RecordEvent, &log);
  conf_.ipsec.esn.value = 0xFFFFFFFEu;  // last number used: one packet left
  void* out = rte_security_session_create(ctx_, &conf_, pool_);
  ASSERT_NE(out, nullptr) << sec_->last_error().ToString();
  const Bytes ip = Ipv4Udp({10, 1, 0, 1}, {10, 2, 0, 1}, 40, 5);
  rte_mbuf* ms[2] = {MbufOf(ip), MbufOf(ip)};
  for (rte_mbuf* m : ms) {
    ASSERT_EQ(rte_security_set_pkt_metadata(ctx_, out, m, nullptr), 0);
    m->ol_flags |= RTE_MBUF_F_TX_SEC_OFFLOAD;
  }
  EXPECT_EQ(sec_->ProcessOutbound(ms, 2), 1);
  ASSERT_TRUE(sec_->PollEvents().ok());
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_EQ(log.events[0].desc.subtype, RTE_ETH_EVENT_IPSEC_ESN_OVERFLOW);
  EXPECT_EQ(log.events[0].desc.metadata, 0x77u);
  EXPECT_TRUE(log.events[0].hard);
  rte_pktmbuf_free_bulk(ms, 2);
  EXPECT_EQ(rte_security_session_destroy(ctx_, out), 0);
}

TEST(DpdkGatewayConfig, RefusesBadFilesNamingTheField) {
  auto bad = dpdk_gateway::ParseGatewayConfig(R"({"ports": {"protected": "p", "unprotected": "u"},
    "sas": [{"name": "x", "direction": "outbound", "spi": 4096, "key": "00", "salt": "00000000",
             "tunnel": {"src": "192.0.2.1", "dst": "192.0.2.2"}}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("sas[0].key"), std::string::npos);
  EXPECT_FALSE(dpdk_gateway::ParseGatewayConfig("{").ok());
  auto p = dpdk_gateway::ParsePrefix("10.1.0.0/33");
  EXPECT_FALSE(p.ok());
  auto q = dpdk_gateway::ParsePrefix("10.1.0.0/16");
  ASSERT_TRUE(q.ok());
  const std::uint8_t in[4] = {10, 1, 200, 3}, out[4] = {10, 2, 0, 1};
  EXPECT_TRUE(q->Contains(false, in));
  EXPECT_FALSE(q->Contains(false, out));
}

}  // namespace
}  // namespace inlinesec
