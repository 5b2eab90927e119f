// Cross-check of the model's ESP against Scapy's independent ESP code
// (python3-scapy, scapy.layers.ipsec), in both directions, over tunnel and
// transport mode, IPv4 and IPv6, ESN and NAT-T, AES-GCM and ChaCha20-Poly1305:
//  - model -> Scapy: Scapy decrypts what Engine::Transmit produced and must
//    give back the original packet;
//  - Scapy -> model: Scapy encrypts with its own code and Engine::Receive
//    must decrypt it; encrypting with the model's sequence number and IV
//    derivation must give byte-identical ESP.
// Scapy runs as a helper process (esp_scapy_peer.py) on JSON files in a
// scratch directory; no packet leaves the process. Scapy 2.5 limits (see
// DESIGN.md): it writes UDP length 8 in IPv4 NAT-T packets (those are not fed
// back to the model; their ESP bytes are still compared), it never infers the
// ESN high half (the test passes it explicitly), and it does not check pad
// bytes (the model's own tests do). Decrypting IPv6 transport-mode NAT-T,
// Scapy leaves the UDP header in its result; the test strips it before
// comparing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "esp_harness.h"
#include "esp_interop_util.h"
#include "inlinesec/model/esp/esp.h"

namespace inlinesec::esp_interop {
namespace {

using esp_test::Bytes;
using esp_test::FromHex;
using esp_test::ToHex;
using json = nlohmann::json;

constexpr const char* kPython = "/usr/bin/python3";
constexpr std::size_t kSizes[] = {0, 61, 1000};

std::string ScapyAlgo(abi::Algo a) {
  return a == abi::Algo::kChaCha20Poly1305 ? "CHACHA20-POLY1305" : "AES-GCM";
}

// Bytes from the ESP header to the end of a model-made packet.
Bytes EspPart(const Bytes& wire, const Combo& c) {
  std::size_t off;
  if (c.mode == abi::Mode::kTunnel) {
    off = c.outer_v6 ? 40 : 20;
  } else {
    off = c.inner_v6 ? 40 : 20;
  }
  if (c.udp) off += 8;
  return Bytes(wire.begin() + static_cast<std::ptrdiff_t>(off), wire.end());
}

// Scapy 2.5 limit: decrypting an IPv6 transport-mode NAT-T packet, it sets
// the next header on the UDP layer and leaves the UDP header in the result.
bool ScapyKeepsNatTHeader(const Combo& c) {
  return c.mode == abi::Mode::kTransport && c.outer_v6 && c.udp;
}

struct ComboRun {
  Combo c;
  esp_test::SaSpec spec;
  std::vector<Bytes> inner;       // per size
  std::vector<Bytes> model_wire;  // model's ESP of inner[i]
  std::vector<std::uint64_t> seq;
};

TEST(EspScapyInterop, BothDirectionsAllCombos) {
  if (!Executable(kPython) ||
      RunCommand(std::string(kPython) + " -c 'import scapy.layers.ipsec' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-scapy is not installed (" << kPython
                 << " cannot import scapy.layers.ipsec)";
  TempDir dir;
  ASSERT_TRUE(dir.ok());

  esp_test::ModelHarness h;
  std::vector<ComboRun> runs;
  json job;
  job["sas"] = json::array();
  std::uint32_t spi = 0x00020100;
  std::uint32_t out_index = 1;
  for (const Combo& c : Combos()) {
    ComboRun r{c, SpecFor(c, spi++), {}, {}, {}};
    h.Install(r.spec, out_index);
    h.Install(esp_test::Inbound(r.spec));
    const abi::SaEntry e = esp_test::MakeSa(r.spec);
    json sa;
    sa["spi"] = r.spec.spi;
    sa["algo"] = ScapyAlgo(c.algo);
    Bytes keysalt(e.key.begin(), e.key.begin() + esp_test::KeyLen(c.algo));
    keysalt.insert(keysalt.end(), e.salt.begin(), e.salt.end());
    sa["key"] = ToHex(keysalt);
    sa["mode"] = c.mode == abi::Mode::kTunnel ? "tunnel" : "transport";
    sa["v6"] = c.outer_v6;
    sa["src"] = AddrString(e.src, c.outer_v6);
    sa["dst"] = AddrString(e.dst, c.outer_v6);
    sa["udp"] = c.udp;
    sa["sport"] = r.spec.sport;
    sa["dport"] = r.spec.dport;
    sa["esn"] = c.esn;
    sa["ops"] = json::array();
    std::uint64_t seq = r.spec.seq;
    for (std::size_t size : kSizes) {
      const Bytes inner = InnerFor(c, size);
      esp_test::PacketBuf b(inner);
      ASSERT_EQ(h.engine().Transmit(esp_test::TxFor(out_index), b.frame), abi::ExqReason::kNone);
      ++seq;
      r.inner.push_back(inner);
      r.model_wire.push_back(b.bytes());
      r.seq.push_back(seq);
      // Scapy decrypts the model's packet ...
      sa["ops"].push_back({{"op", "decrypt"},
                           {"pkt", ToHex(b.bytes())},
                           {"esn_hi", static_cast<std::uint32_t>(seq >> 32)}});
      // ... encrypts the same packet with the same seq and IV rule ...
      const auto iv = model::esp::IvForSeq(seq);
      sa["ops"].push_back({{"op", "encrypt"},
                           {"pkt", ToHex(inner)},
                           {"seq", static_cast<std::uint32_t>(seq)},
                           {"esn_hi", static_cast<std::uint32_t>(seq >> 32)},
                           {"iv", ToHex(iv)}});
      // ... and with a later seq and an IV of its own choosing.
      const std::uint64_t own = seq + 20;
      Bytes own_iv(8);
      for (std::size_t i = 0; i < 8; ++i) own_iv[i] = static_cast<std::uint8_t>(0xA0 + i + size);
      sa["ops"].push_back({{"op", "encrypt"},
                           {"pkt", ToHex(inner)},
                           {"seq", static_cast<std::uint32_t>(own)},
                           {"esn_hi", static_cast<std::uint32_t>(own >> 32)},
                           {"iv", ToHex(own_iv)}});
    }
    job["sas"].push_back(sa);
    runs.push_back(std::move(r));
    ++out_index;
  }
  const std::string job_path = dir.path() + "/job.json", out_path = dir.path() + "/out.json";
  {
    std::ofstream f(job_path);
    f << job.dump();
  }
  const int rc = RunCommand(std::string(kPython) + " " INLINESEC_SCAPY_PEER " " + job_path + " " +
                            out_path + " 2>" + dir.path() + "/stderr.txt");
  if (rc == 3)
    GTEST_SKIP() << "Scapy could not be imported: " << ReadFile(dir.path() + "/stderr.txt");
  ASSERT_EQ(rc, 0) << ReadFile(dir.path() + "/stderr.txt");
  const json results = json::parse(ReadFile(out_path));

  std::size_t k = 0, checked_dec = 0, checked_exact = 0, checked_rx = 0;
  for (const ComboRun& r : runs) {
    SCOPED_TRACE(r.c.Name());
    for (std::size_t i = 0; i < std::size(kSizes); ++i) {
      SCOPED_TRACE("size " + std::to_string(kSizes[i]));
      const json& dec = results.at(k++);
      const json& same = results.at(k++);
      const json& own = results.at(k++);
      // model -> Scapy
      ASSERT_TRUE(dec["ok"].get<bool>()) << dec.value("error", "");
      Bytes scapy_dec = FromHex(dec["pkt"].get<std::string>());
      if (ScapyKeepsNatTHeader(r.c) && scapy_dec.size() >= 48) {
        // Scapy's IPv6 transport decrypt leaves the NAT-T UDP header in
        // place: take it out (and its 8 bytes from the payload length).
        scapy_dec.erase(scapy_dec.begin() + 40, scapy_dec.begin() + 48);
        StoreBe16(&scapy_dec[4], static_cast<std::uint16_t>(LoadBe16(&scapy_dec[4]) - 8));
      }
      EXPECT_EQ(ToHex(scapy_dec), ToHex(r.inner[i]));
      ++checked_dec;
      ASSERT_TRUE(same["ok"].get<bool>()) << same.value("error", "");
      ASSERT_TRUE(own["ok"].get<bool>()) << own.value("error", "");
      // Scapy with the model's seq and IV: byte-identical ESP.
      const Bytes scapy_same = FromHex(same["pkt"].get<std::string>());
      EXPECT_EQ(ToHex(EspPart(scapy_same, r.c)), ToHex(EspPart(r.model_wire[i], r.c)));
      ++checked_exact;
      // Scapy -> model
      if (r.c.udp && !r.c.outer_v6) continue;  // Scapy's IPv4 NAT-T UDP length is 8
      esp_test::PacketBuf rx(FromHex(own["pkt"].get<std::string>()));
      const abi::RxMeta m = h.engine().Receive(rx.frame);
      ASSERT_EQ(esp_test::StatusOf(m), abi::RxStatus::kDecrypted)
          << "reason " << int(esp_test::ReasonOf(m));
      EXPECT_EQ(m.seq.get(), r.seq[i] + 20);
      EXPECT_EQ(ToHex(rx.bytes()), ToHex(r.inner[i]));
      ++checked_rx;
    }
  }
  EXPECT_EQ(k, results.size());
  std::printf("scapy interop: %zu decrypted by Scapy, %zu byte-identical, %zu decrypted by model\n",
              checked_dec, checked_exact, checked_rx);
  EXPECT_TRUE(h.DrainExq().empty());
}

}  // namespace
}  // namespace inlinesec::esp_interop
