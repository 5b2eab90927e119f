// Cross-check of the model's ESP output against Wireshark's ESP dissector
// (tshark): the test writes the model's packets to a pcap (LINKTYPE_RAW) and
// an esp_sa UAT with the keys into a private HOME, runs tshark with ESP
// decryption and ICV checking on, and requires, for every packet, the SPI
// and sequence number, a good ICV, the pad length the model chose, the next
// header, and the inner packet's bytes in the decrypted data.
// Known limits of tshark 4.0 (DESIGN.md), skipped with that reason: it has
// no ChaCha20-Poly1305 for ESP; it authenticates only SPI || seq, so ESN
// packets decrypt but show "ICV bad" (for those the test checks decryption
// and expects icv_bad, so a fixed tshark would be noticed); it never checks
// pad bytes. This direction only: tshark cannot produce ESP.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "esp_harness.h"
#include "esp_interop_util.h"

namespace inlinesec::esp_interop {
namespace {

using esp_test::Bytes;
using esp_test::ToHex;

constexpr const char* kTshark = "/usr/bin/tshark";

struct Sent {
  Combo c;
  std::uint32_t spi;
  std::uint64_t seq;
  Bytes inner;
  std::size_t pad;
};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(ch);
    }
  }
  out.push_back(cur);
  return out;
}

std::string Unhex(std::string s) {  // "0a:0b" or "0a0b" -> "0a0b"
  std::string o;
  for (char ch : s)
    if (ch != ':') o.push_back(ch);
  return o;
}

TEST(EspTsharkInterop, DecryptsModelOutput) {
  if (!Executable(kTshark)) GTEST_SKIP() << "tshark is not installed (" << kTshark << ")";
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  esp_test::ModelHarness h;
  std::vector<Bytes> pcap;
  std::vector<Sent> sent;
  std::ostringstream uat;
  std::uint32_t spi = 0x00030100;
  std::uint32_t index = 1;
  std::size_t skipped_chacha = 0;
  for (const Combo& c : Combos()) {
    if (c.algo == abi::Algo::kChaCha20Poly1305) {
      ++skipped_chacha;  // tshark 4.0 has no ChaCha20-Poly1305 for ESP
      continue;
    }
    const esp_test::SaSpec s = SpecFor(c, spi++);
    h.Install(s, index);
    const abi::SaEntry e = esp_test::MakeSa(s);
    Bytes key(e.key.begin(), e.key.begin() + esp_test::KeyLen(c.algo));
    key.insert(key.end(), e.salt.begin(), e.salt.end());
    char spi_s[16];
    std::snprintf(spi_s, sizeof(spi_s), "0x%08x", s.spi);
    uat << "\"" << (c.outer_v6 ? "IPv6" : "IPv4") << "\",\"*\",\"*\",\"" << spi_s
        << "\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x" << ToHex(key) << "\",\"NULL\",\"\"\n";
    std::uint64_t seq = s.seq;
    for (std::size_t size : {0u, 1u, 2u, 3u, 700u}) {
      const Bytes inner = InnerFor(c, size);
      esp_test::PacketBuf b(inner);
      ASSERT_EQ(h.engine().Transmit(esp_test::TxFor(index), b.frame), abi::ExqReason::kNone);
      pcap.push_back(b.bytes());
      const std::size_t payload =
          c.mode == abi::Mode::kTunnel ? inner.size() : inner.size() - (c.inner_v6 ? 40 : 20);
      sent.push_back({c, s.spi, ++seq, inner, (4 - (payload + 2) % 4) % 4});
    }
    ++index;
  }
  const std::string conf = dir.path() + "/.config/wireshark";
  std::filesystem::create_directories(conf);
  {
    std::ofstream f(conf + "/esp_sa");
    f << uat.str();
  }
  const std::string pcap_path = dir.path() + "/model.pcap";
  ASSERT_TRUE(WritePcap(pcap_path, pcap));
  const std::string out_path = dir.path() + "/fields.txt";
  const std::string cmd = "HOME=" + dir.path() + " XDG_CONFIG_HOME=" + dir.path() + "/.config " +
                          kTshark + " -n -r " + pcap_path +
                          " -o esp.enable_encryption_decode:TRUE"
                          " -o esp.enable_authentication_check:TRUE"
                          " -o esp.do_esp_sequence_analysis:FALSE"
                          " -T fields -E separator=@ -E occurrence=a -E aggregator=,"
                          " -e frame.number -e esp.spi -e esp.sequence -e esp.icv_good"
                          " -e esp.icv_bad -e esp.pad_len -e esp.protocol -e esp.decrypted_data"
                          " > " +
                          out_path + " 2>" + dir.path() + "/stderr.txt";
  ASSERT_EQ(RunCommand(cmd), 0) << ReadFile(dir.path() + "/stderr.txt");
  const auto lines = Split(ReadFile(out_path), '\n');
  std::size_t n = 0, icv_good = 0, esn_bad = 0;
  for (const std::string& line : lines) {
    if (line.empty()) continue;
    const auto f = Split(line, '@');
    ASSERT_EQ(f.size(), 8u) << line;
    const std::size_t frame = std::stoul(f[0]);
    ASSERT_GE(frame, 1u);
    ASSERT_LE(frame, sent.size());
    const Sent& s = sent[frame - 1];
    SCOPED_TRACE(s.c.Name() + " frame " + f[0]);
    EXPECT_EQ(std::stoul(f[1], nullptr, 0), s.spi);
    EXPECT_EQ(std::stoul(f[2]), static_cast<std::uint32_t>(s.seq));
    if (s.c.esn) {
      // tshark 4.0: AAD without the ESN high half, so the ICV shows bad.
      EXPECT_EQ(f[4], "1") << "a tshark that checks ESN ICVs: update this test";
      ++esn_bad;
    } else {
      EXPECT_EQ(f[3], "1") << line;
      ++icv_good;
    }
    EXPECT_EQ(f[5], std::to_string(s.pad));
    const unsigned nh = s.c.mode == abi::Mode::kTunnel ? (s.c.inner_v6 ? 41 : 4) : 17;
    EXPECT_EQ(std::stoul(f[6], nullptr, 0), nh);
    // The decrypted data holds the payload: the whole inner packet (tunnel)
    // or the UDP datagram (transport).
    const std::size_t l3 = s.c.mode == abi::Mode::kTunnel ? 0 : (s.c.inner_v6 ? 40 : 20);
    const std::string want = ToHex({s.inner.data() + l3, s.inner.size() - l3});
    EXPECT_NE(Unhex(f[7]).find(want), std::string::npos) << "decrypted: " << f[7];
    ++n;
  }
  EXPECT_EQ(n, sent.size());
  std::printf(
      "tshark interop: %zu packets decrypted, %zu with good ICV, %zu ESN (ICV bad in tshark "
      "4.0), %zu ChaCha20-Poly1305 SAs skipped (no tshark support)\n",
      n, icv_good, esn_bad, skipped_chacha);
}

}  // namespace
}  // namespace inlinesec::esp_interop
