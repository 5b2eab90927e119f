// Fuzz target: arbitrary bytes as a pcap file. The reader must return an
// error or packets whose bytes lie inside the input, never crash; what it
// accepts must survive a write/parse round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "pcap_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = inlinesec::tools::ParsePcap({data, size});
  if (!r.ok()) return 0;
  const auto again = inlinesec::tools::ParsePcap(inlinesec::tools::WritePcap(*r));
  if (!again.ok() || again->size() != r->size()) std::abort();
  for (std::size_t i = 0; i < r->size(); ++i) {
    if ((*again)[i].ip != (*r)[i].ip) std::abort();
  }
  return 0;
}
