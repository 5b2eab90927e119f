// TrafficWatch: the on-demand liveness trigger. A Child SA whose outbound
// packet count keeps growing while its inbound count has not moved for
// `stall_after` suggests the peer lost its SAs (or died); the gateway then
// runs a liveness check (an empty INFORMATIONAL, RFC 7296 §1.4) before the
// periodic DPD would. Fires once per stall; inbound traffic re-arms it.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "inlinesec/common/clock.h"

namespace inlinesec::recovery {

class TrafficWatch {
 public:
  explicit TrafficWatch(Duration stall_after) : stall_after_(stall_after) {}

  // Feeds a Child SA's current packet counters. Returns true when a liveness
  // check should start now.
  bool Sample(std::uint64_t child_id, std::uint64_t in_packets, std::uint64_t out_packets,
              TimePoint now);
  void Forget(std::uint64_t child_id) { children_.erase(child_id); }
  std::size_t size() const { return children_.size(); }

 private:
  struct Child {
    std::uint64_t in = 0, out = 0;
    TimePoint last_in_change{};
    bool fired = false;
  };
  Duration stall_after_;
  std::unordered_map<std::uint64_t, Child> children_;
};

}  // namespace inlinesec::recovery
