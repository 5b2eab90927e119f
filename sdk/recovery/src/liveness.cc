// TrafficWatch: per-Child-SA stall detection from packet counters.
#include "inlinesec/recovery/liveness.h"

namespace inlinesec::recovery {

bool TrafficWatch::Sample(std::uint64_t child_id, std::uint64_t in_packets,
                          std::uint64_t out_packets, TimePoint now) {
  auto [it, inserted] = children_.try_emplace(child_id);
  Child& c = it->second;
  if (inserted) {
    c = Child{in_packets, out_packets, now, false};
    return false;
  }
  const bool in_moved = in_packets != c.in;
  const bool out_moved = out_packets != c.out;
  c.in = in_packets;
  c.out = out_packets;
  if (in_moved) {
    c.last_in_change = now;
    c.fired = false;
    return false;
  }
  if (out_moved && !c.fired && now - c.last_in_change >= stall_after_) {
    c.fired = true;
    return true;
  }
  return false;
}

}  // namespace inlinesec::recovery
