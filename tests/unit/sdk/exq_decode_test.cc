// The exception-entry decoder: a well-formed entry decodes field by field;
// every kind of corrupt or impossible entry is rejected, never trusted.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "inlinesec/sdk/events.h"

namespace inlinesec::sdk {
namespace {

constexpr std::uint32_t kCap = 1024;

abi::ExqEntry Good() {
  abi::ExqEntry e{};
  std::uint32_t ctl = abi::exq_ctl::Reason::Set(0, 1);  // kSpiMiss
  ctl = abi::exq_ctl::UdpEncap::Set(ctl, 1);
  ctl = abi::exq_ctl::SnapLen::Set(ctl, 4);
  ctl = abi::exq_ctl::Phase::Set(ctl, 1);
  e.ctl.set(ctl);
  e.spi.set(0x12345678);
  e.sa_index.set(abi::kExqNoSa);
  e.orig_len.set(120);
  e.seq.set(77);
  e.timestamp.set(123456789);
  e.src = {203, 0, 113, 9};
  e.dst = {192, 0, 2, 1};
  e.sport.set(4501);
  e.dport.set(4500);
  e.snap = {0x45, 0, 0, 120, 0xAA /* past snap_len: must not leak */};
  return e;
}

Result<PacketException> Decode(const abi::ExqEntry& e) {
  return DecodeExqEntry({reinterpret_cast<const std::uint8_t*>(&e), sizeof(e)}, kCap);
}

TEST(ExqDecode, DecodesAGoodEntry) {
  auto p = Decode(Good());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->reason, abi::ExqReason::kSpiMiss);
  EXPECT_EQ(KindFor(p->reason), EventKind::kSpiMiss);
  EXPECT_EQ(p->spi, 0x12345678u);
  EXPECT_FALSE(p->sa_index.has_value());
  EXPECT_EQ(p->orig_len, 120);
  EXPECT_EQ(p->seq, 77u);
  EXPECT_EQ(p->timestamp_ns, 123456789u);
  EXPECT_EQ(p->src.ToString(), "203.0.113.9");
  EXPECT_EQ(p->dst.ToString(), "192.0.2.1");
  EXPECT_TRUE(p->udp_encap);
  EXPECT_FALSE(p->outbound);
  EXPECT_EQ(p->sport, 4501);
  EXPECT_EQ(p->dport, 4500);
  ASSERT_EQ(p->snapshot().size(), 4u);
  EXPECT_EQ(p->snapshot()[0], 0x45);
  EXPECT_EQ(p->snap[4], 0);  // bytes past snap_len are dropped
}

TEST(ExqDecode, DecodesAnSaEventAndIpv6) {
  abi::ExqEntry e = Good();
  std::uint32_t ctl = abi::exq_ctl::Reason::Set(0, 4);  // kSoftLifetime
  ctl = abi::exq_ctl::V6::Set(ctl, 1);
  e.ctl.set(ctl);
  e.sa_index.set(1023);
  e.sport.set(0);
  e.dport.set(0);
  e.src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  auto p = Decode(e);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p->sa_index, 1023u);
  EXPECT_TRUE(p->src.v6);
  EXPECT_EQ(p->src.ToString(), "2001:db8::1");
  EXPECT_EQ(p->snap_len, 0);
}

struct Corruption {
  const char* name;
  std::function<void(abi::ExqEntry&)> apply;
};

TEST(ExqDecode, RejectsEveryCorruption) {
  const Corruption cases[] = {
      {"reason 0", [](abi::ExqEntry& e) { e.ctl.set(abi::exq_ctl::Reason::Set(e.ctl.get(), 0)); }},
      {"reason > kLast",
       [](abi::ExqEntry& e) { e.ctl.set(abi::exq_ctl::Reason::Set(e.ctl.get(), 9)); }},
      {"reason 0xEE",
       [](abi::ExqEntry& e) { e.ctl.set(abi::exq_ctl::Reason::Set(e.ctl.get(), 0xEE)); }},
      {"snap_len 61",
       [](abi::ExqEntry& e) { e.ctl.set(abi::exq_ctl::SnapLen::Set(e.ctl.get(), 61)); }},
      {"snap_len 127",
       [](abi::ExqEntry& e) { e.ctl.set(abi::exq_ctl::SnapLen::Set(e.ctl.get(), 127)); }},
      {"reserved ctl bit 11", [](abi::ExqEntry& e) { e.ctl.set(e.ctl.get() | (1u << 11)); }},
      {"reserved ctl bit 23", [](abi::ExqEntry& e) { e.ctl.set(e.ctl.get() | (1u << 23)); }},
      {"rsvd_0x0e", [](abi::ExqEntry& e) { e.rsvd_0x0e.set(1); }},
      {"sa_index = capacity", [](abi::ExqEntry& e) { e.sa_index.set(kCap); }},
      {"sa_index huge", [](abi::ExqEntry& e) { e.sa_index.set(0x7FFFFFFF); }},
      {"lifetime without SA",
       [](abi::ExqEntry& e) { e.ctl.set(abi::exq_ctl::Reason::Set(e.ctl.get(), 5)); }},
      {"replay without SA",
       [](abi::ExqEntry& e) { e.ctl.set(abi::exq_ctl::Reason::Set(e.ctl.get(), 2)); }},
      {"IPv4 with stray bytes", [](abi::ExqEntry& e) { e.dst[9] = 1; }},
      {"ports without UDP",
       [](abi::ExqEntry& e) { e.ctl.set(abi::exq_ctl::UdpEncap::Set(e.ctl.get(), 0)); }},
  };
  for (const Corruption& c : cases) {
    abi::ExqEntry e = Good();
    c.apply(e);
    auto p = Decode(e);
    EXPECT_FALSE(p.ok()) << c.name;
    EXPECT_EQ(p.status().code(), Code::kDataLoss) << c.name;
  }
}

TEST(ExqDecode, RejectsWrongSizes) {
  abi::ExqEntry e = Good();
  const auto* b = reinterpret_cast<const std::uint8_t*>(&e);
  EXPECT_FALSE(DecodeExqEntry({b, sizeof(e) - 1}, kCap).ok());
  EXPECT_FALSE(DecodeExqEntry({b, 0}, kCap).ok());
  std::vector<std::uint8_t> big(sizeof(e) + 1);
  std::memcpy(big.data(), b, sizeof(e));
  EXPECT_FALSE(DecodeExqEntry(big, kCap).ok());
}

}  // namespace
}  // namespace inlinesec::sdk
