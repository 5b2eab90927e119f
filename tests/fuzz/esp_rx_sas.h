// The SA set shared by the esp_rx fuzz target and its seed generator: one
// outbound/inbound pair per shape the inbound parser must handle (IPv4 and
// IPv6 outer, tunnel and transport, ESN, NAT-T, ChaCha20-Poly1305), so that
// seeds produced by the model decrypt inside the fuzz target and mutations
// reach the parser past the SPI lookup and the ICV.
#pragma once

#include <vector>

#include "esp_harness.h"

namespace inlinesec::esp_fuzz {

inline std::vector<esp_test::SaSpec> FuzzSas() {
  std::vector<esp_test::SaSpec> v;
  const auto add = [&](std::uint32_t spi, abi::Mode mode, bool v6, bool esn, bool udp,
                       abi::Algo algo) {
    esp_test::SaSpec s;
    s.spi = spi;
    s.mode = mode;
    s.outer_v6 = v6;
    s.esn = esn;
    s.udp = udp;
    s.algo = algo;
    s.window = 128;
    v.push_back(s);
  };
  add(0x00010101, abi::Mode::kTunnel, false, false, false, abi::Algo::kAesGcm256);
  add(0x00010202, abi::Mode::kTransport, false, false, false, abi::Algo::kAesGcm128);
  add(0x00010303, abi::Mode::kTunnel, true, true, false, abi::Algo::kAesGcm256);
  add(0x00010404, abi::Mode::kTunnel, false, true, true, abi::Algo::kChaCha20Poly1305);
  add(0x00010505, abi::Mode::kTransport, true, false, true, abi::Algo::kAesGcm256);
  return v;
}

// Installs every SA both ways: outbound at index 1 + i, inbound at its SPI.
inline void InstallAll(esp_test::ModelHarness& h) {
  const auto sas = FuzzSas();
  for (std::size_t i = 0; i < sas.size(); ++i) {
    h.Install(sas[i], static_cast<std::uint32_t>(1 + i));
    h.Install(esp_test::Inbound(sas[i]));
  }
}

}  // namespace inlinesec::esp_fuzz
