// Regenerates the seed corpus of the esp_rx fuzz target
// (tests/fuzz/corpus/esp_rx/): real ESP packets the model produced with the
// fuzz SAs (Receive mode, byte 0 = 0x00), one per SA and inner family and a
// few sizes, plus IKE, keepalive and plain packets, and host packets for the
// Transmit mode (byte 0 odd). Usage: fuzz_esp_rx_seedgen <corpus dir>.
#include <cstdio>
#include <fstream>
#include <string>

#include "esp_harness.h"
#include "esp_rx_sas.h"

namespace {

using inlinesec::esp_test::Bytes;

void Write(const std::string& dir, const std::string& name, std::uint8_t mode, const Bytes& pkt) {
  std::ofstream f(dir + "/" + name, std::ios::binary);
  f.put(static_cast<char>(mode));
  f.write(reinterpret_cast<const char*>(pkt.data()), static_cast<std::streamsize>(pkt.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  namespace t = inlinesec::esp_test;
  t::ModelHarness h;
  inlinesec::esp_fuzz::InstallAll(h);
  const auto sas = inlinesec::esp_fuzz::FuzzSas();
  for (std::size_t i = 0; i < sas.size(); ++i) {
    for (bool inner_v6 : {false, true}) {
      if (sas[i].mode == inlinesec::abi::Mode::kTransport && inner_v6 != sas[i].outer_v6) continue;
      for (std::size_t size : {0u, 13u, 200u}) {
        const Bytes inner = inner_v6 ? t::Ipv6Udp(size) : t::Ipv4Udp(size);
        t::PacketBuf b(inner);
        if (h.engine().Transmit(t::TxFor(static_cast<std::uint32_t>(1 + i)), b.frame) !=
            inlinesec::abi::ExqReason::kNone)
          return 1;
        const std::string tag =
            "sa" + std::to_string(i) + (inner_v6 ? "_in6_" : "_in4_") + std::to_string(size);
        Write(dir, "rx_" + tag, 0x00, b.bytes());
        if (size == 13) Write(dir, "tx_" + tag, static_cast<std::uint8_t>(1 + 2 * i), inner);
      }
    }
  }
  Bytes ike = t::Ipv4Udp(40);
  inlinesec::StoreBe16(&ike[22], 4500);
  for (int k = 0; k < 4; ++k) ike[28 + k] = 0;
  Write(dir, "rx_ike", 0x00, ike);
  Bytes ka = t::Ipv4Udp(1);
  inlinesec::StoreBe16(&ka[22], 4500);
  ka[28] = 0xFF;
  Write(dir, "rx_keepalive", 0x00, ka);
  Write(dir, "rx_plain", 0x00, t::Ipv6Udp(20));
  return 0;
}
