// DPDK lib/ipsec as an in-process ESP peer for the model's interop tests:
// EAL (no hugepages, no PCI, one lcore), the crypto_openssl virtual
// cryptodev, and one rte_ipsec SA per direction in lookaside-none mode
// (rte_ipsec_pkt_crypto_prepare -> cryptodev -> rte_ipsec_pkt_process), as
// DPDK's ipsec-secgw runs it. EAL, the cryptodev and the rte_ipsec session come
// from tests/support/dpdk.
#pragma once

#include <string>
#include <vector>

#include "dpdk_libipsec_ref.h"
#include "esp_harness.h"

namespace inlinesec::esp_interop {

// Brings up EAL and the cryptodev once per process. Returns false (and a
// reason) if DPDK cannot run here.
bool DpdkUp(std::string& why);
// True if the cryptodev offers the SA's AEAD.
bool DpdkSupports(abi::Algo algo);

class DpdkSa {
 public:
  DpdkSa() = default;
  DpdkSa(const DpdkSa&) = delete;
  DpdkSa& operator=(const DpdkSa&) = delete;

  // Builds the rte_ipsec SA equivalent to the model SA `spec` (its direction
  // decides outbound/inbound). `inner_v6` picks the tunnel's next protocol.
  // Outbound: the first packet uses spec.seq + 1, as in the model.
  bool Init(const esp_test::SaSpec& spec, bool inner_v6, std::string& err);
  // Runs one packet through prepare -> cryptodev -> process. False (with a
  // reason) if DPDK refused or failed the packet.
  bool Process(const esp_test::Bytes& in, esp_test::Bytes& out, std::string& err);

 private:
  bool outbound_ = false;
  bool udp_ = false;
  dpdk_ref::IpsecSession session_;
};

}  // namespace inlinesec::esp_interop
