// inlinesec-model-pcap end to end: outbound then inbound restores the input,
// runs are byte-for-byte reproducible (golden vectors), unknown SPIs become
// exception lines, and bad input leaves no output file behind.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "pcap_file.h"

namespace inlinesec::tools {
namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void Spit(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

// IPv4/UDP 10.1.0.1 -> 10.2.0.n, `len` bytes.
std::vector<std::uint8_t> Packet(std::uint8_t n, std::size_t len) {
  std::vector<std::uint8_t> p(len, 0);
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(len >> 8);
  p[3] = static_cast<std::uint8_t>(len);
  p[8] = 64;
  p[9] = 17;
  p[12] = 10, p[13] = 1, p[15] = 1;
  p[16] = 10, p[17] = 2, p[19] = n;
  std::uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (p[i] << 8) | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  p[10] = static_cast<std::uint8_t>(~sum >> 8);
  p[11] = static_cast<std::uint8_t>(~sum);
  for (std::size_t i = 28; i < len; ++i) p[i] = static_cast<std::uint8_t>(i * n);
  return p;
}

constexpr const char* kKey = "8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677";

std::string SaFile(bool with_inbound) {
  std::string s = R"({"capacity": 4096, "sas": [
    {"name": "out", "index": 3000, "dir": "out", "spi": "0x01000101", "algo": "aes-gcm-256",
     "key": ")" + std::string(kKey) +
                  R"(", "salt": "a1b2c3d4", "esn": true, "src": "192.168.77.1",
     "dst": "192.168.77.2", "match": "10.2.0.0/16"})";
  if (with_inbound) {
    s += R"(,
    {"name": "in", "index": 257, "dir": "in", "spi": "0x01000101", "algo": "aes-gcm-256",
     "key": ")" +
         std::string(kKey) +
         R"(", "salt": "a1b2c3d4", "esn": true, "replay_window": 128,
     "src": "192.168.77.1", "dst": "192.168.77.2"})";
  }
  return s + "]}";
}

class ModelPcapTool : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("inlinesec-model-pcap-" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  int Tool(const std::string& args, std::string* err = nullptr) {
    const std::string log = (dir_ / "stderr.txt").string();
    const int rc =
        std::system((std::string(MODEL_PCAP_BIN) + " " + args + " >/dev/null 2>" + log).c_str());
    if (err != nullptr) {
      const auto b = Slurp(log);
      err->assign(b.begin(), b.end());
    }
    return WEXITSTATUS(rc);
  }
  fs::path P(const std::string& name) const { return dir_ / name; }
  fs::path dir_;
};

TEST_F(ModelPcapTool, OutboundThenInboundRestoresEveryPacketAndIsReproducible) {
  std::vector<PcapPacket> in;
  for (std::uint8_t n = 1; n <= 20; ++n) {
    PcapPacket p;
    p.ts_ns = 1'000'000'000ull * n;
    p.ip = Packet(n, 28 + 7 * n);
    in.push_back(p);
  }
  const auto pcap = WritePcap(in);
  std::ofstream(P("plain.pcap"), std::ios::binary)
      .write(reinterpret_cast<const char*>(pcap.data()), static_cast<std::streamsize>(pcap.size()));
  Spit(P("sas.json"), SaFile(true));
  const std::string common = "--sas " + P("sas.json").string();
  ASSERT_EQ(Tool(common + " --direction outbound --in " + P("plain.pcap").string() + " --out " +
                 P("esp.pcap").string()),
            0);
  ASSERT_EQ(Tool(common + " --direction outbound --in " + P("plain.pcap").string() + " --out " +
                 P("esp2.pcap").string()),
            0);
  EXPECT_EQ(Slurp(P("esp.pcap")), Slurp(P("esp2.pcap"))) << "runs must be reproducible";
  auto esp = ParsePcap(Slurp(P("esp.pcap")));
  ASSERT_TRUE(esp.ok());
  ASSERT_EQ(esp->size(), in.size());
  EXPECT_EQ((*esp)[0].ip[9], 50) << "outer protocol is ESP";
  const std::size_t pad = (4 - (in[0].ip.size() + 2) % 4) % 4;
  EXPECT_EQ((*esp)[0].ip.size(), 20 + 8 + 8 + in[0].ip.size() + pad + 2 + 16)
      << "outer IPv4 + ESP header + IV + inner + pad + trailer + ICV";

  ASSERT_EQ(Tool(common + " --direction inbound --in " + P("esp.pcap").string() + " --out " +
                 P("back.pcap").string() + " --table " + P("table.json").string() +
                 " --exceptions " + P("exq.jsonl").string()),
            0);
  auto back = ParsePcap(Slurp(P("back.pcap")));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ((*back)[i].ip, in[i].ip) << i;
  const auto table = Slurp(P("table.json"));
  const std::string t(table.begin(), table.end());
  EXPECT_NE(t.find("\"packets\": 20"), std::string::npos) << t;
  EXPECT_TRUE(Slurp(P("exq.jsonl")).empty());

  // The same ESP packets twice in one capture: the second copies are
  // replays, dropped with one exception line each.
  std::vector<PcapPacket> twice = *esp;
  twice.insert(twice.end(), esp->begin(), esp->end());
  const auto twice_bytes = WritePcap(twice);
  std::ofstream(P("twice.pcap"), std::ios::binary)
      .write(reinterpret_cast<const char*>(twice_bytes.data()),
             static_cast<std::streamsize>(twice_bytes.size()));
  ASSERT_EQ(Tool(common + " --direction inbound --in " + P("twice.pcap").string() + " --out " +
                 P("back2.pcap").string() + " --exceptions " + P("exq2.jsonl").string() +
                 " --drop-bypass"),
            0);
  auto back2 = ParsePcap(Slurp(P("back2.pcap")));
  ASSERT_TRUE(back2.ok());
  EXPECT_EQ(back2->size(), in.size());
  const auto exq2 = Slurp(P("exq2.jsonl"));
  const std::string e2(exq2.begin(), exq2.end());
  EXPECT_EQ(std::count(e2.begin(), e2.end(), '\n'), static_cast<long>(in.size()));
  EXPECT_NE(e2.find("\"reason\":\"replay\""), std::string::npos) << e2;
  EXPECT_NE(e2.find("\"record\":20"), std::string::npos) << e2;
}

TEST_F(ModelPcapTool, UnknownSpiBecomesAnExceptionLine) {
  std::vector<PcapPacket> in(1);
  in[0].ts_ns = 42;
  in[0].ip = Packet(1, 60);
  const auto pcap = WritePcap(in);
  std::ofstream(P("plain.pcap"), std::ios::binary)
      .write(reinterpret_cast<const char*>(pcap.data()), static_cast<std::streamsize>(pcap.size()));
  Spit(P("out_only.json"), SaFile(false));
  ASSERT_EQ(Tool("--sas " + P("out_only.json").string() + " --direction outbound --in " +
                 P("plain.pcap").string() + " --out " + P("esp.pcap").string()),
            0);
  ASSERT_EQ(Tool("--sas " + P("out_only.json").string() + " --direction inbound --in " +
                 P("esp.pcap").string() + " --out " + P("back.pcap").string() + " --exceptions " +
                 P("exq.jsonl").string()),
            0);
  const auto lines = Slurp(P("exq.jsonl"));
  const std::string l(lines.begin(), lines.end());
  EXPECT_NE(l.find("\"reason\":\"spi_miss\""), std::string::npos) << l;
  EXPECT_NE(l.find("\"spi\":16777473"), std::string::npos) << l;
  EXPECT_NE(l.find("\"record\":0"), std::string::npos) << l;
  EXPECT_EQ(std::count(l.begin(), l.end(), '\n'), 1);
}

TEST_F(ModelPcapTool, BadInputNamesTheRecordAndWritesNothing) {
  std::vector<PcapPacket> in(2);
  in[0].ip = Packet(1, 60);
  in[1].ip = Packet(2, 60);
  auto pcap = WritePcap(in);
  pcap.resize(pcap.size() - 10);
  std::ofstream(P("cut.pcap"), std::ios::binary)
      .write(reinterpret_cast<const char*>(pcap.data()), static_cast<std::streamsize>(pcap.size()));
  Spit(P("sas.json"), SaFile(true));
  std::string err;
  EXPECT_EQ(Tool("--sas " + P("sas.json").string() + " --in " + P("cut.pcap").string() + " --out " +
                     P("o.pcap").string() + " --exceptions " + P("e.jsonl").string(),
                 &err),
            1);
  EXPECT_NE(err.find("record 1"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(P("o.pcap")));
  EXPECT_FALSE(fs::exists(P("e.jsonl")));

  // An SA the engine refuses (inbound SPI below 256) is named by its record.
  Spit(P("bad_sa.json"),
       R"({"sas": [{"name": "low", "index": 7, "dir": "in", "spi": 7, "mode": "transport",
    "algo": "aes-gcm-128", "key": "00112233445566778899aabbccddeeff", "salt": "01020304"}]})");
  const auto ok_pcap = WritePcap(in);
  std::ofstream(P("ok.pcap"), std::ios::binary)
      .write(reinterpret_cast<const char*>(ok_pcap.data()),
             static_cast<std::streamsize>(ok_pcap.size()));
  EXPECT_EQ(Tool("--sas " + P("bad_sa.json").string() + " --in " + P("ok.pcap").string() +
                     " --out " + P("o.pcap").string(),
                 &err),
            1);
  EXPECT_NE(err.find("sas[0] (low)"), std::string::npos) << err;
  EXPECT_NE(err.find("kBadSpi"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(P("o.pcap")));

  // A packet no outbound SA selects.
  Spit(P("sas.json"), SaFile(true));
  in[1].ip[17] = 3;  // 10.3.0.2 is outside the SA's match 10.2.0.0/16
  const auto unsel = WritePcap(in);
  std::ofstream(P("unsel.pcap"), std::ios::binary)
      .write(reinterpret_cast<const char*>(unsel.data()),
             static_cast<std::streamsize>(unsel.size()));
  EXPECT_EQ(Tool("--sas " + P("sas.json").string() + " --direction outbound --in " +
                     P("unsel.pcap").string() + " --out " + P("o.pcap").string(),
                 &err),
            1);
  EXPECT_NE(err.find("pcap record 1"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(P("o.pcap")));
}

}  // namespace
}  // namespace inlinesec::tools
