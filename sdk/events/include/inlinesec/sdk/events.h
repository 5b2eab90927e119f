// Exception events: the engine's exception ring turned into typed events.
// DecodeExqEntry treats each 128-byte entry as untrusted (a buggy card is an
// attacker too): wrong size, reason 0 or beyond kLast, reserved bits, a
// snapshot longer than 60 bytes, an SA index outside the table, IPv4
// addresses with stray bytes or ports without UDP encapsulation make it
// reject the entry. ExceptionConsumer polls a batch from a Device (or waits
// on an eventfd in epoll first), decodes, counts and skips corrupt entries,
// and reports ring overflow from the kCntExqDropped counter.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "inlinesec/abi/exq.h"
#include "inlinesec/common/status.h"
#include "inlinesec/driver/device.h"
#include "inlinesec/sdk/ip_address.h"

namespace inlinesec::sdk {

enum class EventKind : std::uint8_t {
  kSpiMiss,       // inbound packet for an SPI with no SA (peer, ports, SPI)
  kReplay,        // inbound replay or too old
  kIcvFail,       // inbound integrity failure
  kSoftLifetime,  // byte/packet soft limit reached
  kHardLifetime,  // byte/packet hard limit reached (SA stopped)
  kSeqOverflow,   // outbound sequence space exhausted (SA stopped)
  kMalformed,     // unparseable packet
  kTxNoSa,        // outbound packet named an invalid SA (e.g. during resync)
  kRingOverflow,  // the engine dropped exception entries (ring full)
};
inline constexpr std::size_t kEventKinds = 9;
std::string_view EventKindName(EventKind k);

// One decoded exception entry. Every field has passed the decoder's checks.
struct PacketException {
  abi::ExqReason reason = abi::ExqReason::kNone;
  bool outbound = false;
  bool udp_encap = false;
  std::uint32_t spi = 0;
  std::optional<std::uint32_t> sa_index;  // absent when the engine named none
  std::uint16_t orig_len = 0;
  std::uint64_t seq = 0;
  std::uint64_t timestamp_ns = 0;  // engine time
  IpAddress src;
  IpAddress dst;
  std::uint16_t sport = 0;  // UDP ports when udp_encap
  std::uint16_t dport = 0;
  std::uint8_t snap_len = 0;
  std::array<std::uint8_t, abi::kExqSnapBytes> snap{};
  std::span<const std::uint8_t> snapshot() const { return {snap.data(), snap_len}; }
};

struct Event {
  EventKind kind = EventKind::kSpiMiss;
  PacketException packet;     // all kinds but kRingOverflow
  std::uint64_t dropped = 0;  // kRingOverflow: entries dropped since the last report
};

// Decodes one raw exception entry. `sa_capacity` bounds sa_index.
[[nodiscard]] Result<PacketException> DecodeExqEntry(std::span<const std::uint8_t> raw,
                                                     std::uint32_t sa_capacity);
EventKind KindFor(abi::ExqReason reason);

struct ConsumerStats {
  std::uint64_t entries = 0;           // raw entries read from the ring
  std::uint64_t corrupt = 0;           // rejected by the decoder and skipped
  std::uint64_t overflow_dropped = 0;  // from kCntExqDropped
  std::array<std::uint64_t, kEventKinds> by_kind{};
};

class ExceptionConsumer {
 public:
  using Sink = std::function<void(const Event&)>;

  explicit ExceptionConsumer(driver::Device& device);

  // Reads, decodes and appends up to `max` events to `out`; corrupt entries
  // are counted and skipped. Acknowledges the exception interrupt first and
  // drains fd(), so a wakeup is never lost. Returns the events appended.
  [[nodiscard]] Result<std::size_t> Poll(std::vector<Event>& out, std::size_t max = 256);
  // Poll() and hand every event to each sink (in the caller's thread).
  [[nodiscard]] Result<std::size_t> PollAndDispatch(std::size_t max = 256);
  void AddSink(Sink sink) { sinks_.push_back(std::move(sink)); }

  // Readable when the engine raised an interrupt (put it in epoll, then call
  // Poll). -1 if the transport has no such fd: poll periodically instead.
  int fd() const;
  const ConsumerStats& stats() const { return stats_; }

 private:
  driver::Device& device_;
  std::vector<Sink> sinks_;
  std::vector<abi::ExqEntry> raw_;
  std::vector<Event> scratch_;
  ConsumerStats stats_;
  std::uint32_t epoch_ = 0;
  std::uint64_t dropped_seen_ = 0;
};

}  // namespace inlinesec::sdk
