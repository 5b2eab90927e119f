// Fuzz target of the exception-entry decoder: arbitrary bytes as exception
// ring entries. Byte 0 picks the SA table capacity (2^4 .. 2^24); the rest is
// cut into 128-byte entries (and one short tail). Whatever the bytes, the
// decoder must not crash, and every entry it accepts must obey the ABI's
// bounds, so nothing downstream ever sees an impossible event.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "inlinesec/abi/exq.h"
#include "inlinesec/sdk/events.h"

namespace {

void Require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint32_t capacity = 1u << (4 + data[0] % 21);
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  while (!rest.empty()) {
    const std::size_t n =
        rest.size() < inlinesec::abi::kExqEntryBytes ? rest.size() : inlinesec::abi::kExqEntryBytes;
    auto p = inlinesec::sdk::DecodeExqEntry(rest.first(n), capacity);
    if (p.ok()) {
      Require(n == inlinesec::abi::kExqEntryBytes);
      Require(p->reason != inlinesec::abi::ExqReason::kNone &&
              p->reason <= inlinesec::abi::ExqReason::kLast);
      Require(p->snap_len <= inlinesec::abi::kExqSnapBytes);
      Require(!p->sa_index || *p->sa_index < capacity);
      for (std::size_t i = p->snap_len; i < p->snap.size(); ++i) Require(p->snap[i] == 0);
      Require(p->udp_encap || (p->sport == 0 && p->dport == 0));
      (void)inlinesec::sdk::KindFor(p->reason);
    }
    rest = rest.subspan(n);
  }
  return 0;
}
