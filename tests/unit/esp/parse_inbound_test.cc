// ParseInbound's inlined common case (esp_fast.h: IPv4 without options,
// protocol ESP, good checksum) must decide exactly as the general parser
// that handles every other form. Both are run on a valid packet, on every
// single-byte change of its first 36 bytes (with and without the header
// checksum made to fit), on every truncation, and on seeded random
// mutations; the two results must agree field by field.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <span>
#include <string>

#include "esp_fast.h"
#include "esp_harness.h"
#include "inlinesec/common/byte_reader.h"

namespace inlinesec::model::esp {
namespace {

using esp_test::Bytes;

// An IPv4 packet carrying an ESP packet of `esp_len` bytes (SPI 0x1001,
// sequence number 7), header checksum set.
Bytes Ipv4Esp(std::size_t esp_len, std::uint8_t tos = 0) {
  Bytes p(20 + esp_len, 0xA5);
  p[0] = 0x45;
  p[1] = tos;
  StoreBe16(&p[2], static_cast<std::uint16_t>(p.size()));
  StoreBe16(&p[4], 0x1234);
  StoreBe16(&p[6], 0x4000);  // DF
  p[8] = 64;
  p[9] = kProtoEsp;
  p[10] = p[11] = 0;
  const std::uint8_t addrs[8] = {192, 0, 2, 1, 198, 51, 100, 2};
  std::copy(std::begin(addrs), std::end(addrs), p.begin() + 12);
  StoreBe32(&p[20], 0x1001);
  StoreBe32(&p[24], 7);
  StoreBe16(&p[10], esp_test::Checksum({p.data(), 20}));
  return p;
}

void FixChecksum(Bytes& p) {
  if (p.size() < 20 || (p[0] & 0x0F) < 5 || p.size() < std::size_t{(p[0] & 0x0Fu) * 4}) return;
  p[10] = p[11] = 0;
  StoreBe16(&p[10], esp_test::Checksum({p.data(), std::size_t{(p[0] & 0x0Fu) * 4}}));
}

std::string Describe(const RxParse& p) {
  std::string s = "cls=" + std::to_string(static_cast<int>(p.cls)) + " v6=" + std::to_string(p.v6) +
                  " udp=" + std::to_string(p.udp) + " tos=" + std::to_string(p.outer_tos) +
                  " sport=" + std::to_string(p.sport) + " dport=" + std::to_string(p.dport) +
                  " spi=" + std::to_string(p.spi) + " seq=" + std::to_string(p.seq_low) +
                  " l3=" + std::to_string(p.l3_len) + " nh_off=" + std::to_string(p.nh_off) +
                  " esp_off=" + std::to_string(p.esp_off) + " esp_len=" + std::to_string(p.esp_len);
  return s + " src=" + esp_test::ToHex(p.src) + " dst=" + esp_test::ToHex(p.dst);
}

// Both parsers on `pkt`; returns the number of mismatches (0 or 1) so that a
// sweep stops reporting after a few.
int Compare(const Bytes& pkt, const std::string& what) {
  const std::span<const std::uint8_t> view(pkt);
  const RxParse fast = ParseInbound(view);
  const RxParse general = detail::ParseInboundGeneral(view);
  if (Describe(fast) == Describe(general)) return 0;
  ADD_FAILURE() << what << "\n inlined: " << Describe(fast) << "\n general: " << Describe(general)
                << "\n packet:  "
                << esp_test::ToHex(view.first(std::min<std::size_t>(40, view.size())));
  return 1;
}

TEST(ParseInbound, CommonCaseGivesTheGeneralParsersResult) {
  for (std::size_t esp_len :
       {std::size_t{34}, std::size_t{35}, std::size_t{36}, std::size_t{120}, std::size_t{1480}}) {
    const Bytes p = Ipv4Esp(esp_len, 0xB9);
    const RxParse r = ParseInbound(p);
    EXPECT_EQ(r.cls, RxClass::kEsp) << esp_len;
    EXPECT_EQ(r.spi, 0x1001u);
    EXPECT_EQ(r.seq_low, 7u);
    EXPECT_EQ(r.esp_off, 20u);
    EXPECT_EQ(r.esp_len, esp_len);
    EXPECT_EQ(r.outer_tos, 0xB9);
    EXPECT_EQ(Compare(p, "esp_len " + std::to_string(esp_len)), 0);
  }
  // One byte short of the smallest ESP packet: malformed in both.
  const Bytes short_esp = Ipv4Esp(33);
  EXPECT_EQ(ParseInbound(short_esp).cls, RxClass::kMalformed);
  EXPECT_EQ(Compare(short_esp, "esp_len 33"), 0);
}

TEST(ParseInbound, EverySingleByteChangeAgrees) {
  const Bytes base = Ipv4Esp(64);
  int failures = 0;
  for (std::size_t i = 0; i < 36 && failures < 5; ++i) {
    for (unsigned v = 0; v < 256 && failures < 5; ++v) {
      Bytes p = base;
      p[i] = static_cast<std::uint8_t>(v);
      failures += Compare(p, "byte " + std::to_string(i) + " = " + std::to_string(v));
      FixChecksum(p);
      failures += Compare(p, "byte " + std::to_string(i) + " = " + std::to_string(v) + ", csum");
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(ParseInbound, EveryTruncationAgrees) {
  const Bytes base = Ipv4Esp(64);
  int failures = 0;
  for (std::size_t n = 0; n <= base.size() && failures < 5; ++n)
    failures += Compare(Bytes(base.begin(), base.begin() + static_cast<std::ptrdiff_t>(n)),
                        "first " + std::to_string(n) + " bytes");
  EXPECT_EQ(failures, 0);
}

TEST(ParseInbound, RandomMutationsAgree) {
  std::mt19937 rng(20261127);  // fixed seed: the same cases every run
  const Bytes base = Ipv4Esp(64);
  int failures = 0;
  for (int k = 0; k < 20000 && failures < 5; ++k) {
    Bytes p = base;
    const int changes = 1 + static_cast<int>(rng() % 4);
    for (int c = 0; c < changes; ++c) p[rng() % 28] = static_cast<std::uint8_t>(rng());
    if (rng() % 2 == 0) FixChecksum(p);
    if (rng() % 4 == 0) p.resize(rng() % (p.size() + 1));
    failures += Compare(p, "mutation " + std::to_string(k));
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace inlinesec::model::esp
