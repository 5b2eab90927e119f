// Fuzz target for the engine's inbound ESP parser (Engine::Receive) with a
// few SAs installed. Input byte 0 selects the mode: even = the rest is a
// packet from the wire, straight into Receive; odd = the rest is a host
// packet, sent through Transmit with outbound SA (byte0 >> 1) mod n and, if
// the engine produced ESP, received back and checked to round-trip. The
// first mode reaches every parse and failure path; the second reaches the
// code behind a good ICV (padding, next header, inner packet checks) and the
// outbound parser with arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "esp_harness.h"
#include "esp_rx_sas.h"

namespace {

using inlinesec::esp_test::ModelHarness;
using inlinesec::esp_test::PacketBuf;

ModelHarness& Harness() {
  static ModelHarness* h = [] {
    auto* p = new ModelHarness();
    inlinesec::esp_fuzz::InstallAll(*p);
    return p;
  }();
  return *h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  ModelHarness& h = Harness();
  const std::span<const std::uint8_t> pkt(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    // Exact-size buffer: any read past the packet is caught by ASan.
    PacketBuf buf(pkt, 0, 0);
    const inlinesec::abi::RxMeta m = h.engine().Receive(buf.frame);
    const auto st = inlinesec::esp_test::StatusOf(m);
    if (st == inlinesec::abi::RxStatus::kBypass || st == inlinesec::abi::RxStatus::kIkeToHost) {
      if (buf.frame.len != pkt.size() ||
          (!pkt.empty() && std::memcmp(buf.frame.bytes().data(), pkt.data(), pkt.size()) != 0))
        std::abort();  // must be untouched
    }
  } else {
    const std::size_t n = inlinesec::esp_fuzz::FuzzSas().size();
    const std::uint32_t index = static_cast<std::uint32_t>(1 + (data[0] >> 1) % n);
    PacketBuf buf(pkt);
    if (h.engine().Transmit(inlinesec::esp_test::TxFor(index), buf.frame) ==
        inlinesec::abi::ExqReason::kNone) {
      PacketBuf rx(buf.frame.bytes(), 0, 0);
      const inlinesec::abi::RxMeta m = h.engine().Receive(rx.frame);
      // What the model sends, the model must take back, unless a seed from
      // the corpus already moved the inbound window past this number.
      if (inlinesec::esp_test::StatusOf(m) != inlinesec::abi::RxStatus::kDecrypted &&
          inlinesec::esp_test::ReasonOf(m) != inlinesec::abi::ExqReason::kReplay)
        std::abort();
    }
  }
  h.DrainExq();
  return 0;
}
